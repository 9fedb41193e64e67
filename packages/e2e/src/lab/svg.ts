/**
 * The topology drawing of a report: networks as horizontal bars, hosts and gateways as boxes above,
 * between or below them, each host's or gateway's side of a network as a line annotated with what
 * crossed it. Inline SVG, generated here: no library, nothing fetched. Pure.
 *
 * Layout: networks top to bottom (a gateway's WAN above its LAN); a node on two neighbouring
 * networks sits between their bars, a node on one network above the top bar or below the bottom one
 * (on a single network: SSH servers above, the rest below).
 */
import type { ExpectationResult } from './checks.js';
import type { LinkSummary } from './links.js';
import type { ScenarioPlan } from './plan.js';
import type { TrafficClass } from './schema.js';

export interface Drawing {
  svg: string;
  width: number;
  height: number;
}

interface Node {
  name: string;
  gateway: boolean;
  networks: string[];
  lines: { text: string; cls?: string }[];
  failed: boolean;
  band: number;
  x: number;
  y: number;
  w: number;
  h: number;
}

const BOX_W = 270;
const GAP_X = 40;
const LINE_H = 14;
const LINK_GAP = 92; // vertical room between a box and a bar, for the link's label
const MARGIN = 24;
const LABEL_W = 200;

const KIND_TEXT: Record<TrafficClass, string> = {
  ssh: 'SSH',
  'ftp-control': 'FTP control in clear',
  'ftp-data': 'FTP data in clear',
  other: 'other TCP',
};
const SHORT_TEXT: Record<TrafficClass, string> = {
  ssh: 'SSH',
  'ftp-control': 'FTP ctl',
  'ftp-data': 'FTP data',
  other: 'other',
};
/** Characters that fit a box line (11px) and a link label (10px). */
const BOX_CHARS = 42;
const LABEL_CHARS = 36;

