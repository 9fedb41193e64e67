/**
 * The HTML report of a run: one self-contained page (inline CSS and SVG, no script, nothing fetched)
 * with the verdict and failed expectations first, the topology drawn with what crossed each link,
 * every expectation, every step with its result and timing, the traffic of each link, and the logs of
 * the hosts whose steps failed. Pure: a RunResult in, a string out.
 */
import type { RunResult, StepResult } from './runner.js';
import { drawTopology, esc, formatBytes, trafficText } from './svg.js';

const CSS = `
:root { --ok: #1a7f37; --bad: #cf222e; --warn: #9a6700; --dim: #6e7781; --line: #d0d7de; font-family: system-ui, sans-serif; }
body { margin: 0 auto; max-width: 1400px; padding: 16px 24px 48px; color: #1f2328; }
h1 { font-size: 22px; margin: 8px 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid var(--line); padding-bottom: 4px; }
.meta { color: var(--dim); font-size: 13px; }
.verdict { display: inline-block; padding: 2px 10px; border-radius: 12px; color: #fff; font-weight: 600; font-size: 14px; vertical-align: middle; }
.verdict.pass { background: var(--ok); } .verdict.fail { background: var(--bad); }
.error { border: 2px solid var(--bad); background: #ffebe9; padding: 8px 12px; border-radius: 6px; margin: 12px 0; }
.failures { border: 2px solid var(--bad); border-radius: 6px; padding: 4px 12px; margin: 12px 0; background: #fff8f8; }
.failures li { margin: 6px 0; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { text-align: left; padding: 4px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #f6f8fa; }
td.ok, span.ok { color: var(--ok); font-weight: 600; } td.bad, span.bad { color: var(--bad); font-weight: 600; }
tr.failed td { background: #fff5f5; }
code, pre { font-family: ui-monospace, monospace; font-size: 12px; }
pre { background: #f6f8fa; padding: 8px; overflow: auto; max-height: 480px; white-space: pre-wrap; word-break: break-all; }
.cmd { max-width: 560px; overflow-wrap: anywhere; color: #424a53; }
.bar { position: relative; height: 10px; background: #eaeef2; border-radius: 5px; min-width: 160px; }
.bar span { position: absolute; top: 0; height: 10px; border-radius: 5px; background: var(--ok); }
.bar span.bad { background: var(--bad); }
.drawing { border: 1px solid var(--line); border-radius: 6px; padding: 8px; background: #fff; }
svg.topology { font-size: 11px; width: 100%; height: auto; display: block; }
svg .network rect { fill: #57606a; } svg .net-label { font-weight: 600; fill: #24292f; font-size: 12px; }
svg .host rect { fill: #f6f8fa; stroke: #57606a; stroke-width: 1.5; }
svg .gateway rect { fill: #fff8c5; stroke: #9a6700; stroke-width: 2; }
svg .failed rect { stroke: var(--bad); stroke-width: 3; }
svg .node-name { font-weight: 700; font-size: 13px; }
svg .addr { fill: #424a53; } svg .prog { fill: #0550ae; font-weight: 600; } svg .prog-more { fill: #0550ae; white-space: pre; } svg .role { fill: #9a6700; } svg .lo { fill: #6e7781; font-style: italic; }
svg .link line { stroke-width: 3; } svg .link-label { font-size: 10px; }
svg .link.ssh line { stroke: var(--ok); } svg .link.clear line { stroke: #bf8700; } svg .link.leak line { stroke: var(--bad); stroke-width: 5; }
svg .link.uncaptured line, svg .link.idle line { stroke: #8c959f; stroke-dasharray: 5 4; }
svg .link.failed line { stroke: var(--bad); stroke-width: 5; }
svg .good { fill: var(--ok); } svg .warn { fill: var(--warn); } svg .bad { fill: var(--bad); font-weight: 700; } svg .dim { fill: var(--dim); }
.legend { font-size: 12px; color: var(--dim); margin-top: 6px; }
.legend b.ssh { color: var(--ok); } .legend b.clear { color: #bf8700; } .legend b.leak { color: var(--bad); }
details summary { cursor: pointer; }
`;

export function reportFileName(r: RunResult): string {
  return `${r.scenario.name}.html`;
}

