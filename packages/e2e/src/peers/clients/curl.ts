/** curl in its four modes: EPSV (default), PASV (--disable-epsv), EPRT (-P), PORT (-P --disable-eprt). */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { lastLines, run } from '../procs.js';
import { bracket } from '../servers/types.js';
import { remote, seedFile } from '../site.js';
import {
  APPE_HEAD,
  type CellContext,
  type CellResult,
  type ClientMode,
  checkFile,
  fail,
  failure,
  listingNames,
  OK,
  type Op,
  partialCopy,
  payload,
} from './types.js';

type CurlMode = 'epsv' | 'pasv' | 'eprt' | 'port';

function modeFlags(mode: CurlMode, addr: string): string[] {
  switch (mode) {
    case 'epsv':
      return [];
    case 'pasv':
      return ['--disable-epsv'];
    case 'eprt':
      return ['-P', addr];
    case 'port':
      return ['-P', addr, '--disable-eprt'];
  }
}

/** curl's exit codes an FTP cell meets (curl(1) "EXIT CODES"). */
const EXIT: Record<number, string> = {
  7: 'failed to connect',
  8: 'weird server reply',
  9: 'access denied',
  12: 'timeout waiting for the server to connect back (active mode)',
  13: 'weird PASV/EPSV reply',
  19: 'RETR failed',
  25: 'upload failed',
  28: 'timeout',
  30: 'PORT/EPRT failed',
  36: 'resume failed',
  56: 'failure receiving data',
  67: 'login denied',
};

/**
 * curl's reason, the last server reply it read and its last remark (from -v): curl's own error text
 * is sometimes stale — in active mode it keeps "sa_addr inet_ntop() failed…" from an earlier,
 * harmless lookup — so a stale text is replaced by what the exit code means.
 */
function curlError(stderr: string, code: number | null): string {
  const lines = stderr.split('\n').map((l) => l.trimEnd());
  let err = lines.filter((l) => l.startsWith('curl:')).pop() ?? lastLines(stderr);
  if (/inet_ntop\(\) failed/.test(err)) err = `curl: (${code}) ${EXIT[code ?? -1] ?? 'error'}`;
  const reply = lines
    .filter((l) => l.startsWith('< '))
    .pop()
    ?.slice(2)
    .trim();
  const remark = lines
    .filter((l) => l.startsWith('* ') && /conn|data|fail|refus|timeout|wait|abort/i.test(l))
    .filter(
      (l) =>
        !/Connected to|left intact|Closing connection|Connecting to|Trying|inet_ntop|Connect data stream|^\* Skip /.test(
          l,
        ),
    )
    .pop()
    ?.slice(2)
    .trim();
  return [err, reply && `last reply: ${reply}`, remark && `curl: ${remark}`].filter(Boolean).join('; ');
}

async function curl(ctx: CellContext, mode: CurlMode, args: string[], what: string, maxSecs = 20) {
  const r = await run(
    'curl',
    [
      '-sS',
      '-v', // the control dialogue on stderr: failure reasons name the server's last reply
      '-g', // [::1] in URLs
      '--max-time',
      String(maxSecs),
      '--interface',
      ctx.clientAddr,
      '-u',
      `${ctx.user}:${ctx.password}`,
      ...modeFlags(mode, ctx.clientAddr),
      ...args,
    ],
    { timeoutMs: (maxSecs + 10) * 1000 },
  );
  const res: CellResult = r.code === 0 && !r.timedOut ? OK : failure(what, r, curlError(r.stderr, r.code));
  return { r, res };
}

function url(ctx: CellContext, name: string): string {
  return `ftp://${bracket(ctx.host)}:${ctx.port}/${remote(ctx.dir, name)}`;
}

async function list(ctx: CellContext, mode: CurlMode, flags: string[], what: string, extra?: RegExp) {
  const { r, res } = await curl(ctx, mode, [...flags, url(ctx, '')], what);
  if (!res.ok) return res;
  return listingNames(r.stdout.toString(), what, extra);
}

async function retr(ctx: CellContext, mode: CurlMode, what = 'RETR') {
  const out = join(ctx.work, `down-${what}.bin`);
  const { res } = await curl(ctx, mode, ['-o', out, url(ctx, 'data.bin')], what);
  return res.ok ? checkFile(out, ctx.fx.data, what) : res;
}

