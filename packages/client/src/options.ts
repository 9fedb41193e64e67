import { homedir } from 'node:os';
import { join } from 'node:path';
import {
  type AlgorithmKind,
  AlgorithmListError,
  checkAlgorithmList,
  parseRekeyLimit,
  type RekeyLimit,
} from '@ftpfwd/ftp-proxy/transport';
import { parseDestination } from './destination.js';
import { FtpfwdError } from './errors.js';
import { type ForwardSpec, parseForwardSpec } from './forward-spec.js';

/**
 * The OpenSSH options ftpfwd understands, shared by `-o Key=Value`, `-F ssh_config` and `--config`.
 * Names are matched case-insensitively, as OpenSSH does; values are validated here so a typo fails
 * at start with a message naming the key, never later in the middle of a session.
 */
export type StrictHostKeyChecking = 'yes' | 'accept-new' | 'no' | 'ask';

/** One `ProxyJump` hop: `[user@]host[:port]` or `ssh://[user@]host[:port]`. */
export interface JumpHop {
  user: string | undefined;
  host: string;
  port: number | undefined;
}

/**
 * How the connection is made: ProxyJump and ProxyCommand exclude each other, and whichever comes
 * first wins, `none` included (OpenSSH's rule).
 */
export type ProxySetting =
  | { kind: 'none' }
  | { kind: 'jump'; hops: JumpHop[] }
  | { kind: 'command'; command: string };

export type AddressFamily = 'any' | 'inet' | 'inet6';

export interface SshOptions {
  hostName?: string;
  port?: number;
  user?: string;
  identityFiles: string[];
  identitiesOnly?: boolean;
  identityAgent?: string;
  strictHostKeyChecking?: StrictHostKeyChecking;
  userKnownHostsFiles?: string[];
  globalKnownHostsFiles?: string[];
  batchMode?: boolean;
  connectTimeout?: number;
  serverAliveInterval?: number;
  serverAliveCountMax?: number;
  rekeyLimit?: RekeyLimit;
  exitOnForwardFailure?: boolean;
  gatewayPorts?: boolean;
  passwordAuthentication?: boolean;
  kbdInteractiveAuthentication?: boolean;
  pubkeyAuthentication?: boolean;
  numberOfPasswordPrompts?: number;
  proxy?: ProxySetting;
  bindAddress?: string;
  addressFamily?: AddressFamily;
  connectionAttempts?: number;
  /** OpenSSH algorithm lists as written (checked when applied), by kind. */
  algorithms: Partial<Record<AlgorithmKind, string>>;
  localForwards: ForwardSpec[];
  remoteForwards: ForwardSpec[];
}

export function emptySshOptions(): SshOptions {
  return { identityFiles: [], algorithms: {}, localForwards: [], remoteForwards: [] };
}

/** Keys we implement, lower-case → canonical spelling. */
const KEYS = new Map(
  [
    'HostName',
    'Port',
    'User',
    'IdentityFile',
    'IdentitiesOnly',
    'IdentityAgent',
    'StrictHostKeyChecking',
    'UserKnownHostsFile',
    'GlobalKnownHostsFile',
    'BatchMode',
    'ConnectTimeout',
    'ServerAliveInterval',
    'ServerAliveCountMax',
    'RekeyLimit',
    'ExitOnForwardFailure',
    'GatewayPorts',
    'PasswordAuthentication',
    'KbdInteractiveAuthentication',
    'ChallengeResponseAuthentication',
    'PubkeyAuthentication',
    'NumberOfPasswordPrompts',
    'LocalForward',
    'RemoteForward',
    'ProxyJump',
    'ProxyCommand',
    'BindAddress',
    'AddressFamily',
    'ConnectionAttempts',
    'Ciphers',
    'KexAlgorithms',
    'MACs',
    'HostKeyAlgorithms',
    'PubkeyAcceptedAlgorithms',
    'PubkeyAcceptedKeyTypes',
  ].map((k) => [k.toLowerCase(), k]),
);

