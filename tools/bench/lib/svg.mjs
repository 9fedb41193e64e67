// A dependency-free SVG chart: one panel of horizontal bars per scenario, medians per contender.
const COLORS = {
  'ssh-L': '#6b7280',
  ftpfwd: '#2563eb',
  'ftpfwd+opensshd': '#60a5fa',
  vsftpd: '#16a34a',
  'ftp-srv': '#d97706',
};
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function chartSvg({ title, subtitle, panels, labels }) {
  const W = 920;
  const labelW = 300;
  const barW = W - labelW - 110;
  const row = 22;
  let y = 56;
  const parts = [];
  for (const p of panels) {
    const entries = Object.entries(p.medians);
    const max = Math.max(...entries.map(([, m]) => m.value), 1e-9);
    parts.push(
      `<text x="12" y="${y}" font-weight="bold">${esc(p.title)} (${esc(p.unit)}${p.better === 'lower' ? ', lower is better' : ''})</text>`,
    );
    y += 10;
    for (const [id, m] of entries) {
      const w = Math.max(1, (m.value / max) * barW);
      parts.push(
        `<text x="${labelW - 8}" y="${y + 15}" text-anchor="end">${esc(labels[id] ?? id)}</text>`,
        `<rect x="${labelW}" y="${y + 3}" width="${w.toFixed(1)}" height="${row - 6}" fill="${COLORS[id] ?? '#999'}"/>`,
        `<text x="${labelW + w + 6}" y="${y + 15}">${esc(m.value)}</text>`,
      );
      y += row;
    }
    y += 24;
  }
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="12" y="22" font-size="16" font-weight="bold">${esc(title)}</text>`,
    `<text x="12" y="40" fill="#555">${esc(subtitle)}</text>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
