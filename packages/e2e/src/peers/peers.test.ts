/**
 * The bounded part of the peer matrix that `npm test` runs: two real servers (vsftpd, pyftpdlib) ×
 * curl EPSV/PORT and Python's ftplib passive/active × LIST, RETR, STOR (4 MiB, sha256 both ways),
 * without the tunnel and through ftpfwd with ftpfwd-sshd and with OpenSSH. The whole matrix is
 * `npm run peers` (packages/e2e/src/peers/README.md).
 *
 * Below, the issue-14 scenarios that failed through ftpfwd before their fixes: each was picked on
 * servers where it passes without the tunnel, so its direct cells must pass too (a scenario whose
 * every cell went n/a would prove nothing).
 */
import { describe, expect, it } from 'vitest';
import type { ClientMode, Op } from './clients/index.js';
import { type MatrixOptions, QUICK, runMatrix } from './matrix.js';
import type { ServerKind } from './servers/index.js';
import { PATHS } from './tunnel.js';

function problems(r: Awaited<ReturnType<typeof runMatrix>>): string[] {
  return r.cells
    .filter((c) => c.status !== 'ok')
    .map((c) => `${c.server} · ${c.client} · ${c.op} · ${c.path}: ${c.status} ${c.detail}`);
}

describe('peer matrix: the subset npm test runs', () => {
  it('vsftpd + pyftpdlib × curl epsv/port + ftplib passive/active × LIST/RETR/STOR: direct and through both tunnels', async () => {
    const r = await runMatrix({ ...QUICK, paths: [...PATHS] });
    expect(r.cells.length).toBe(2 * 4 * 3 * 3);
    expect(problems(r).join('\n')).toBe('');
  }, 120_000);
});

type Scenario = [string, { servers: ServerKind[]; clients: ClientMode['name'][]; ops: Op[] }];

const ISSUE14: Scenario[] = [
  [
    'ftplib abort() mid-RETR, then NOOP and PWD get their own replies (ABOR sent MSG_OOB)',
    {
      // inetutils-ftpd honours only an urgent ABOR mid-transfer, and urgent data cannot cross
      // SSH: it sees its transfer finish instead, because ftpfwd drains the data connection the
      // client reset (it exits on the EPIPE of a write into a cut one).
      servers: ['vsftpd', 'pyftpdlib', 'inetutils-ftpd'],
      clients: ['ftplib passive', 'ftplib active'],
      ops: ['abort'],
    },
  ],
  [
    "lftp's abort of a running get (Telnet IP + Synch + ABOR), then a listing on the same connection",
    {
      servers: ['proftpd'],
      clients: ['lftp passive', 'lftp active'],
      ops: ['abort'],
    },
  ],
  [
    'curl PORT/EPRT LIST + small RETR × 20 against pure-ftpd: the 226 must not overtake the data connection',
    {
      servers: ['pure-ftpd'],
      clients: ['curl port', 'curl eprt'],
      ops: ['race20'],
    },
  ],
  [
    'curl -g over [::1] in EPRT, and an IPv4 PORT to an IPv6 server',
    {
      servers: ['vsftpd', 'pyftpdlib'],
      clients: ['curl eprt', 'curl port'],
      ops: ['ipv6-active', 'v4-to-v6-active'],
    },
  ],
];

describe('issue 14 scenarios: ABOR, the active-mode race, IPv6 active mode', () => {
  it.each(ISSUE14)(
    '%s',
    async (_name, sel) => {
      const opts: MatrixOptions = { ...sel, paths: [...PATHS] };
      const r = await runMatrix(opts);
      // only tunnel failures count: a cell that fails without the tunnel is n/a, not a failure
      const tunnelFails = r.cells.filter((c) => c.path !== 'direct' && c.status === 'fail');
      expect(tunnelFails.map((c) => `${c.server} · ${c.client} · ${c.op} · ${c.path}: ${c.detail}`)).toEqual(
        [],
      );
      expect(r.cells.filter((c) => c.status === 'error').map((c) => c.detail)).toEqual([]);
      const direct = r.cells.filter((c) => c.path === 'direct');
      expect(direct.length).toBeGreaterThan(0);
      expect(
        direct.filter((c) => c.status !== 'ok').map((c) => `${c.server} · ${c.client}: ${c.detail}`),
      ).toEqual([]);
    },
    300_000,
  );
});
