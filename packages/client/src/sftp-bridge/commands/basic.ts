/** Commands about the session itself: SYST, FEAT, OPTS, NOOP, STAT, QUIT, TYPE, MODE, STRU, ALLO. */
import { MLST_FACTS, type MlstFact } from '../listing.js';
import type { FtpSession } from '../session.js';
import { statPath } from './list.js';
import type { CommandTable } from './spec.js';

/** FEAT's lines (RFC 2389): only what this server really does. */
export function featLines(s: FtpSession): string[] {
  const facts = MLST_FACTS.map((f) => `${f}${s.mlstFacts.has(f) ? '*' : ''};`).join('');
  return ['EPRT', 'EPSV', 'MDTM', 'MFMT', `MLST ${facts}`, 'PASV', 'REST STREAM', 'SIZE', 'TVFS', 'UTF8'];
}

function status(s: FtpSession): string[] {
  const lines = ['ftpfwd FTP to SFTP bridge status:', `Connected from ${s.peer}`];
  lines.push(s.fs ? `Logged in as ${s.user}` : 'Not logged in');
  lines.push(`TYPE: ${s.type === 'A' ? 'ASCII' : 'BINARY'}, STRUcture: File, MODE: Stream`);
  lines.push(`Data connection: ${s.data.mode === 'none' ? 'none prepared' : s.data.mode}`);
  const t = s.transfer;
  if (t) lines.push(`Transferring: ${t.verb} ${t.path}, ${t.bytes()} bytes so far`);
  lines.push('End of status');
  return lines;
}

export const BASIC: CommandTable = {
  SYST: {
    login: false,
    arg: 'none',
    help: 'SYST: the system type',
    run: (s) => s.reply(215, 'UNIX Type: L8'),
  },
  FEAT: {
    login: false,
    arg: 'none',
    help: 'FEAT: the extensions this server supports',
    run: (s) => s.reply(211, ['Features:', ...featLines(s), 'End']),
  },
  OPTS: {
    login: false,
    arg: 'required',
    help: 'OPTS UTF8 ON | OPTS MLST <facts>',
    run(s, arg) {
      const [name = '', ...rest] = arg.trim().split(/\s+/);
      const value = rest.join(' ');
      switch (name.toUpperCase()) {
        case 'UTF8':
        case 'UTF-8':
          if (value === '' || value.toUpperCase() === 'ON') s.reply(200, 'UTF8 mode is always on');
          else s.reply(504, 'UTF8 cannot be turned off: paths are UTF-8');
          return;
        case 'MLST': {
          const wanted = value
            .split(';')
            .map((f) => f.trim().toLowerCase())
            .filter((f): f is MlstFact => (MLST_FACTS as readonly string[]).includes(f));
          s.mlstFacts = new Set(wanted);
          s.reply(200, `MLST OPTS ${wanted.map((f) => `${f};`).join('')}`);
          return;
        }
        default:
          s.reply(501, `OPTS ${name}: no such option`);
      }
    },
  },
  NOOP: { login: false, arg: 'optional', help: 'NOOP: does nothing', run: (s) => s.reply(200, 'NOOP ok') },
  STAT: {
    login: false,
    arg: 'optional',
    help: 'STAT [path]: session status, or a listing of path over the control connection',
    async run(s, arg) {
      if (arg.trim() === '') return s.reply(211, status(s));
      if (!s.fs) return s.reply(530, 'Please log in with USER and PASS first');
      await statPath(s, arg);
    },
  },
  QUIT: {
    login: false,
    arg: 'optional',
    help: 'QUIT: ends the session',
    run(s) {
      s.reply(221, 'Goodbye');
      s.end();
    },
  },
  TYPE: {
    login: false,
    arg: 'required',
    help: 'TYPE A | TYPE I: ASCII (line ends converted) or binary',
    run(s, arg) {
      const t = arg.trim().toUpperCase().replace(/\s+/g, ' ');
      if (t === 'A' || t === 'A N') {
        s.type = 'A';
        s.reply(200, 'Type set to A');
      } else if (t === 'I' || t === 'L 8' || t === 'L8') {
        s.type = 'I';
        s.reply(200, 'Type set to I');
      } else s.reply(504, `TYPE ${arg.trim()} not supported; use A or I`);
    },
  },
  MODE: {
    login: false,
    arg: 'required',
    help: 'MODE S: stream mode (the only one)',
    run: (s, arg) =>
      arg.trim().toUpperCase() === 'S'
        ? s.reply(200, 'Mode set to S')
        : s.reply(504, `MODE ${arg.trim()} not supported; only S`),
  },
  STRU: {
    login: false,
    arg: 'required',
    help: 'STRU F: file structure (the only one)',
    run: (s, arg) =>
      arg.trim().toUpperCase() === 'F'
        ? s.reply(200, 'Structure set to F')
        : s.reply(504, `STRU ${arg.trim()} not supported; only F`),
  },
  ALLO: {
    login: true,
    arg: 'optional',
    help: 'ALLO: not needed (SFTP allocates as it writes)',
    run: (s) => s.reply(202, 'ALLO not needed'),
  },
};