/** The algorithm kind each list option sets (PubkeyAcceptedKeyTypes: its name before OpenSSH 8.5). */
const ALGORITHM_KEYS: Record<string, AlgorithmKind> = {
  Ciphers: 'cipher',
  KexAlgorithms: 'kex',
  MACs: 'mac',
  HostKeyAlgorithms: 'hostkey',
  PubkeyAcceptedAlgorithms: 'pubkey',
  PubkeyAcceptedKeyTypes: 'pubkey',
};

/** `-J` / ProxyJump: `none`, or hops separated by commas, first hop first. */
export function parseProxyJump(value: string): ProxySetting {
  const v = value.trim();
  if (v.toLowerCase() === 'none') return { kind: 'none' };
  const hops = v.split(',').map((h) => h.trim());
  if (hops.some((h) => h === ''))
    throw new FtpfwdError(
      'config',
      `ProxyJump "${value}": empty hop; expected [user@]host[:port][,…] or none`,
    );
  return {
    kind: 'jump',
    hops: hops.map((h) => {
      // [user@]host[:port] is the ssh:// form without its scheme (with [brackets] for IPv6).
      const d = parseDestination(h.startsWith('ssh://') ? h : `ssh://${h}`);
      return { user: d.user, host: d.host, port: d.port };
    }),
  };
}

export function isSupportedKey(key: string): boolean {
  return KEYS.has(key.toLowerCase());
}

function yesNo(key: string, value: string): boolean {
  const v = value.toLowerCase();
  if (v === 'yes' || v === 'true') return true;
  if (v === 'no' || v === 'false') return false;
  throw new FtpfwdError('config', `${key}: expected yes or no, got "${value}"`);
}

function uint(key: string, value: string, min: number, max: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max)
    throw new FtpfwdError('config', `${key}: expected a number ${min}-${max}, got "${value}"`);
  return Number(value);
}

/** Expands `~` and OpenSSH's `%d` (home), `%u` (local user) tokens; relative paths stay relative. */
export function expandPath(p: string, home = homedir()): string {
  let out = p;
  if (out === '~' || out.startsWith('~/')) out = join(home, out.slice(1));
  out = out
    .replace(/%d/g, home)
    .replace(/%u/g, process.env.USER ?? 'root')
    .replace(/%%/g, '%');
  return out;
}

function pathList(value: string, home: string): string[] {
  return value
    .split(/\s+/)
    .filter((s) => s !== '')
    .map((s) => expandPath(s.replace(/^"(.*)"$/, '$1'), home));
}

/**
 * Applies one option with OpenSSH's "first value wins" rule (list-valued keys accumulate).
 * `origin` goes into error messages (`-o`, `ssh_config line`, …).
 */
