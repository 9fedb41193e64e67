import { type Logger, pino } from 'pino';

export type { Logger };

/**
 * pino, quiet by default (info: one line per forwarding and per FTP session), `-v` debug (each
 * rewrite), `-vv` trace. `text` renders each record as one human line on stderr; `json` keeps pino's
 * records for log collectors.
 */
export function createLogger(
  verbosity: number,
  format: 'text' | 'json' = 'text',
  dest: NodeJS.WritableStream = process.stderr,
): Logger {
  const level = verbosity >= 2 ? 'trace' : verbosity === 1 ? 'debug' : 'info';
  if (format === 'json') return pino({ level, base: { name: 'ftpfwd' } }, dest);
  const stream = {
    write(line: string) {
      try {
        const rec = JSON.parse(line) as Record<string, unknown>;
        const { level: lv, time: _t, msg, pid: _p, hostname: _h, name: _n, ...rest } = rec;
        const tag =
          typeof lv === 'number' && lv >= 50
            ? 'error: '
            : typeof lv === 'number' && lv >= 40
              ? 'warning: '
              : '';
        const extras = Object.entries(rest)
          .map(
            ([k, v]) =>
              `${k}=${typeof v === 'string' ? (/[\s"]/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v)}`,
          )
          .join(' ');
        dest.write(`ftpfwd: ${tag}${String(msg ?? '')}${extras ? ` ${extras}` : ''}\n`);
      } catch {
        dest.write(line);
      }
    },
  };
  return pino({ level, base: undefined, timestamp: false }, stream);
}

/** A logger that drops everything (library default). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
