/** The matrix as Markdown: one table per server (client × operation), then every failure with its reason. */
import { OPS, type Op } from './clients/index.js';
import type { CellRecord, CellStatus, MatrixResult } from './matrix.js';
import { PATHS, type PathKind } from './tunnel.js';

const SYMBOL: Record<CellStatus, string> = { ok: '✓', fail: '✗', na: 'n/a', error: '!' };
const SHORT: Record<PathKind, string> = {
  direct: 'direct',
  'ftpfwd+ftpfwd-sshd': 'ftpfwd-sshd',
  'ftpfwd+openssh': 'openssh',
};

export interface Summary {
  cells: number;
  directOk: number;
  directFail: number;
  tunnelOk: number;
  tunnelFail: number;
  tunnelNa: number;
  errors: number;
}

export function summarize(r: MatrixResult): Summary {
  const s: Summary = {
    cells: 0,
    directOk: 0,
    directFail: 0,
    tunnelOk: 0,
    tunnelFail: 0,
    tunnelNa: 0,
    errors: 0,
  };
  for (const c of r.cells) {
    s.cells++;
    if (c.status === 'error') s.errors++;
    else if (c.path === 'direct') c.status === 'ok' ? s.directOk++ : s.directFail++;
    else if (c.status === 'ok') s.tunnelOk++;
    else if (c.status === 'fail') s.tunnelFail++;
    else s.tunnelNa++;
  }
  return s;
}

/** "✓ ✓ ✗" for the selected paths of one cell; "✗ n/a" when it fails without the tunnel. */
function cellText(recs: CellRecord[], paths: PathKind[]): string {
  const by = new Map(recs.map((r) => [r.path, r]));
  const d = by.get('direct');
  if (d && d.status === 'fail' && paths.length > 1) {
    const t = paths.filter((p) => p !== 'direct').map((p) => by.get(p));
    if (t.every((x) => !x || x.status === 'na')) return '✗ n/a';
  }
  return paths.map((p) => (by.get(p) ? SYMBOL[(by.get(p) as CellRecord).status] : '·')).join(' ');
}

export function toMarkdown(r: MatrixResult, meta: { commit?: string } = {}): string {
  const paths = PATHS.filter((p) => r.options.paths.includes(p));
  const s = summarize(r);
  const out: string[] = [];
  out.push('# ftpfwd peer matrix', '');
  out.push(
    `Run ${r.started}${meta.commit ? ` at ${meta.commit}` : ''}, ${fmtSecs(r.seconds)}: ${s.cells} cells; ` +
      `without the tunnel ${s.directOk} pass, ${s.directFail} fail; through ftpfwd ${s.tunnelOk} pass, ` +
      `**${s.tunnelFail} fail**, ${s.tunnelNa} n/a${s.errors ? `, ${s.errors} not run (server did not start)` : ''}.`,
    '',
  );
  out.push(
    `Each cell reads ${paths.map((p) => `\`${SHORT[p]}\``).join(' · ')} (${paths.map(describe).join('; ')}). ` +
      '✓ passes, ✗ fails, `✗ n/a`: fails without the tunnel, so its tunnel cells are not judged; ' +
      'n/a in a tunnel position: that tunnel run failed, and so did the direct cell in one of up to three more runs (a flaky baseline); ' +
      '! not run (the server did not start); blank: the client has no such operation. ' +
      'A tunnel cell fails only when the same cell passes without the tunnel.',
    '',
  );
  for (const info of r.servers) {
    const recs = r.cells.filter((c) => c.server === info.kind);
    out.push(`## ${info.kind} ${info.version}`.trimEnd(), '');
    out.push(
      `Login: ${info.login}. Passive ports: ${Object.entries(info.passive)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}.`,
    );
    if (info.error) out.push('', `**Not run / broken:** ${info.error}`);
    out.push('');
    const ops = OPS.filter((op) => recs.some((c) => c.op === op));
    const clients = [...new Set(recs.map((c) => c.client))];
    if (!ops.length) continue;
    out.push(`| client | ${ops.join(' | ')} |`, `|---|${ops.map(() => '---').join('|')}|`);
    for (const client of clients) {
      const row = ops.map((op) => {
        const cell = recs.filter((c) => c.client === client && c.op === op);
        return cell.length ? cellText(cell, paths) : '';
      });
      out.push(`| ${client} | ${row.join(' | ')} |`);
    }
    out.push('');
  }
  const fails = r.cells.filter((c) => c.path !== 'direct' && c.status === 'fail');
  out.push(`## Failures through ftpfwd (${fails.length})`, '');
  if (!fails.length) out.push('None.');
  for (const c of fails) out.push(`- ${c.server} · ${c.client} · ${c.op} · ${c.path}: ${c.detail}`);
  out.push('');
  const directFails = r.cells.filter((c) => c.path === 'direct' && c.status === 'fail');
  out.push(`## Failing without the tunnel (${directFails.length}; their tunnel cells are n/a)`, '');
  if (!directFails.length) out.push('None.');
  for (const c of directFails) out.push(`- ${c.server} · ${c.client} · ${c.op}: ${c.detail}`);
  out.push('');
  const errs = r.servers.filter((x) => x.error);
  if (errs.length) {
    out.push('## Servers that did not run', '');
    for (const x of errs) out.push(`- ${x.kind}: ${x.error}`);
    out.push('');
  }
  out.push('## Server quirks', '');
  for (const info of r.servers) {
    out.push(`- **${info.kind}**${info.version ? ` (${info.version})` : ''}:`);
    for (const q of info.quirks) out.push(`  - ${q}`);
  }
  out.push('');
  return out.join('\n');
}

function describe(p: PathKind): string {
  switch (p) {
    case 'direct':
      return 'FTP client → server';
    case 'ftpfwd+ftpfwd-sshd':
      return 'client → ftpfwd -L ftp/ → ftpfwd-sshd → server';
    case 'ftpfwd+openssh':
      return 'client → ftpfwd -L ftp/ → OpenSSH sshd → server';
  }
}

function fmtSecs(s: number): string {
  return s >= 90 ? `${Math.floor(s / 60)} min ${Math.round(s % 60)} s` : `${s} s`;
}

export function opsOf(r: MatrixResult): Op[] {
  return OPS.filter((op) => r.cells.some((c) => c.op === op));
}
