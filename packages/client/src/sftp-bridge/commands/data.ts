/** PASV, EPSV, PORT, EPRT: preparing the next transfer's data connection (see data-channel.ts). */
import { isIPv4, isIPv6 } from 'node:net';
import {
  formatEpsvReply,
  formatPasvReply,
  normalizeAddress,
  parseEprtArgument,
  parsePortArgument,
} from '@ftpfwd/ftp-proxy';
import { activeTargetProblem } from '../data-channel.js';
import type { FtpSession } from '../session.js';
import type { CommandTable } from './spec.js';

function epsvAllRefusal(s: FtpSession, verb: string): boolean {
  if (!s.epsvAll) return false;
  s.reply(503, `${verb} refused after EPSV ALL; use EPSV`);
  return true;
}

async function pasv(s: FtpSession): Promise<void> {
  if (epsvAllRefusal(s, 'PASV')) return;
  const host = normalizeAddress(s.config.opts.advertise ?? s.local);
  if (!isIPv4(host)) {
    s.reply(425, 'PASV cannot name an IPv6 address; use EPSV');
    return;
  }
  let port: number;
  try {
    port = await s.data.passive();
  } catch (err) {
    s.log.warn({ session: s.id, err: (err as Error).message }, 'no passive data listener');
    s.reply(425, `Cannot open a passive data listener: ${(err as Error).message}`);
    return;
  }
  s.reply(227, formatPasvReply({ host, port }).slice(4));
}

async function epsv(s: FtpSession, arg: string): Promise<void> {
  const a = arg.trim().toUpperCase();
  if (a === 'ALL') {
    s.epsvAll = true;
    s.reply(200, 'EPSV ALL ok: only EPSV from now on');
    return;
  }
  const family = isIPv6(s.local) ? '2' : '1';
  if (a !== '' && a !== family) {
    s.reply(522, `Network protocol not supported, use (${family})`);
    return;
  }
  let port: number;
  try {
    port = await s.data.passive();
  } catch (err) {
    s.log.warn({ session: s.id, err: (err as Error).message }, 'no passive data listener');
    s.reply(425, `Cannot open a passive data listener: ${(err as Error).message}`);
    return;
  }
  s.reply(229, formatEpsvReply(port).slice(4));
}

function active(s: FtpSession, verb: 'PORT' | 'EPRT', arg: string): void {
  if (epsvAllRefusal(s, verb)) return;
  const target = verb === 'PORT' ? parsePortArgument(arg) : parseEprtArgument(arg);
  const problem = activeTargetProblem(target, s.peer, 1024);
  if (problem) {
    s.log.warn(
      { session: s.id, command: verb, target: `${target.host}:${target.port}`, reason: problem },
      'active data connection refused',
    );
    s.reply(500, `Illegal ${verb} command: ${problem}`);
    return;
  }
  s.data.active(target);
  s.reply(200, `${verb} command successful`);
}

export const DATA: CommandTable = {
  PASV: { login: true, arg: 'none', help: 'PASV: passive mode (IPv4)', run: pasv },
  EPSV: { login: true, arg: 'optional', help: 'EPSV [1|2|ALL]: extended passive mode', run: epsv },
  PORT: {
    login: true,
    arg: 'required',
    help: 'PORT h1,h2,h3,h4,p1,p2: active mode, to your own address',
    run: (s, arg) => active(s, 'PORT', arg),
  },
  EPRT: {
    login: true,
    arg: 'required',
    help: 'EPRT |af|addr|port|: extended active mode, to your own address',
    run: (s, arg) => active(s, 'EPRT', arg),
  },
};
