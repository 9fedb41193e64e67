// Starts every contender on loopback and describes each as { id, label, host, port, procs }:
// the FTP endpoint a client uses and the processes whose CPU and memory the bench reports.
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { makeKey } from './fixtures.mjs';
import { freePort, portIsFree } from './procs.mjs';
import { startFtpfwd, startFtpfwdSshd } from './servers/ftpfwd.mjs';
import { startFtpSrv } from './servers/ftpsrv.mjs';
import { startOpensshd, startSshL, writeKnownHosts } from './servers/openssh.mjs';
import { startVsftpd } from './servers/vsftpd.mjs';

export const CONTENDERS = {
  'ssh-L': 'OpenSSH ssh -L + sshd, plain stream (reference)',
  ftpfwd: 'ftpfwd + ftpfwd-sshd',
  'ftpfwd+opensshd': 'ftpfwd + OpenSSH sshd',
  vsftpd: 'vsftpd direct (no tunnel)',
  'ftp-srv': 'ftp-srv direct (no tunnel)',
};

const REF_PASV_PORTS = 4;

// The bench's own passive port ranges sit below Linux's ephemeral range (32768+), where random
// "listen on 0" ports of other programs never land, and away from 30000-30999 (acceptance checks).
async function reserveRange(count, hosts, avoid = []) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 20000 + Math.floor(Math.random() * (9000 - count));
    let ok = avoid.every(([lo, hi]) => base + count - 1 < lo || base > hi);
    for (let p = base; ok && p < base + count; p++)
      for (const h of hosts) if (!(await portIsFree(p, h))) ok = false;
    if (ok) return [base, base + count - 1];
  }
  throw new Error(`no ${count} consecutive free ports found in 20000-29999`);
}

export async function startStack({ dir, repoRoot, bins, wanted, pasvCount }) {
  const need = (id) => wanted.includes(id);
  const keys = join(dir, 'keys');
  const userKey = await makeKey(join(keys, 'user'));
  const hostKey = await makeKey(join(keys, 'host'));
  const authorizedKeys = join(keys, 'authorized_keys');
  copyFileSync(`${userKey}.pub`, authorizedKeys);

  const [pasvMin, pasvMax] = await reserveRange(pasvCount, ['127.0.0.1', '127.0.0.2']);
  const vsftpdPort = await freePort();
  const vsftpd = await startVsftpd({ dir, port: vsftpdPort, pasvMin, pasvMax });
  const ftpServer = { role: 'vsftpd', proc: vsftpd };
  const contenders = [];

  if (need('ssh-L') || need('ftpfwd+opensshd')) {
    const sshdPort = await freePort();
    const sshd = await startOpensshd({ dir, port: sshdPort, hostKey, authorizedKeys });
    const knownHosts = writeKnownHosts(join(keys, 'known_hosts_openssh'), sshdPort, `${hostKey}.pub`);
    if (need('ssh-L')) {
      // Its own vsftpd with a few passive ports: OpenSSH walks every channel, listeners included, on
      // each turn of its loop, so forwarding a 400-port range would slow the reference down.
      const [refMin, refMax] = await reserveRange(
        REF_PASV_PORTS,
        ['127.0.0.1', '127.0.0.2'],
        [[pasvMin, pasvMax]],
      );
      const refPort = await freePort();
      const refVsftpd = await startVsftpd({
        dir,
        port: refPort,
        pasvMin: refMin,
        pasvMax: refMax,
        name: 'vsftpd-ref',
      });
      const ctl = await freePort('127.0.0.2');
      const forwards = [[ctl, '127.0.0.1', refPort]];
      for (let p = refMin; p <= refMax; p++) forwards.push([p, '127.0.0.1', p]);
      const ssh = await startSshL({
        dir,
        sshPort: sshdPort,
        key: userKey,
        knownHosts,
        bindHost: '127.0.0.2',
        forwards,
        waitFor: ctl,
      });
      contenders.push({
        id: 'ssh-L',
        host: '127.0.0.2',
        port: ctl,
        procs: [
          { role: 'ssh', proc: ssh },
          { role: 'sshd', proc: sshd },
          { role: 'vsftpd', proc: refVsftpd },
        ],
        active: false,
        concurrent: false,
      });
    }
    if (need('ftpfwd+opensshd')) {
      const listenPort = await freePort();
      const client = await startFtpfwd({
        dir,
        bins,
        name: 'ftpfwd (to OpenSSH sshd)',
        sshPort: sshdPort,
        key: userKey,
        knownHosts,
        listenPort,
        ftpPort: vsftpdPort,
      });
      contenders.push({
        id: 'ftpfwd+opensshd',
        host: '127.0.0.1',
        port: listenPort,
        procs: [{ role: 'ftpfwd', proc: client }, { role: 'sshd', proc: sshd }, ftpServer],
        active: true,
        concurrent: true,
      });
    }
  }
  if (need('ftpfwd')) {
    const sshPort = await freePort();
    const sshd = await startFtpfwdSshd({ dir, bins, port: sshPort, hostKey, authorizedKeys });
    const knownHosts = writeKnownHosts(join(keys, 'known_hosts_ftpfwd'), sshPort, `${hostKey}.pub`);
    const listenPort = await freePort();
    const client = await startFtpfwd({
      dir,
      bins,
      name: 'ftpfwd',
      sshPort,
      key: userKey,
      knownHosts,
      listenPort,
      ftpPort: vsftpdPort,
    });
    contenders.push({
      id: 'ftpfwd',
      host: '127.0.0.1',
      port: listenPort,
      procs: [{ role: 'ftpfwd', proc: client }, { role: 'ftpfwd-sshd', proc: sshd }, ftpServer],
      active: true,
      concurrent: true,
    });
  }
  if (need('vsftpd'))
    contenders.push({
      id: 'vsftpd',
      host: '127.0.0.1',
      port: vsftpdPort,
      procs: [ftpServer],
      active: true,
      concurrent: true,
    });
  if (need('ftp-srv')) {
    const port = await freePort();
    const [lo, hi] = await reserveRange(Math.max(pasvCount, 64), ['127.0.0.1'], [[pasvMin, pasvMax]]);
    const srv = await startFtpSrv({ dir, repoRoot, port, pasvMin: lo, pasvMax: hi });
    // ftp-srv's 226 reply comes ~40 ms after each transfer (measured: Nagle on its control
    // connection): 1000 files would take minutes and say nothing about the tunnels.
    contenders.push({
      id: 'ftp-srv',
      host: '127.0.0.1',
      port,
      procs: [{ role: 'ftp-srv', proc: srv }],
      active: true,
      concurrent: true,
      perChannel: false,
    });
  }
  // Keep the order of CONTENDERS so tables read the same every time.
  const order = Object.keys(CONTENDERS);
  contenders.sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id));
  for (const c of contenders) c.label = CONTENDERS[c.id];
  return contenders;
}
