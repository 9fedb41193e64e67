// Command-line flags of the bench; --smoke swaps in tiny sizes for CI.
import { parseArgs } from 'node:util';

// sftp-bridge: ftpfwd -L sftp/ against OpenSSH's sftp, on a stack of its own (scenarios/sftp-bridge.mjs)
const SCENARIOS = ['download', 'upload', 'active', 'small', 'concurrency', 'latency', 'sftp-bridge'];
const CONTENDER_IDS = ['ssh-L', 'ftpfwd', 'ftpfwd+opensshd', 'vsftpd', 'ftp-srv'];

export const USAGE = `usage: node tools/bench/bench.mjs [options]
  --size N            big file for download/upload/active (default 1G; K/M/G suffixes, binary)
  --runs N            runs per contender, alternating contenders (default 3)
  --small-files N     files in the many-small-files scenario (default 1000)
  --small-size N      size of each small file (default 4K)
  --sessions N        concurrent sessions (default 100)
  --session-size N    file each session downloads (default 8M)
  --latency N         transfers timed for set-up latency (default 1000)
  --scenarios LIST    comma list of ${SCENARIOS.join(',')} (default all)
  --contenders LIST   comma list of ${CONTENDER_IDS.join(',')} (default all)
  --out DIR           where <date>.json and <date>.svg go (default bench-results; none in --smoke)
  --smoke             tiny sizes, 1 run, no targets: checks every scenario works and bytes are right
  --profile DIR       run ftpfwd and ftpfwd-sshd with node --cpu-prof, profiles into DIR
  --keep              keep the temp dir (logs, configs) for a look afterwards
  -h, --help`;

export function parseSize(text) {
  const m = /^(\d+(?:\.\d+)?)([KMG]i?B?)?$/i.exec(String(text).trim());
  if (!m) throw new Error(`size "${text}": expected a number with optional K, M or G suffix`);
  const mult = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 }[(m[2] ?? '').charAt(0).toUpperCase()];
  return Math.round(Number(m[1]) * mult);
}

function list(text, allowed, what) {
  const items = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = items.filter((i) => !allowed.includes(i));
  if (bad.length)
    throw new Error(`unknown ${what} ${bad.join(', ')}: expected some of ${allowed.join(', ')}`);
  return items;
}

function positive(name, text) {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} ${text}: expected a positive integer`);
  return n;
}

export function parseOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      size: { type: 'string' },
      runs: { type: 'string' },
      'small-files': { type: 'string' },
      'small-size': { type: 'string' },
      sessions: { type: 'string' },
      'session-size': { type: 'string' },
      latency: { type: 'string' },
      scenarios: { type: 'string' },
      contenders: { type: 'string' },
      out: { type: 'string' },
      smoke: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      profile: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  const smoke = values.smoke;
  const d = smoke
    ? {
        size: '1M',
        runs: '1',
        small: '20',
        smallSize: '4K',
        sessions: '5',
        sessionSize: '256K',
        latency: '20',
      }
    : {
        size: '1G',
        runs: '3',
        small: '1000',
        smallSize: '4K',
        sessions: '100',
        sessionSize: '8M',
        latency: '1000',
      };
  const opts = {
    help: values.help,
    smoke,
    keep: values.keep,
    profile: values.profile,
    size: parseSize(values.size ?? d.size),
    runs: positive('runs', values.runs ?? d.runs),
    smallFiles: positive('small-files', values['small-files'] ?? d.small),
    smallSize: parseSize(values['small-size'] ?? d.smallSize),
    sessions: positive('sessions', values.sessions ?? d.sessions),
    sessionSize: parseSize(values['session-size'] ?? d.sessionSize),
    latency: positive('latency', values.latency ?? d.latency),
    scenarios: values.scenarios ? list(values.scenarios, SCENARIOS, 'scenario') : SCENARIOS,
    contenders: values.contenders ? list(values.contenders, CONTENDER_IDS, 'contender') : CONTENDER_IDS,
    out: values.out ?? (smoke ? null : 'bench-results'),
  };
  if (opts.smallFiles > 9999) throw new Error('--small-files: at most 9999');
  if (opts.sessions > 300) throw new Error('--sessions: at most 300 (curl --parallel-max limit)');
  return opts;
}