export function drawTopology(
  plan: ScenarioPlan,
  links: readonly LinkSummary[],
  expectations: readonly ExpectationResult[],
  failedHosts: ReadonlySet<string>,
): Drawing {
  const order = networkOrder(plan);
  const index = new Map(order.map((n, i) => [n, i]));
  const n = order.length;
  const failedLinks = new Set(expectations.filter((e) => !e.ok).flatMap((e) => e.links ?? []));

  // ---- nodes and their bands
  const nodes: Node[] = [];
  for (const g of plan.gateways)
    nodes.push(
      node(
        g.name,
        true,
        [g.wan, g.lan],
        [
          { text: 'NAT gateway (masquerade)', cls: 'role' },
          { text: `${g.wan} ${g.wanAddress}`, cls: 'addr' },
          { text: `${g.lan} ${g.lanAddress}`, cls: 'addr' },
        ],
        false,
      ),
    );
  for (const h of plan.hosts) {
    const lines: Node['lines'] = h.networks.map((x) => ({ text: `${x.network} ${x.address}`, cls: 'addr' }));
    if (h.via) lines.push({ text: `default route via ${h.via.gateway}`, cls: 'addr' });
    for (const p of h.programs)
      for (const [i, text] of p.brief.entries()) lines.push({ text, cls: i === 0 ? 'prog' : 'prog-more' });
    const lo = links.find((l) => l.id === `${h.name}.lo`);
    if (lo && lo.capture !== 'none')
      lines.push({ text: `lo: ${trafficText(lo, true).join(' · ')}`, cls: 'lo' });
    nodes.push(
      node(
        h.name,
        false,
        h.networks.map((x) => x.network),
        lines,
        failedHosts.has(h.name),
      ),
    );
  }
  const crowd = new Map<number, number>();
  for (const nd of nodes) {
    const idx = nd.networks.map((x) => index.get(x) ?? 0).sort((a, b) => a - b);
    const lo = idx[0] ?? 0;
    const hi = idx[idx.length - 1] ?? 0;
    if (hi > lo) nd.band = lo + 1;
    else if (n === 1) {
      const server = plan.hosts
        .find((h) => h.name === nd.name)
        ?.programs.some((p) => p.kind.endsWith('sshd'));
      nd.band = server || nd.gateway ? 0 : 1;
    } else if (lo === 0) nd.band = 0;
    else if (lo === n - 1) nd.band = n;
    else nd.band = (crowd.get(lo) ?? 0) <= (crowd.get(lo + 1) ?? 0) ? lo : lo + 1;
    crowd.set(nd.band, (crowd.get(nd.band) ?? 0) + 1);
  }

  // ---- geometry: rows of boxes and bars, top to bottom
  const bands = [...Array(n + 1).keys()];
  const rowH = bands.map((b) => Math.max(0, ...nodes.filter((x) => x.band === b).map((x) => x.h)));
  const rowW = bands.map((b) => {
    const k = nodes.filter((x) => x.band === b).length;
    return k * BOX_W + Math.max(0, k - 1) * GAP_X;
  });
  const width = Math.max(640, ...rowW.map((w) => w + 2 * MARGIN + LABEL_W));
  const barY: number[] = [];
  const rowY: number[] = [];
  let y = MARGIN;
  for (const b of bands) {
    const h = rowH[b] ?? 0;
    if (h > 0) {
      if (b > 0) y += LINK_GAP;
      rowY[b] = y;
      y += h;
    } else rowY[b] = y;
    if (b < n) {
      y += h > 0 ? LINK_GAP : b === 0 ? 20 : 40;
      barY[b] = y;
      y += 8;
    }
  }
  const height = y + MARGIN;
  for (const b of bands) {
    const row = nodes.filter((x) => x.band === b);
    let x = (width - (rowW[b] ?? 0)) / 2;
    for (const nd of row) {
      nd.x = x;
      nd.y = rowY[b] ?? 0;
      x += BOX_W + GAP_X;
    }
  }

  // ---- drawing
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="topology" viewBox="0 0 ${width} ${height}" style="max-width:${width}px" role="img" aria-label="topology of ${esc(plan.name)}">`,
  );
  order.forEach((net, i) => {
    const sn = plan.networks.find((x) => x.name === net)?.subnet.toString() ?? '';
    const by = barY[i] ?? 0;
    out.push(
      `<g class="network" data-network="${esc(net)}"><rect x="${MARGIN}" y="${by}" width="${width - 2 * MARGIN}" height="8" rx="4"/>` +
        `<text x="${MARGIN + 4}" y="${by - 6}" class="net-label">${esc(net)} ${esc(sn)}</text></g>`,
    );
  });
  // links first, so boxes cover the ends of their lines
  for (const nd of nodes) {
    const cx = nd.x + nd.w / 2;
    const networks = [...nd.networks].sort((a, b) => (index.get(a) ?? 0) - (index.get(b) ?? 0));
    networks.forEach((net, k) => {
      const i = index.get(net) ?? 0;
      const by = barY[i] ?? 0;
      const above = by < nd.y; // the bar is above the box
      const y1 = above ? nd.y : nd.y + nd.h;
      const y2 = above ? by + 8 : by;
      // two links leaving the same side (a node on non-neighbouring networks): spread them
      const dx = networks.length > 2 ? (k - (networks.length - 1) / 2) * 24 : 0;
      const id = `${nd.name}.${net}`;
      const link = links.find((l) => l.id === id);
      const cls = linkClass(link);
      const failed = failedLinks.has(id);
      const lines = link ? linkLines(link) : [{ text: 'not captured', cls: 'dim' }];
      if (failed) lines.unshift({ text: '✗ expectation failed here', cls: 'bad' });
      const lx = cx + dx;
      const ly = Math.min(y1, y2) + 10;
      out.push(
        `<g class="link ${cls}${failed ? ' failed' : ''}" data-link="${esc(id)}">` +
          `<line x1="${lx}" y1="${y1}" x2="${lx}" y2="${y2}"/>` +
          `<text x="${lx + 7}" y="${ly + 2}" class="link-label">${lines
            .slice(0, 6)
            .map(
              (l, j) =>
                `<tspan x="${lx + 7}" dy="${j === 0 ? 0 : 12}"${l.cls ? ` class="${l.cls}"` : ''}>${esc(clip(l.text, LABEL_CHARS))}</tspan>`,
            )
            .join('')}</text></g>`,
      );
    });
  }
  for (const nd of nodes) {
    out.push(
      `<g class="${nd.gateway ? 'gateway' : 'host'}${nd.failed ? ' failed' : ''}" data-host="${esc(nd.name)}">` +
        `<rect x="${nd.x}" y="${nd.y}" width="${nd.w}" height="${nd.h}" rx="${nd.gateway ? 14 : 6}"/>` +
        `<text x="${nd.x + 10}" y="${nd.y + 18}" class="node-name">${esc(nd.name)}${nd.failed ? ' ✗' : ''}</text>` +
        nd.lines
          .map(
            (l, j) =>
              `<text x="${nd.x + 10}" y="${nd.y + 36 + j * LINE_H}" class="${l.cls ?? ''}">${esc(clip(l.text, BOX_CHARS))}<title>${esc(l.text)}</title></text>`,
          )
          .join('') +
        '</g>',
    );
  }
  out.push('</svg>');
  return { svg: out.join('\n'), width, height };
}

function node(
  name: string,
  gateway: boolean,
  networks: string[],
  lines: Node['lines'],
  failed: boolean,
): Node {
  return {
    name,
    gateway,
    networks,
    lines,
    failed,
    band: 0,
    x: 0,
    y: 0,
    w: BOX_W,
    h: 28 + lines.length * LINE_H + 6,
  };
}

/** Networks top to bottom: a gateway's WAN before its LAN, neighbours next to each other. */
export function networkOrder(plan: ScenarioPlan): string[] {
  const all = plan.networks.map((n) => n.name);
  const lans = new Set(plan.gateways.map((g) => g.lan));
  const adj = new Map(all.map((n) => [n, new Set<string>()]));
  const multi = [
    ...plan.gateways.map((g) => [g.wan, g.lan]),
    ...plan.hosts.map((h) => h.networks.map((x) => x.network)),
  ];
  for (const nets of multi) for (const a of nets) for (const b of nets) if (a !== b) adj.get(a)?.add(b);
  const out: string[] = [];
  while (out.length < all.length) {
    const rest = all.filter((x) => !out.includes(x));
    const last = out[out.length - 1];
    const next =
      (last !== undefined ? rest.find((x) => adj.get(last)?.has(x) && !lans.has(x)) : undefined) ??
      (last !== undefined ? rest.find((x) => adj.get(last)?.has(x)) : undefined) ??
      rest.find((x) => !lans.has(x)) ??
      (rest[0] as string);
    out.push(next);
  }
  return out;
}

function linkClass(l: LinkSummary | undefined): string {
  if (!l || l.capture === 'none') return 'uncaptured';
  if (l.markers?.length) return 'leak';
  const c = l.classes;
  if (c['ftp-control'].connections + c['ftp-data'].connections + c.other.connections > 0) return 'clear';
  if (c.ssh.connections > 0) return 'ssh';
  return 'idle';
}

export function trafficText(l: LinkSummary, short = false): string[] {
  const parts: string[] = [];
  for (const k of Object.keys(KIND_TEXT) as TrafficClass[]) {
    const c = l.classes[k];
    if (c.connections === 0) continue;
    const bytes = c.bytes !== undefined ? ` · ${formatBytes(c.bytes)}` : '';
    parts.push(`${(short ? SHORT_TEXT : KIND_TEXT)[k]} ${c.connections}${bytes}`);
  }
  return parts.length ? parts : ['no TCP connection'];
}

function linkLines(l: LinkSummary): { text: string; cls?: string }[] {
  if (l.capture === 'none') return [{ text: 'not captured', cls: 'dim' }];
  const lines: { text: string; cls?: string }[] = trafficText(l).map((t) => ({
    text: t,
    cls: t.startsWith('SSH') ? 'good' : t.startsWith('no TCP') ? 'dim' : 'warn',
  }));
  if (!l.markers) lines.push({ text: '(connections captured, not bytes)', cls: 'dim' });
  else if (l.markers.length === 0) lines.push({ text: 'no file marker seen', cls: 'good' });
  else for (const m of l.markers) lines.push({ text: `MARKER of ${m.name} seen in clear`, cls: 'bad' });
  return lines;
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

function clip(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n - 1)}…` : s;
}

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
