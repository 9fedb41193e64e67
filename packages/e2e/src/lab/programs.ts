/**
 * The programs a host runs, by kind: their names in logs, where they listen, and (commands.ts) the
 * command lines. This half is pure and needs no addresses, so the loader checks with it too.
 */
import { type ProgramKind, type ProgramSpec, programKinds } from './schema.js';

export function programKind(p: ProgramSpec): ProgramKind {
  const k = programKinds.find((kind) => p[kind] !== undefined);
  if (!k) throw new Error('a program without a kind passed validation');
  return k;
}

export const FTP_SERVERS: readonly ProgramKind[] = ['ftp-srv', 'vsftpd'];
export const SSH_SERVERS: readonly ProgramKind[] = ['ftpfwd-sshd', 'openssh-sshd'];

export const DEFAULT_SSH_PORT = 2222;
const DEFAULT_LISTEN: Partial<Record<ProgramKind, string>> = {
  'ftp-srv': '127.0.0.1:21',
  vsftpd: '127.0.0.1:21',
  'ftpfwd-sshd': `0.0.0.0:${DEFAULT_SSH_PORT}`,
  'openssh-sshd': `0.0.0.0:${DEFAULT_SSH_PORT}`,
};
const DEFAULT_NAME: Record<ProgramKind, string> = {
  'ftp-srv': 'ftp-srv',
  vsftpd: 'vsftpd',
  'ftpfwd-sshd': 'sshd',
  'openssh-sshd': 'openssh',
  ftpfwd: 'ftpfwd',
  command: 'command',
};

export const DEFAULT_PASV_PORTS = '30000-30999';

/** The program's own settings, whatever its kind. */
export function programOptions(p: ProgramSpec): Record<string, unknown> & { name?: string | undefined } {
  return p[programKind(p)] as Record<string, unknown> & { name?: string };
}

/**
 * The names programs prefix their log lines with ([name] …): `name:` if given, else by kind, with
 * several ftpfwd on one host numbered ftpfwd1, ftpfwd2, … in order.
 */
export function programNames(programs: readonly ProgramSpec[]): string[] {
  const ftpfwds = programs.filter((p) => programKind(p) === 'ftpfwd').length;
  let n = 0;
  return programs.map((p) => {
    const kind = programKind(p);
    const given = programOptions(p).name;
    if (kind === 'ftpfwd') n++;
    if (given) return given;
    return kind === 'ftpfwd' && ftpfwds > 1 ? `ftpfwd${n}` : DEFAULT_NAME[kind];
  });
}

/** ADDRESS:PORT a server program listens on (its `listen:` or the default); undefined for clients. */
export function listenOf(p: ProgramSpec): { address: string; port: number } | undefined {
  const kind = programKind(p);
  const text = (programOptions(p).listen as string | undefined) ?? DEFAULT_LISTEN[kind];
  if (!text) return undefined;
  const i = text.lastIndexOf(':');
  return { address: text.slice(0, i), port: Number(text.slice(i + 1)) };
}

export function pasvRange(p: ProgramSpec): { min: number; max: number } {
  const [min, max] = ((programOptions(p)['pasv-ports'] as string | undefined) ?? DEFAULT_PASV_PORTS)
    .split('-')
    .map(Number);
  return { min: min ?? 30000, max: max ?? 30999 };
}

/** Where uploads go, relative to the FTP root: vsftpd refuses a root its anonymous user can write. */
export function uploadDir(kind: ProgramKind): string {
  return kind === 'vsftpd' ? 'pub/' : '';
}

/** `ftp/[BIND:]PORT:HOST:HOSTPORT` → where it listens (BIND defaults to 127.0.0.1, or all with -g). */
export function forwardListener(
  spec: string,
  gateway: boolean,
): { address: string; port: number; ftp: boolean } | undefined {
  const m = /^(ftp\/|tcp\/)?(?:([^:]+|\[[^\]]+\]):)?(\d+):[^:]+:\d+$/.exec(spec.trim());
  if (!m) return undefined;
  const address = m[2] ?? (gateway ? '0.0.0.0' : '127.0.0.1');
  return { address, port: Number(m[3]), ftp: m[1] === 'ftp/' };
}
