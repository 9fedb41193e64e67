// Order statistics of measured runs.

/** Nearest-rank percentile of an ascending-sorted array. */
export function percentile(sorted, p) {
  if (!sorted.length) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export function median(values) {
  const s = [...values].sort((a, b) => a - b);
  if (!s.length) return Number.NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Median of each numeric field (nested one level: cpu, cpuPerGiB, rss) across runs. */
export function medianResult(runs) {
  const out = {};
  for (const key of Object.keys(runs[0])) {
    const vals = runs.map((r) => r[key]);
    if (typeof vals[0] === 'number') out[key] = median(vals);
    else if (vals[0] && typeof vals[0] === 'object') out[key] = medianResult(vals);
    else out[key] = vals[0];
  }
  return out;
}
