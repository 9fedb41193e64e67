/** What both command-line programs share: config files, questions to the user, OpenSSH patterns. */
export {
  ConfigError,
  type ConfigSource,
  parseConfigSource,
  readConfigSource,
  validateConfig,
} from './config-source.js';
export { wildcardMatch } from './patterns.js';
export { createPrompter, type Prompter, type PrompterOptions } from './prompt.js';
