/**
 * Topology 9, FTP in front and SFTP behind: C, a host on a LAN that speaks only FTP, uses ftpfwd on
 * LAN host G (`-L sftp/G:2121:/srv --sftp-login FILE --sftp-jail`); G reaches S through a NAT
 * gateway. S runs nothing but OpenSSH's sshd with internal-sftp and every kind of forwarding off:
 * no FTP server anywhere, so each byte C moves went through SFTP. On the NAT's WAN side only SSH.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { basicFtpStep, cliPath, curlSteps, ftpfwd, MODES, openSshd } from '../ftp.js';
import { useTopology } from '../suite.js';
import { expectMode, expectOnlySsh } from '../test-support/checks.js';
import { check, keysFor, markers, mounts, runFiles, SSH_PORT } from '../test-support/scenario.js';

const LOGIN = { user: 'payroll', password: 'e2e-sftp-bridge-pw' };

describe('topology 9: FTP-only client → ftpfwd sftp/ gateway → NAT → SSH-only server (SFTP)', () => {
  const topo = useTopology('sftp-bridge', async (t) => {
    const wan = await t.network('wan');
    const lan = await t.network('lan');
    const nat = await t.natGateway({ name: 'nat', lan, wan, captureWan: true });
    const sAddr = wan.subnet.host(20);
    const gAddr = lan.subnet.host(20);
    const cAddr = lan.subnet.host(21);
    const files = runFiles(t, ['c']);
    const keys = keysFor(t, [sAddr]);

    const sshdConfig = t.dir('sshd-config');
    const sshd = openSshd(keys, sshdConfig, SSH_PORT);
    await t.host({
      name: 's',
      networks: [wan],
      addresses: [sAddr],
      mounts: [
        mounts.keys(keys),
        mounts.srv(files),
        { source: sshdConfig, target: '/config', readOnly: true },
      ],
      plan: { setup: sshd.setup, background: [sshd.background] },
    });

    // The gateway's FTP logins: a password file written by the real `ftpfwd-sshd passwd`.
    const gwConfig = t.dir('gw-config');
    const passwd = spawnSync(
      process.execPath,
      [cliPath('ftpfwd-sshd'), 'passwd', '--file', join(gwConfig, 'ftp.passwd'), LOGIN.user],
      { input: `${LOGIN.password}\n`, encoding: 'utf8' },
    );
    if (passwd.status !== 0) throw new Error(`ftpfwd-sshd passwd: ${passwd.stderr}`);
    await t.host({
      name: 'g',
      networks: [lan],
      addresses: [gAddr],
      defaultVia: nat.lanAddress,
      mounts: [mounts.keys(keys), { source: gwConfig, target: '/config', readOnly: true }],
      plan: {
        background: [
          ftpfwd(keys, {
            server: sAddr,
            port: SSH_PORT,
            user: 'root',
            forwards: [`sftp/${gAddr}:2121:/srv`],
            extra: ['--sftp-login', '/config/ftp.passwd', '--sftp-jail'],
          }),
        ],
      },
    });

    const c = files.clients.get('c');
    if (!c) throw new Error('no files for c');
    const download = c.download.path.split('/').pop() as string;
    const upload = `/up/${c.upload.path.split('/').pop()}`;
    const url = `ftp://${LOGIN.user}:${LOGIN.password}@${gAddr}:2121`;
    const client = await t.host({
      name: 'c',
      networks: [lan],
      addresses: [cAddr],
      mounts: mounts.client(files),
      plan: {
        steps: [
          ...curlSteps({ url, activeAddress: cAddr, upload, download, tag: 'c', modes: MODES }),
          basicFtpStep({ tag: 'c', host: gAddr, port: 2121, download, upload, login: LOGIN }),
          {
            name: 'c-wrong-password',
            argv: ['curl', '-sS', '--max-time', '30', `ftp://${LOGIN.user}:nope@${gAddr}:2121/`],
          },
          {
            name: 'c-escape',
            argv: ['curl', '-sS', '--fail', '--max-time', '30', `${url}/%2e%2e/%2e%2e/etc/passwd`],
          },
        ],
      },
    });
    return { nat, sAddr, files, steps: await client.steps() };
  });

  it.each(MODES)('%s: download, upload and LIST with curl through SFTP, sha256 equal', (mode) => {
    const { steps, files } = topo();
    expectMode(steps, mode, check(files, 'c'));
  });

  it('a passive basic-ftp session with the password file’s login works', () => {
    const { steps, files } = topo();
    expectMode(steps, 'basic-ftp', check(files, 'c'));
  });

  it('a wrong password is refused (530: curl exit 67), a path out of /srv is not served', () => {
    const { steps } = topo();
    expect(steps.get('c-wrong-password')?.code).toBe(67);
    const outside = steps.get('c-escape');
    expect(outside?.code, 'curl fetched a file outside the jail').not.toBe(0);
    expect(outside?.stdout).not.toContain('root:');
  });

  it("the NAT's WAN side carries only SSH, and no file marker in clear", async () => {
    const { nat, sAddr, files } = topo();
    expectOnlySsh(await nat.wanPackets(), { address: sAddr, port: SSH_PORT }, markers(files));
  });
});