export function applyOption(
  opts: SshOptions,
  rawKey: string,
  value: string,
  origin: string,
  home = homedir(),
): void {
  const key = KEYS.get(rawKey.toLowerCase());
  if (!key) throw new FtpfwdError('usage', `${origin}: unknown option "${rawKey}"`);
  const v = value.trim();
  const set = <K extends keyof SshOptions>(k: K, val: SshOptions[K]) => {
    if (opts[k] === undefined) opts[k] = val;
  };
  try {
    switch (key) {
      case 'HostName':
        set('hostName', v);
        break;
      case 'Port':
        set('port', uint(key, v, 1, 65535));
        break;
      case 'User':
        set('user', v);
        break;
      case 'IdentityFile':
        opts.identityFiles.push(...pathList(v, home));
        break;
      case 'IdentitiesOnly':
        set('identitiesOnly', yesNo(key, v));
        break;
      case 'IdentityAgent':
        set('identityAgent', v === 'SSH_AUTH_SOCK' ? v : expandPath(v, home));
        break;
      case 'StrictHostKeyChecking': {
        const l = v.toLowerCase();
        const m: Record<string, StrictHostKeyChecking> = {
          yes: 'yes',
          true: 'yes',
          'accept-new': 'accept-new',
          no: 'no',
          false: 'no',
          off: 'no',
          ask: 'ask',
        };
        const s = m[l];
        if (!s)
          throw new FtpfwdError('config', `${key}: expected yes, accept-new, no or ask, got "${value}"`);
        set('strictHostKeyChecking', s);
        break;
      }
      case 'UserKnownHostsFile':
        set('userKnownHostsFiles', pathList(v, home));
        break;
      case 'GlobalKnownHostsFile':
        set('globalKnownHostsFiles', pathList(v, home));
        break;
      case 'BatchMode':
        set('batchMode', yesNo(key, v));
        break;
      case 'ConnectTimeout':
        set('connectTimeout', v.toLowerCase() === 'none' ? 0 : uint(key, v, 0, 86400));
        break;
      case 'ServerAliveInterval':
        set('serverAliveInterval', uint(key, v, 0, 86400));
        break;
      case 'ServerAliveCountMax':
        set('serverAliveCountMax', uint(key, v, 0, 1000));
        break;
      case 'RekeyLimit':
        try {
          set('rekeyLimit', parseRekeyLimit(v));
        } catch (err) {
          throw new FtpfwdError('config', `${key}: ${(err as Error).message}`);
        }
        break;
      case 'ExitOnForwardFailure':
        set('exitOnForwardFailure', yesNo(key, v));
        break;
      case 'GatewayPorts':
        set('gatewayPorts', yesNo(key, v));
        break;
      case 'PasswordAuthentication':
        set('passwordAuthentication', yesNo(key, v));
        break;
      case 'KbdInteractiveAuthentication':
      case 'ChallengeResponseAuthentication':
        set('kbdInteractiveAuthentication', yesNo(key, v));
        break;
      case 'PubkeyAuthentication':
        set('pubkeyAuthentication', yesNo(key, v));
        break;
      case 'NumberOfPasswordPrompts':
        set('numberOfPasswordPrompts', uint(key, v, 0, 100));
        break;
      case 'LocalForward':
        opts.localForwards.push(parseForwardSpec('L', v));
        break;
      case 'RemoteForward':
        opts.remoteForwards.push(parseForwardSpec('R', v));
        break;
      case 'ProxyJump':
        set('proxy', parseProxyJump(v));
        break;
      case 'ProxyCommand':
        set('proxy', v.toLowerCase() === 'none' ? { kind: 'none' } : { kind: 'command', command: v });
        break;
      case 'BindAddress':
        if (/\s/.test(v)) throw new FtpfwdError('config', `${key}: expected an address, got "${value}"`);
        set('bindAddress', v);
        break;
      case 'AddressFamily': {
        const f = v.toLowerCase();
        if (f !== 'any' && f !== 'inet' && f !== 'inet6')
          throw new FtpfwdError('config', `${key}: expected any, inet or inet6, got "${value}"`);
        set('addressFamily', f);
        break;
      }
      case 'ConnectionAttempts':
        set('connectionAttempts', uint(key, v, 1, 1000));
        break;
      case 'Ciphers':
      case 'KexAlgorithms':
      case 'MACs':
      case 'HostKeyAlgorithms':
      case 'PubkeyAcceptedAlgorithms':
      case 'PubkeyAcceptedKeyTypes': {
        const kind = ALGORITHM_KEYS[key] as AlgorithmKind;
        if (opts.algorithms[kind] !== undefined) break;
        try {
          opts.algorithms[kind] = checkAlgorithmList(kind, v);
        } catch (err) {
          if (err instanceof AlgorithmListError) throw new FtpfwdError('config', err.message);
          throw err;
        }
        break;
      }
    }
  } catch (err) {
    if (err instanceof FtpfwdError && !err.message.startsWith(origin))
      throw new FtpfwdError(err.code, `${origin}: ${err.message}`);
    throw err;
  }
}

/** Splits `-o Key=Value` or `-o "Key Value"`. */
export function parseDashO(arg: string): [string, string] {
  const m = /^\s*([A-Za-z]+)\s*(?:=|\s)\s*(.*)$/.exec(arg);
  if (!m || m[2] === undefined || m[2] === '')
    throw new FtpfwdError('usage', `-o "${arg}": expected Key=Value`);
  return [m[1] as string, m[2]];
}
