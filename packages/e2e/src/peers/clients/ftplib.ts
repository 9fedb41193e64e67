/** Python's ftplib (tools/peers/ftplib_client.py), passive (PASV; EPSV on IPv6) and active (PORT). */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PYTHON, run, TOOLS } from '../procs.js';
import { seedFile } from '../site.js';
import {
  APPE_HEAD,
  type CellContext,
  type CellResult,
  type ClientMode,
  checkFile,
  fail,
  failure,
  listingNames,
  type Op,
  partialCopy,
  payload,
} from './types.js';

type Mode = 'passive' | 'active';

async function ftplib(ctx: CellContext, mode: Mode, op: string, args: string[], timeoutSecs = 15) {
  const r = await run(
    PYTHON,
    [
      join(TOOLS, 'ftplib_client.py'),
      op,
      ctx.host,
      String(ctx.port),
      ctx.user,
      ctx.password,
      ctx.dir,
      mode === 'passive' ? 'pasv' : 'active',
      ctx.clientAddr,
      String(timeoutSecs),
      ...args,
    ],
    { timeoutMs: Math.min(ctx.timeoutMs, (timeoutSecs * 3 + 5) * 1000) },
  );
  return { r, res: r.code === 0 && !r.timedOut ? undefined : failure(op, r) };
}

async function runOp(mode: Mode, op: Op, ctx: CellContext): Promise<CellResult> {
  switch (op) {
    case 'list':
    case 'nlst':
    case 'mlsd': {
      const { r, res } = await ftplib(ctx, mode, op, []);
      return res ?? listingNames(r.stdout.toString(), op.toUpperCase());
    }
    case 'retr': {
      const out = join(ctx.work, 'down.bin');
      const { res } = await ftplib(ctx, mode, 'retr', [out]);
      return res ?? checkFile(out, ctx.fx.data, 'RETR');
    }
    case 'stor': {
      const name = `up-${ctx.id}.bin`;
      const { res } = await ftplib(ctx, mode, 'stor', [payload(ctx), name]);
      return res ?? checkFile(join(ctx.layout.root, name), ctx.fx.data, 'STOR (server copy)');
    }
    case 'rest': {
      const p = partialCopy(ctx);
      const { res } = await ftplib(ctx, mode, 'rest', [p]);
      return res ?? checkFile(p, ctx.fx.data, 'REST+RETR');
    }
    case 'appe': {
      const name = `appe-${ctx.id}.bin`;
      seedFile(ctx.layout, name, ctx.fx.data.subarray(0, APPE_HEAD));
      const tail = join(ctx.work, 'tail.bin');
      writeFileSync(tail, ctx.fx.data.subarray(APPE_HEAD));
      const { res } = await ftplib(ctx, mode, 'appe', [tail, name]);
      return res ?? checkFile(join(ctx.layout.root, name), ctx.fx.data, 'APPE (server copy)');
    }
    case 'abort': {
      // a short socket timeout: a session left one reply behind hangs on its next read
      const { res } = await ftplib(ctx, mode, 'abort', [], 6);
      return res ?? { ok: true, detail: '' };
    }
    default:
      return fail(`ftplib has no ${op}`);
  }
}

const OPS: Op[] = ['list', 'nlst', 'mlsd', 'retr', 'stor', 'rest', 'appe', 'abort'];

export const ftplibModes: ClientMode[] = (['passive', 'active'] as const).map((mode) => ({
  client: 'ftplib',
  mode,
  name: `ftplib ${mode}`,
  ops: OPS,
  run: (op: Op, ctx: CellContext) => runOp(mode, op, ctx),
}));