export function reportHtml(r: RunResult): string {
  const failed = r.expectations.filter((e) => !e.ok);
  const failedSteps = r.steps.filter((s) => !s.ok);
  const failedHosts = new Set(failedSteps.map((s) => s.host));
  const b: string[] = [];
  b.push(`<!doctype html><html lang="en"><head><meta charset="utf-8">`);
  b.push(`<meta name="viewport" content="width=device-width, initial-scale=1">`);
  b.push(
    `<title>${r.ok ? 'PASS' : 'FAIL'} ${esc(r.scenario.name)} — ftpfwd-lab</title><style>${CSS}</style></head><body>`,
  );
  b.push(
    `<h1><span class="verdict ${r.ok ? 'pass' : 'fail'}" id="verdict">${r.ok ? 'PASS' : 'FAIL'}</span> ${esc(r.scenario.name)}</h1>`,
  );
  if (r.scenario.description) b.push(`<p>${esc(r.scenario.description)}</p>`);
  b.push(
    `<p class="meta">${esc(r.scenario.file)} · ${new Date(r.startedAt).toISOString()} · ${secs(r.ms)} · topology ${esc(r.topology)} · ${r.expectations.length - failed.length}/${r.expectations.length} expectations held</p>`,
  );
  if (r.error)
    b.push(
      `<div class="error" id="run-error"><b>${r.aborted ? 'Interrupted' : 'The run broke'}:</b> ${esc(r.error)}</div>`,
    );
  if (failed.length) {
    b.push(`<div class="failures" id="failures"><h2>Failed expectations (${failed.length})</h2><ul>`);
    for (const e of failed)
      b.push(
        `<li class="expectation failed" data-id="${esc(e.id)}"><b>✗ ${esc(e.title)}</b><br>${esc(e.message)}</li>`,
      );
    b.push('</ul></div>');
  }

  if (r.plan) {
    const d = drawTopology(r.plan, r.links, r.expectations, failedHosts);
    b.push('<h2>Topology and what crossed each link</h2>');
    b.push(`<div class="drawing">${d.svg}</div>`);
    b.push(
      '<p class="legend">Lines: <b class="ssh">green</b> only SSH · <b class="clear">amber</b> FTP or other TCP in clear · <b class="leak">red</b> a file marker seen in clear, or an expectation failed there · grey dashed: not captured or idle. Markers are 32 random bytes in each payload file; they are looked for in links captured in full (gateways’ WAN sides, hosts with capture: full).</p>',
    );
  }

  b.push(
    '<h2>Expectations</h2><table id="expectations"><tr><th></th><th>expectation</th><th>result</th></tr>',
  );
  for (const e of r.expectations)
    b.push(
      `<tr class="expectation ${e.ok ? 'ok' : 'failed'}" data-id="${esc(e.id)}"><td class="${e.ok ? 'ok' : 'bad'}">${e.ok ? '✓' : '✗'}</td><td>${esc(e.title)}</td><td>${esc(e.message)}</td></tr>`,
    );
  b.push('</table>');

  b.push(stepsTable(r.steps));
  b.push(linksSection(r));

  const logHosts = r.error && !r.aborted ? Object.keys(r.logs) : [...failedHosts];
  if (logHosts.length) {
    b.push(`<h2>Logs of ${r.error ? 'the hosts' : 'hosts whose steps failed'}</h2>`);
    for (const h of logHosts)
      b.push(
        `<details open class="log" data-host="${esc(h)}"><summary>${esc(h)}</summary><pre>${esc(r.logs[h] ?? '(no log)')}</pre></details>`,
      );
  }
  b.push('</body></html>\n');
  return b.join('\n');
}

