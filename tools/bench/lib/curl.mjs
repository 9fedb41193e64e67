// curl as the FTP client of the throughput scenarios: EPSV by default, EPRT with active.
import { run } from './procs.mjs';

const W = '%{time_total} %{size_download} %{size_upload}\\n';

export function ftpUrl(c, path) {
  return `ftp://${c.host}:${c.port}/${path}`;
}

let maxSeconds = 3600;
/** Upper bound for one curl run (the smoke test keeps it short so a hang fails fast in CI). */
export function setCurlMaxSeconds(seconds) {
  maxSeconds = seconds;
}

/** Runs curl with args plus the common ones; throws with curl's own message when it fails. */
export async function curl(args, { what, timeoutMs } = {}) {
  const r = await run(
    'curl',
    ['-sS', '--no-progress-meter', '--max-time', String(maxSeconds), '-w', W, ...args],
    {
      timeoutMs: timeoutMs ?? (maxSeconds + 10) * 1000,
    },
  );
  if (r.code !== 0)
    throw new Error(`curl ${what ?? args.join(' ')} failed (exit ${r.code}): ${r.stderr.trim()}`);
  const lines = r.stdout.trim().split('\n').filter(Boolean);
  const transfers = lines.map((l) => {
    const [t, down, up] = l.split(' ').map(Number);
    return { seconds: t, down, up };
  });
  return { wallSeconds: r.seconds, transfers };
}
