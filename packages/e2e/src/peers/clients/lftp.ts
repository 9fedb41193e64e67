/**
 * lftp, passive (ftp:passive-mode on: PASV) and active (off: PORT). Each cell is one `lftp -c`
 * script with a debug log of the control connection, which the checks read (MLSD really sent, REST
 * really sent, what the server answered to ABOR, whether lftp had to reconnect).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lastLines, run } from '../procs.js';
import { bracket } from '../servers/types.js';
import { seedFile } from '../site.js';
import {
  type CellContext,
  type CellResult,
  type ClientMode,
  checkFile,
  checkTree,
  fail,
  failure,
  listingNames,
  type Op,
  partialCopy,
  payload,
  readText,
} from './types.js';

type Mode = 'passive' | 'active';

/** lftp's quoting: double quotes, backslash escapes. */
function q(s: string): string {
  return `"${s.replace(/[\\"]/g, (m) => `\\${m}`)}"`;
}

async function lftp(ctx: CellContext, mode: Mode, commands: string[], what: string, settings: string[] = []) {
  const debug = join(ctx.work, `lftp-${what.replace(/\W+/g, '_')}.log`);
  const script = [
    'set cmd:fail-exit yes',
    'set ftp:ssl-allow no',
    'set net:max-retries 1',
    'set net:timeout 10',
    'set net:reconnect-interval-base 1',
    'set xfer:clobber on',
    'set cmd:trace no',
    `set ftp:passive-mode ${mode === 'passive' ? 'on' : 'off'}`,
    ctx.clientAddr.includes(':')
      ? `set net:socket-bind-ipv6 ${ctx.clientAddr}`
      : `set net:socket-bind-ipv4 ${ctx.clientAddr}`,
    ...settings,
    `debug -t -o ${q(debug)} 5`,
    `open -u ${q(`${ctx.user},${ctx.password}`)} ${q(`ftp://${bracket(ctx.host)}:${ctx.port}`)}`,
    ...(ctx.dir ? [`cd ${q(ctx.dir)}`] : []),
    ...commands,
  ].join('; ');
  const r = await run('lftp', ['-c', script], { timeoutMs: Math.min(ctx.timeoutMs, 60_000), cwd: ctx.work });
  const log = readText(debug);
  const res: CellResult | undefined =
    r.code === 0 && !r.timedOut ? undefined : failure(what, r, lastLines(r.stderr) || lastReply(log));
  return { r, res, log };
}

/** The last server reply in lftp's debug log. */
function lastReply(log: string): string {
  const replies = log.split('\n').filter((l) => l.includes('<--- '));
  return replies.length ? (replies[replies.length - 1] as string).replace(/^.*<--- /, 'last reply: ') : '';
}

/** Control connections lftp opened (a reconnect means the session broke). */
function connects(log: string): number {
  return (log.match(/---- Connecting to /g) ?? []).length;
}

async function runOp(mode: Mode, op: Op, ctx: CellContext): Promise<CellResult> {
  switch (op) {
    case 'list': {
      const { r, res } = await lftp(ctx, mode, ['ls'], 'LIST', ['set ftp:use-mlsd no']);
      return res ?? listingNames(r.stdout.toString(), 'LIST');
    }
    case 'nlst': {
      const { r, res } = await lftp(ctx, mode, ['nlist'], 'NLST');
      return res ?? listingNames(r.stdout.toString(), 'NLST');
    }
    case 'mlsd': {
      const { r, res, log } = await lftp(ctx, mode, ['cls -1'], 'MLSD', ['set ftp:use-mlsd yes']);
      if (res) return res;
      if (!/---> MLSD/.test(log))
        return fail('MLSD: lftp did not send MLSD (the server offers no MLST in FEAT)');
      return listingNames(r.stdout.toString(), 'MLSD');
    }
    case 'retr': {
      const out = join(ctx.work, 'down.bin');
      const { res } = await lftp(ctx, mode, [`get data.bin -o ${q(out)}`], 'RETR');
      return res ?? checkFile(out, ctx.fx.data, 'RETR');
    }
    case 'stor': {
      const name = `up-${ctx.id}.bin`;
      const { res } = await lftp(ctx, mode, [`put ${q(payload(ctx))} -o ${q(name)}`], 'STOR');
      return res ?? checkFile(join(ctx.layout.root, name), ctx.fx.data, 'STOR (server copy)');
    }
    case 'rest': {
      const p = partialCopy(ctx);
      const { res, log } = await lftp(ctx, mode, [`get -c data.bin -o ${q(p)}`], 'REST+RETR');
      if (res) return res;
      if (!/---> REST \d+/.test(log)) return fail('REST+RETR: lftp sent no REST');
      return checkFile(p, ctx.fx.data, 'REST+RETR');
    }
    case 'reput': {
      // lftp has no APPE: `put -c` resumes an upload with SIZE, REST and STOR
      const name = `reput-${ctx.id}.bin`;
      seedFile(ctx.layout, name, ctx.fx.data.subarray(0, 1024 * 1024 + 7));
      const { res, log } = await lftp(ctx, mode, [`put -c ${q(payload(ctx))} -o ${q(name)}`], 'REST+STOR');
      if (res) return res;
      if (!/---> REST \d+/.test(log)) return fail('REST+STOR: lftp sent no REST');
      return checkFile(join(ctx.layout.root, name), ctx.fx.data, 'REST+STOR (server copy)');
    }
    case 'mirror': {
      const dest = join(ctx.work, 'mirror');
      const { res } = await lftp(ctx, mode, [`mirror tree ${q(dest)}`], 'mirror');
      return res ?? checkTree(dest, ctx);
    }
    case 'abort': {
      // A throttled download of big.bin runs as a background job; `kill all` makes lftp abort it
      // (Telnet IP + Synch + ABOR); the next listing must work on the same control connection.
      const out = join(ctx.work, 'big.part');
      writeFileSync(out, '');
      const { r, res, log } = await lftp(
        ctx,
        mode,
        [`get big.bin -o ${q(out)} &`, 'sleep 1', 'kill all', 'cls -1'],
        'abort',
        ['set net:limit-rate 2000000', 'set net:timeout 5'],
      );
      if (!/---> ABOR/.test(log)) return res ?? fail('abort: lftp sent no ABOR (the download ended first?)');
      const after = log.slice(log.indexOf('---> ABOR'));
      if (/server bug: 426 reply missed/.test(after))
        return fail(`abort: lftp saw "426 reply missed": the replies fell out of step (${lastReply(log)})`);
      // replies on the same connection (a reconnect's pre-login 530 to OPTS UTF8 is lftp's normal)
      const sameConn = after.split('---- Connecting to ')[0] as string;
      const bad = /<--- (5\d\d .*)/.exec(sameConn);
      if (bad) return fail(`abort: the server answered "${bad[1]?.trim()}" after ABOR`);
      if (connects(log) > 1) return fail(`abort: lftp had to reconnect after ABOR (${lastReply(sameConn)})`);
      if (res) return res;
      return listingNames(r.stdout.toString(), 'listing after abort');
    }
    default:
      return fail(`lftp has no ${op}`);
  }
}

const OPS: Op[] = ['list', 'nlst', 'mlsd', 'retr', 'stor', 'rest', 'reput', 'mirror', 'abort'];

export const lftpModes: ClientMode[] = (['passive', 'active'] as const).map((mode) => ({
  client: 'lftp',
  mode,
  name: `lftp ${mode}`,
  ops: OPS,
  run: (op: Op, ctx: CellContext) => runOp(mode, op, ctx),
}));
