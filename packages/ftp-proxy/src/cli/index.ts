/**
 * What both command-line programs share: config files, questions to the user, OpenSSH patterns,
 * the password file.
 */
export {
  ConfigError,
  type ConfigSource,
  parseConfigSource,
  readConfigSource,
  validateConfig,
} from './config-source.js';
export {
  DEFAULT_SCRYPT,
  formatPasswordHash,
  hashPassword,
  isValidUserName,
  type LineProblem,
  type PasswordFileResult,
  type PasswordHash,
  parsePasswordFile,
  parsePasswordHash,
  readPasswordFile,
  type ScryptParams,
  setPasswordLine,
  verifyPassword,
} from './password-file.js';
export { wildcardMatch } from './patterns.js';
export { createPrompter, type Prompter, type PrompterOptions } from './prompt.js';