function stepsTable(steps: readonly StepResult[]): string {
  const span = Math.max(1, ...steps.map((s) => (s.offsetMs ?? 0) + (s.report?.ms ?? 0)));
  const rows = steps.map((s) => {
    const r = s.report;
    const result = !r ? 'did not run' : r.code === null ? `killed (${r.signal})` : `exit ${r.code}`;
    const left = ((s.offsetMs ?? 0) / span) * 100;
    const width = Math.max(0.5, ((r?.ms ?? 0) / span) * 100);
    const bar = r
      ? `<div class="bar" title="started at +${secs(s.offsetMs ?? 0)}, ran ${secs(r.ms)}"><span class="${s.ok ? '' : 'bad'}" style="left:${left.toFixed(2)}%;width:${width.toFixed(2)}%"></span></div>`
      : '';
    const err =
      !s.ok && r && (r.stderr || r.stdout)
        ? `<details><summary>output</summary><pre>${esc(tail(`${r.stderr}\n${r.stdout}`.trim(), 40))}</pre></details>`
        : '';
    return `<tr class="step ${s.ok ? 'ok' : 'failed'}" data-step="${esc(s.name)}"><td class="${s.ok ? 'ok' : 'bad'}">${s.ok ? '✓' : '✗'}</td><td>${esc(s.name)}</td><td>${esc(s.host)}</td><td>${result}</td><td>${r ? `+${secs(s.offsetMs ?? 0)}` : ''}</td><td>${r ? secs(r.ms) : ''}</td><td>${bar}</td><td class="cmd"><code>${esc(s.summary)}</code>${err}</td></tr>`;
  });
  return `<h2>Steps</h2><table id="steps"><tr><th></th><th>step</th><th>host</th><th>result</th><th>start</th><th>time</th><th>timeline</th><th>command</th></tr>${rows.join('')}</table>`;
}

function linksSection(r: RunResult): string {
  if (r.links.length === 0) return '';
  const rows = r.links.map((l) => {
    const markers =
      l.capture === 'none'
        ? ''
        : !l.markers
          ? 'not looked for'
          : l.markers.length
            ? l.markers
                .map((m) => `<span class="bad">${esc(m.name)} (${m.kinds.join('/')})</span>`)
                .join(', ')
            : '<span class="ok">none</span>';
    const conns = l.connections.length
      ? `<details><summary>${l.connections.length} connections</summary><table>${l.connections
          .map(
            (c) =>
              `<tr><td>${esc(c.src)}:${c.sport}</td><td>→ ${esc(c.dst)}:${c.dport}</td><td>${c.kind}</td><td>${c.bytes !== undefined ? formatBytes(c.bytes) : ''}</td><td>${esc((c.markers ?? []).join(', '))}</td></tr>`,
          )
          .join('')}</table></details>`
      : '';
    return `<tr data-link="${esc(l.id)}"><td>${esc(l.id)}</td><td>${l.capture === 'none' ? 'not captured' : l.capture}</td><td>${l.capture === 'none' ? '' : esc(trafficText(l).join(' · '))}</td><td>${markers}</td><td>${conns}</td></tr>`;
  });
  return `<h2>Links</h2><table id="links"><tr><th>link</th><th>capture</th><th>traffic</th><th>markers in clear</th><th>connections</th></tr>${rows.join('')}</table>`;
}

/** The page listing every scenario of a run. */
export function indexHtml(results: readonly RunResult[]): string {
  const ok = results.every((r) => r.ok);
  const rows = results
    .map(
      (r) =>
        `<tr class="${r.ok ? 'ok' : 'failed'}"><td class="${r.ok ? 'ok' : 'bad'}">${r.ok ? 'PASS' : 'FAIL'}</td><td><a href="${esc(reportFileName(r))}">${esc(r.scenario.name)}</a></td><td>${esc(r.scenario.file)}</td><td>${r.expectations.filter((e) => e.ok).length}/${r.expectations.length}</td><td>${secs(r.ms)}</td><td>${esc(r.error ?? r.expectations.find((e) => !e.ok)?.title ?? '')}</td></tr>`,
    )
    .join('');
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${ok ? 'PASS' : 'FAIL'} — ftpfwd-lab</title><style>${CSS}</style></head><body><h1><span class="verdict ${ok ? 'pass' : 'fail'}">${ok ? 'PASS' : 'FAIL'}</span> ftpfwd-lab: ${results.length} scenario${results.length === 1 ? '' : 's'}</h1><table><tr><th></th><th>scenario</th><th>file</th><th>expectations</th><th>time</th><th>first problem</th></tr>${rows}</table></body></html>\n`;
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

function tail(s: string, lines: number): string {
  return s.split('\n').slice(-lines).join('\n');
}
