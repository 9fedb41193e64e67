// A private OpenSSH sshd (own config, own host key, 127.0.0.1, random port, no PAM, no pid file)
// and the OpenSSH client's plain -L forwarding, the reference every tunnel is compared with.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { startProcess, waitPort } from '../procs.mjs';

export const CIPHER = 'aes128-gcm@openssh.com';

export async function startOpensshd({ dir, port, hostKey, authorizedKeys }) {
  if (!existsSync('/usr/sbin/sshd')) throw new Error('/usr/sbin/sshd not found: run tools/setup-machine');
  // sshd's privilege separation chroots into /run/sshd and refuses to start without it.
  if (!existsSync('/run/sshd')) mkdirSync('/run/sshd', { mode: 0o755, recursive: true });
  const conf = join(dir, 'sshd_config');
  writeFileSync(
    conf,
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      'PidFile none',
      'UsePAM no',
      'StrictModes no',
      'PermitRootLogin prohibit-password',
      `AuthorizedKeysFile ${authorizedKeys}`,
      'PubkeyAuthentication yes',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      `Ciphers ${CIPHER}`,
      'AllowTcpForwarding yes',
      'GatewayPorts no',
      'X11Forwarding no',
      'PermitTTY no',
      'UseDNS no',
      'MaxStartups 200',
      'LogLevel ERROR',
      '',
    ].join('\n'),
  );
  const proc = startProcess('sshd', '/usr/sbin/sshd', ['-D', '-e', '-f', conf], {
    logFile: join(dir, 'logs', 'sshd.log'),
  });
  await waitPort(port, '127.0.0.1', proc);
  return proc;
}

export function writeKnownHosts(path, port, hostKeyPub) {
  const [type, key] = readFileSync(hostKeyPub, 'utf8').trim().split(/\s+/);
  writeFileSync(path, `[127.0.0.1]:${port} ${type} ${key}\n`);
  return path;
}

export const sshUser = () => userInfo().username;

/**
 * ssh -N with plain -L forwards: the FTP control port and every passive data port, all on
 * bindHost (127.0.0.2), so an EPSV client that connects to its control host reaches the data
 * port through the tunnel, never around it (vsftpd listens on 127.0.0.1 only).
 */
export async function startSshL({ dir, sshPort, key, knownHosts, bindHost, forwards, waitFor }) {
  const args = [
    '-N',
    '-F',
    '/dev/null',
    '-p',
    String(sshPort),
    '-i',
    key,
    '-o',
    'BatchMode=yes',
    '-o',
    `UserKnownHostsFile=${knownHosts}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    `Ciphers=${CIPHER}`,
    '-o',
    'ExitOnForwardFailure=yes',
    '-o',
    'ControlMaster=no',
  ];
  for (const [listenPort, host, port] of forwards)
    args.push('-L', `${bindHost}:${listenPort}:${host}:${port}`);
  args.push(`${sshUser()}@127.0.0.1`);
  const proc = startProcess('ssh -L', '/usr/bin/ssh', args, { logFile: join(dir, 'logs', 'ssh-L.log') });
  await waitPort(waitFor, bindHost, proc);
  return proc;
}
