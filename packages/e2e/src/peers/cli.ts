/**
 * npm run peers [-- options]: runs the peer matrix and writes peers-results/latest.md and .json.
 * Exits 0 when no cell fails through ftpfwd, 1 when one does, 2 on a usage or setup error.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CLIENT_MODES, OPS, type Op } from './clients/index.js';
import { DEFAULT_OPTIONS, type MatrixOptions, QUICK, runMatrix, selectCells } from './matrix.js';
import { killAllStarted, REPO } from './procs.js';
import { summarize, toMarkdown } from './report.js';
import { SERVER_KINDS, type ServerKind } from './servers/index.js';
import { PATHS, type PathKind } from './tunnel.js';

const HELP = `usage: npm run peers -- [options]

Runs FTP servers × FTP clients × modes × operations, without the tunnel and through
ftpfwd with ftpfwd-sshd and with OpenSSH's sshd, all on loopback. Needs the workspace
built (npm run build) and tools/setup-machine's packages.

  --servers LIST   ${SERVER_KINDS.join(',')}
  --clients LIST   client names (curl,lftp,ftplib,wget,basic-ftp) or client modes
                   ("curl port", "lftp active", "ftplib passive", …; also curl-port)
  --ops LIST       ${OPS.join(',')}
  --paths LIST     direct,ftpfwd-sshd,openssh (direct always runs when a tunnel path is chosen)
  --quick          the bounded subset npm test runs (vsftpd,pyftpdlib × curl epsv/port, ftplib; list,retr,stor)
  --run-na         also run tunnel cells that fail without the tunnel (still shown n/a)
  --timeout SECS   per-cell budget (default 60; race20 gets twice that)
  --out DIR        where latest.md / latest.json go (default peers-results)
  -v               ftpfwd -v (its log lines end up in failure reasons' context)
  --list           print the selected cells and exit
  -h, --help`;

function list(v: string | undefined): string[] | undefined {
  return v
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function pathOf(name: string): PathKind {
  const m: Record<string, PathKind> = {
    direct: 'direct',
    'ftpfwd-sshd': 'ftpfwd+ftpfwd-sshd',
    'ftpfwd+ftpfwd-sshd': 'ftpfwd+ftpfwd-sshd',
    sshd: 'ftpfwd+ftpfwd-sshd',
    openssh: 'ftpfwd+openssh',
    'ftpfwd+openssh': 'ftpfwd+openssh',
  };
  const p = m[name];
  if (!p) throw new Error(`unknown path "${name}" (direct, ftpfwd-sshd, openssh)`);
  return p;
}

function options(argv: string[]): (MatrixOptions & { out: string; list: boolean }) | undefined {
  const { values } = parseArgs({
    args: argv,
    options: {
      servers: { type: 'string' },
      clients: { type: 'string' },
      ops: { type: 'string' },
      paths: { type: 'string' },
      quick: { type: 'boolean' },
      'run-na': { type: 'boolean' },
      timeout: { type: 'string' },
      out: { type: 'string' },
      v: { type: 'boolean' },
      list: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(HELP);
    return undefined;
  }
  const base = values.quick ? { ...DEFAULT_OPTIONS, ...QUICK } : DEFAULT_OPTIONS;
  const servers = (list(values.servers) ?? base.servers) as ServerKind[];
  for (const s of servers) if (!SERVER_KINDS.includes(s)) throw new Error(`unknown server "${s}"`);
  const clients = (list(values.clients) ?? base.clients).map((c) =>
    c.replace(/-(?=[a-z]+$)/, ' ').replace('basic ftp', 'basic-ftp'),
  );
  for (const c of clients)
    if (!CLIENT_MODES.some((m) => m.client === c || m.name === c)) throw new Error(`unknown client "${c}"`);
  const ops = (list(values.ops) ?? base.ops) as Op[];
  for (const o of ops) if (!OPS.includes(o)) throw new Error(`unknown operation "${o}"`);
  const chosen = (list(values.paths) ?? [...PATHS]).map(pathOf);
  // the rule needs the baseline: a tunnel cell is judged against the same cell without the tunnel
  const paths = PATHS.filter((p) => p === 'direct' || chosen.includes(p));
  const timeout = values.timeout ? Number(values.timeout) : 60;
  if (!(timeout > 0)) throw new Error(`bad --timeout "${values.timeout}"`);
  return {
    servers,
    clients,
    ops,
    paths,
    runNa: values['run-na'] ?? false,
    cellTimeoutMs: timeout * 1000,
    ftpfwdArgs: values.v ? ['-v'] : [],
    out: values.out ?? join(REPO, 'peers-results'),
    list: values.list ?? false,
  };
}

function commit(): string | undefined {
  try {
    const head = execFileSync('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'], {
      encoding: 'utf8',
    }).trim();
    const dirty = execFileSync('git', ['-C', REPO, 'status', '--porcelain', '--untracked-files=no'], {
      encoding: 'utf8',
    }).trim();
    return dirty ? `${head} (with uncommitted changes)` : head;
  } catch {
    return undefined;
  }
}

async function main(): Promise<number> {
  let opts: ReturnType<typeof options>;
  try {
    opts = options(process.argv.slice(2));
  } catch (e) {
    console.error(`peers: ${(e as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (!opts) return 0;
  const cells = selectCells(opts);
  if (opts.list) {
    for (const s of opts.servers)
      for (const c of cells) console.log(`${s} · ${c.mode.name} · ${c.op} · ${opts.paths.join(', ')}`);
    return 0;
  }
  if (!cells.length) {
    console.error('peers: no cells selected (check --clients and --ops)');
    return 2;
  }
  console.error(
    `peers: ${opts.servers.length} servers × ${cells.length} client/op cells × ${opts.paths.length} paths = ${opts.servers.length * cells.length * opts.paths.length} cells`,
  );
  const at = commit(); // what the run tests: the tree as it was when the run started
  const result = await runMatrix({ ...opts, progress: (l) => console.error(l) });
  const md = toMarkdown(result, { commit: at });
  mkdirSync(opts.out, { recursive: true });
  writeFileSync(join(opts.out, 'latest.md'), md);
  writeFileSync(join(opts.out, 'latest.json'), `${JSON.stringify({ commit: at, ...result }, null, 2)}\n`);
  console.log(md);
  const s = summarize(result);
  console.error(`peers: wrote ${join(opts.out, 'latest.md')} and latest.json (${result.seconds} s)`);
  return s.tunnelFail > 0 ? 1 : s.errors > 0 ? 2 : 0;
}

for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => {
    console.error(`peers: ${sig}: stopping every server and client started`);
    killAllStarted();
    process.exit(130);
  });

main().then(
  (code) => {
    process.exitCode = code;
  },
  (e) => {
    console.error(`peers: ${(e as Error).stack ?? e}`);
    process.exitCode = 2;
  },
);