async function stor(ctx: CellContext, mode: CurlMode, what = 'STOR') {
  const name = `up-${ctx.id}.bin`;
  const { res } = await curl(ctx, mode, ['-T', payload(ctx), url(ctx, name)], what);
  return res.ok ? checkFile(join(ctx.layout.root, name), ctx.fx.data, `${what} (server copy)`) : res;
}

async function all(...steps: (() => Promise<CellResult>)[]): Promise<CellResult> {
  for (const s of steps) {
    const r = await s();
    if (!r.ok) return r;
  }
  return OK;
}

async function race20(ctx: CellContext, mode: CurlMode): Promise<CellResult> {
  let listFails = 0;
  let retrFails = 0;
  let first = '';
  for (let i = 0; i < 20; i++) {
    const l = await curl(ctx, mode, [url(ctx, '')], `LIST #${i + 1}`, 10);
    const lr = l.res.ok ? listingNames(l.r.stdout.toString(), `LIST #${i + 1}`) : l.res;
    if (!lr.ok) {
      listFails++;
      first ||= lr.detail;
    }
    const out = join(ctx.work, `small-${i}.bin`);
    const g = await curl(ctx, mode, ['-o', out, url(ctx, 'small.bin')], `RETR #${i + 1}`, 10);
    const gr = g.res.ok ? checkFile(out, ctx.fx.small, `RETR #${i + 1}`) : g.res;
    if (!gr.ok) {
      retrFails++;
      first ||= gr.detail;
    }
  }
  if (listFails + retrFails === 0) return OK;
  return fail(`${listFails}/20 LIST and ${retrFails}/20 RETR failed; first: ${first}`);
}

async function runOp(mode: CurlMode, op: Op, ctx: CellContext): Promise<CellResult> {
  switch (op) {
    case 'list':
      return list(ctx, mode, [], 'LIST');
    case 'nlst':
      return list(ctx, mode, ['-l'], 'NLST');
    case 'mlsd':
      return list(ctx, mode, ['-X', 'MLSD'], 'MLSD', /type=file/i);
    case 'retr':
      return retr(ctx, mode);
    case 'stor':
      return stor(ctx, mode);
    case 'rest': {
      const p = partialCopy(ctx);
      const { res } = await curl(ctx, mode, ['-C', '-', '-o', p, url(ctx, 'data.bin')], 'REST+RETR');
      return res.ok ? checkFile(p, ctx.fx.data, 'REST+RETR') : res;
    }
    case 'appe': {
      const name = `appe-${ctx.id}.bin`;
      seedFile(ctx.layout, name, ctx.fx.data.subarray(0, APPE_HEAD));
      const tail = join(ctx.work, 'tail.bin');
      writeFileSync(tail, ctx.fx.data.subarray(APPE_HEAD));
      const { res } = await curl(ctx, mode, ['-a', '-T', tail, url(ctx, name)], 'APPE');
      return res.ok ? checkFile(join(ctx.layout.root, name), ctx.fx.data, 'APPE (server copy)') : res;
    }
    case 'race20':
      return race20(ctx, mode);
    case 'ipv6-passive':
    case 'ipv6-pasv':
    case 'ipv6-active':
    case 'v4-to-v6-active':
      return all(
        () => list(ctx, mode, [], 'LIST'),
        () => retr(ctx, mode),
        () => stor(ctx, mode),
      );
    default:
      return fail(`curl has no ${op}`);
  }
}

const BASIC: Op[] = ['list', 'nlst', 'mlsd', 'retr', 'stor', 'rest', 'appe'];
const EXTRA: Record<CurlMode, Op[]> = {
  epsv: ['ipv6-passive'],
  pasv: ['ipv6-pasv'],
  eprt: ['race20', 'ipv6-active'],
  port: ['race20', 'v4-to-v6-active'],
};

export const curlModes: ClientMode[] = (['epsv', 'pasv', 'eprt', 'port'] as const).map((mode) => ({
  client: 'curl',
  mode,
  name: `curl ${mode}`,
  ops: [...BASIC, ...EXTRA[mode]],
  run: (op: Op, ctx: CellContext) => runOp(mode, op, ctx),
}));
