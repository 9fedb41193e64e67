/** GNU wget, passive (default: PASV) and active (--no-passive-ftp: PORT). Downloads only. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { lastLines, run } from '../procs.js';
import { bracket } from '../servers/types.js';
import { remote } from '../site.js';
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
  readText,
} from './types.js';

type Mode = 'passive' | 'active';

async function wget(ctx: CellContext, mode: Mode, args: string[], what: string, cwd = ctx.work) {
  const r = await run(
    'wget',
    [
      '-nv',
      '--tries=1',
      '--timeout=20',
      `--bind-address=${ctx.clientAddr}`,
      `--ftp-user=${ctx.user}`,
      `--ftp-password=${ctx.password}`,
      ...(mode === 'active' ? ['--no-passive-ftp'] : []),
      ...args,
    ],
    { timeoutMs: Math.min(ctx.timeoutMs, 60_000), cwd },
  );
  // wget -nv prints its errors as the last lines on stderr
  const res = r.code === 0 && !r.timedOut ? undefined : failure(what, r, lastLines(r.stderr));
  return { r, res };
}

function url(ctx: CellContext, name: string): string {
  return `ftp://${bracket(ctx.host)}:${ctx.port}/${remote(ctx.dir, name)}`;
}

async function runOp(mode: Mode, op: Op, ctx: CellContext): Promise<CellResult> {
  switch (op) {
    case 'list': {
      // a directory URL: wget LISTs it into .listing (kept) and writes an index page
      const { res } = await wget(
        ctx,
        mode,
        ['--no-remove-listing', '-O', 'index.html', url(ctx, '')],
        'LIST',
      );
      return res ?? listingNames(readText(join(ctx.work, '.listing')), 'LIST');
    }
    case 'retr': {
      const out = join(ctx.work, 'down.bin');
      const { res } = await wget(ctx, mode, ['-O', out, url(ctx, 'data.bin')], 'RETR');
      return res ?? checkFile(out, ctx.fx.data, 'RETR');
    }
    case 'rest': {
      const dir = join(ctx.work, 'rest');
      mkdirSync(dir);
      const p = partialCopy(ctx, 'rest/data.bin');
      const { res } = await wget(ctx, mode, ['-c', url(ctx, 'data.bin')], 'REST+RETR', dir);
      return res ?? checkFile(p, ctx.fx.data, 'REST+RETR');
    }
    case 'mirror': {
      const dest = join(ctx.work, 'mirror');
      const depth = (ctx.dir ? ctx.dir.split('/').length : 0) + 1;
      const { res } = await wget(
        ctx,
        mode,
        ['-r', '-np', '-nH', `--cut-dirs=${depth}`, '-P', dest, url(ctx, 'tree/')],
        'mirror (wget -r)',
      );
      return res ?? checkTree(dest, ctx);
    }
    default:
      return fail(`wget has no ${op}`);
  }
}

const OPS: Op[] = ['list', 'retr', 'rest', 'mirror'];

export const wgetModes: ClientMode[] = (['passive', 'active'] as const).map((mode) => ({
  client: 'wget',
  mode,
  name: `wget ${mode}`,
  ops: OPS,
  run: (op: Op, ctx: CellContext) => runOp(mode, op, ctx),
}));
