export {
  DEFAULT_SCRYPT,
  formatPasswordHash,
  hashPassword,
  type PasswordHash,
  parsePasswordFile,
  parsePasswordHash,
  setPasswordLine,
  verifyPassword,
} from '@ftpfwd/ftp-proxy/cli';
export {
  type AuthorizedKey,
  type AuthorizedKeysResult,
  type KeyRestrictions,
  parseAuthorizedKeys,
} from './authorized-keys.js';
export { type ConfigFile, loadConfigFile, parseConfig } from './config.js';
export { OPEN_FAILURE, SESSION_REFUSED_MESSAGE } from './connection.js';
export { excerpt, type LineProblem, SshdError, type SshdErrorCode } from './errors.js';
export { FtpPermitTable } from './ftp-permits.js';
export {
  defaultStateDir,
  fingerprintOf,
  generateKeyPair,
  type HostKey,
  type KeyKind,
  type KeyPairText,
  loadHostKey,
  loadOrCreateStateKey,
  parseHostKey,
  writeNewKey,
} from './host-keys.js';
export { type AddressPatternList, parseAddressPatterns } from './host-patterns.js';
export { type NetBlockSize, netblockOf, parseNetBlockSize } from './netblock.js';
export { type CheckResult, DEFAULT_PASSWORD_CHECKS, PasswordChecks } from './password-checks.js';
export { DEFAULT_PENALTIES, type PenaltyKind, type PenaltyOptions, SourcePenalties } from './penalties.js';
export {
  type AllowTcpForwarding,
  type GatewayPorts,
  matchPermitListen,
  matchPermitOpen,
  type PermitListenRule,
  type PermitOpenRule,
  parsePermitListen,
  parsePermitListenList,
  parsePermitOpen,
  parsePermitOpenList,
  resolveBindAddress,
} from './policy.js';
export {
  createSshServer,
  DEFAULT_LISTEN,
  type ReloadableOptions,
  type ServerStats,
  type SshServer,
} from './server.js';
export { DEFAULT_MAX_STARTUPS, type MaxStartups, parseMaxStartups, StartupLimiter } from './startups.js';
export * from './types.js';
