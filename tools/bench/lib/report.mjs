// Turns the medians into the printed table, the target verdicts, and the JSON record.
import { round } from './measure.mjs';

const fmt = (v) =>
  v === undefined || v === null || Number.isNaN(v)
    ? '-'
    : String(Number(v.toFixed(Math.abs(v) < 10 ? 3 : 1)));

function cpuText(m) {
  const per = m.cpuPerGiB ?? m.cpu;
  if (!per) return '';
  return Object.entries(per)
    .map(([role, s]) => `${role} ${s.toFixed(2)}`)
    .join(' · ');
}

function extraText(id, m) {
  if (id === 'latency') return `p99 ${m.p99} ms, ${m.transfers} set-ups`;
  if (id === 'small') return `${m.files} files`;
  if (id === 'concurrency') {
    const rss = Object.entries(m.hwmRssMB ?? {}).map(([r, v]) => `${r} ${Math.round(v)} MB`);
    return rss.length ? `peak RSS ${rss.join(', ')}` : '';
  }
  return '';
}

/** Lines of the table for one scenario's medians ({ contenderId: median }). */
export function scenarioTable(sc, medians, labels, runs) {
  const ref = medians[sc.reference]?.value;
  const cpuHead = sc.id === 'small' || sc.id === 'latency' ? 'CPU s (whole run)' : 'CPU s per GiB';
  const lines = [`\n${sc.title}  [median of ${runs}; ratio vs ${labels[sc.reference] ?? sc.reference}]`];
  const rows = [['contender', sc.unit, 'ratio', '', cpuHead]];
  for (const [id, m] of Object.entries(medians)) {
    const ratio = ref ? (sc.better === 'lower' ? ref / m.value : m.value / ref) : undefined;
    rows.push([
      labels[id],
      fmt(m.value),
      ratio ? `${ratio.toFixed(2)}x` : '-',
      extraText(sc.id, m),
      cpuText(m),
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows)
    lines.push(
      `  ${r
        .map((cell, i) => (i === 1 || i === 2 ? cell.padStart(widths[i]) : cell.padEnd(widths[i])))
        .join('  ')
        .trimEnd()}`,
    );
  return lines;
}

/**
 * The lowest and highest of the ratios a/b run by run (run i of a against run i of b: the same
 * rotation of contenders, minutes apart), or undefined with fewer than two runs. On a noisy machine
 * one slow run of the reference moves the ratio of medians; the spread shows how far.
 */
export function runRatioSpread(runsA, runsB) {
  if (!runsA || !runsB) return undefined;
  const ratios = [];
  for (let i = 0; i < Math.min(runsA.length, runsB.length); i++)
    if (runsB[i]?.value) ratios.push(runsA[i].value / runsB[i].value);
  return ratios.length > 1 ? [round(Math.min(...ratios), 3), round(Math.max(...ratios), 3)] : undefined;
}

/** The issue's targets, judged on this run's medians; a missing contender gives "n/a". */
export function judgeTargets(med, runsBy) {
  const t = [];
  const add = (name, value, limit, spread) => {
    const known = value !== undefined && Number.isFinite(value);
    t.push({
      target: name,
      value: known ? round(value, 3) : null,
      limit,
      met: known ? evaluate(value, limit) : null,
      ...(known && spread ? { runs: spread } : {}),
    });
  };
  const v = (sc, id, key = 'value') => med[sc]?.[id]?.[key];
  const ratio = (a, b) => (a !== undefined && b ? a / b : undefined);
  const spread = (sc, a, b) => runRatioSpread(runsBy[sc]?.[a], runsBy[sc]?.[b]);
  const vs = (sc, a, b, limit) => [ratio(v(sc, a), v(sc, b)), limit, spread(sc, a, b)];
  add('download ftpfwd / ssh -L', ...vs('download', 'ftpfwd', 'ssh-L', '>= 1.0'));
  add('upload ftpfwd / ssh -L', ...vs('upload', 'ftpfwd', 'ssh-L', '>= 1.0'));
  add('small files ftpfwd / direct', ...vs('small', 'ftpfwd', 'vsftpd', '>= 0.5'));
  add(
    'sessions aggregate / single stream (ftpfwd)',
    ratio(v('concurrency', 'ftpfwd'), v('download', 'ftpfwd')),
    '>= 0.9',
  );
  for (const role of ['ftpfwd', 'ftpfwd-sshd']) {
    const runs = runsBy.concurrency?.ftpfwd;
    const peak = runs ? Math.max(...runs.map((r) => r.hwmRssMB?.[role] ?? 0)) : undefined;
    add(`peak RSS ${role} (MB)`, peak, '<= 200');
  }
  add('set-up latency p50 (ms)', v('latency', 'ftpfwd', 'p50'), '<= 1');
  add('set-up latency p99 (ms)', v('latency', 'ftpfwd', 'p99'), '<= 5');
  return t;
}

function evaluate(value, limit) {
  const [op, num] = limit.split(' ');
  return op === '>=' ? value >= Number(num) : value <= Number(num);
}

export function targetLines(targets) {
  const lines = ['\nTargets (issue 6, ratios within this run)'];
  const unjudged = targets.filter((t) => t.met === null).length;
  for (const t of targets.filter((x) => x.met !== null))
    lines.push(
      `  ${t.met === null ? 'n/a ' : t.met ? 'MET ' : 'MISS'}  ${t.target.padEnd(44)} ${fmt(t.value).padStart(8)}  (${t.limit})${t.runs ? `  run by run ${fmt(t.runs[0])}-${fmt(t.runs[1])}` : ''}`,
    );
  if (unjudged) lines.push(`  (${unjudged} more need scenarios or contenders this run left out)`);
  return lines;
}
