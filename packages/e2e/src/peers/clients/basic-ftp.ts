/**
 * basic-ftp (npm; a dependency of @ftpfwd/e2e), in this process. Passive only: EPSV, falling back to
 * PASV. It cannot choose its source address, so it connects from 127.0.0.1.
 */
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'basic-ftp';
import { seedFile } from '../site.js';
import {
  APPE_HEAD,
  type CellContext,
  type CellResult,
  type ClientMode,
  checkFile,
  fail,
  listingNames,
  type Op,
  partialCopy,
  payload,
} from './types.js';

async function session(
  ctx: CellContext,
  what: string,
  body: (c: Client) => Promise<CellResult>,
): Promise<CellResult> {
  const client = new Client(Math.min(ctx.timeoutMs, 30_000));
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<CellResult>((res) => {
    timer = setTimeout(
      () => res(fail(`${what}: timed out after ${Math.round(ctx.timeoutMs / 1000)} s`)),
      ctx.timeoutMs,
    );
  });
  const work = (async () => {
    try {
      await client.access({
        host: ctx.host,
        port: ctx.port,
        user: ctx.user,
        password: ctx.password,
        secure: false,
      });
      if (ctx.dir) await client.cd(ctx.dir);
      return await body(client);
    } catch (e) {
      return fail(`${what}: ${e instanceof Error ? e.message : String(e)}`);
    }
  })();
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
    client.close();
  }
}

async function runOp(op: Op, ctx: CellContext): Promise<CellResult> {
  switch (op) {
    case 'list':
      return session(ctx, 'list()', async (c) =>
        listingNames(
          (await c.list()).map((f) => f.name).join('\n'),
          'list() (MLSD when the server offers it, else LIST)',
        ),
      );
    case 'retr': {
      const out = join(ctx.work, 'down.bin');
      return session(ctx, 'RETR', async (c) => {
        await c.downloadTo(out, 'data.bin');
        return checkFile(out, ctx.fx.data, 'RETR');
      });
    }
    case 'stor': {
      const name = `up-${ctx.id}.bin`;
      return session(ctx, 'STOR', async (c) => {
        await c.uploadFrom(payload(ctx), name);
        return checkFile(join(ctx.layout.root, name), ctx.fx.data, 'STOR (server copy)');
      });
    }
    case 'rest': {
      const p = partialCopy(ctx);
      return session(ctx, 'REST+RETR', async (c) => {
        await c.downloadTo(p, 'data.bin', statSync(p).size);
        return checkFile(p, ctx.fx.data, 'REST+RETR');
      });
    }
    case 'appe': {
      const name = `appe-${ctx.id}.bin`;
      seedFile(ctx.layout, name, ctx.fx.data.subarray(0, APPE_HEAD));
      const tail = join(ctx.work, 'tail.bin');
      writeFileSync(tail, ctx.fx.data.subarray(APPE_HEAD));
      return session(ctx, 'APPE', async (c) => {
        await c.appendFrom(tail, name);
        return checkFile(join(ctx.layout.root, name), ctx.fx.data, 'APPE (server copy)');
      });
    }
    default:
      return fail(`basic-ftp has no ${op}`);
  }
}

export const basicFtpModes: ClientMode[] = [
  {
    client: 'basic-ftp',
    mode: 'passive',
    name: 'basic-ftp passive',
    ops: ['list', 'retr', 'stor', 'rest', 'appe'],
    run: runOp,
  },
];
