import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import SSHConfig from 'ssh-config';
import { FtpfwdError } from './errors.js';
import { applyOption, isSupportedKey, type SshOptions } from './options.js';

/**
 * Reads an OpenSSH client config and applies what it says for `host` (Host and Match host blocks,
 * first value wins). Keys OpenSSH knows but ftpfwd does not implement are returned, not fatal: real
 * ~/.ssh/config files are full of them (ForwardAgent, ControlMaster, …) and ssh ignores the
 * irrelevant ones just as well.
 */
export function applySshConfig(
  opts: SshOptions,
  file: string,
  host: string,
  home = homedir(),
): { ignored: string[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new FtpfwdError(
      'config',
      `cannot read ssh config ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  let parsed: ReturnType<typeof SSHConfig.parse>;
  try {
    parsed = SSHConfig.parse(text);
  } catch (err) {
    throw new FtpfwdError('config', `cannot parse ssh config ${file}: ${String(err)}`);
  }
  // matchExec: false — a config file must never make us run programs.
  const computed = parsed.compute(host, { ignoreCase: true, matchExec: false }) as Record<
    string,
    string | string[]
  >;
  const ignored: string[] = [];
  for (const [key, value] of Object.entries(computed)) {
    if (key === 'host' || key === 'match') continue;
    if (!isSupportedKey(key)) {
      ignored.push(key);
      continue;
    }
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) applyOption(opts, key, String(v), `${file} (${key})`, home);
  }
  return { ignored };
}
