/**
 * The bridge with real FTP clients in front and OpenSSH's real SFTP server behind: curl in all four
 * data-connection modes, lftp, Python's ftplib and basic-ftp. Every byte is compared (sha256) with
 * the file as the SSH server's file system has it.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client as BasicFtp } from 'basic-ftp';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  type Bridge,
  bridgeModule,
  Cleanup,
  PYTHON,
  recordingLogger,
  run,
  sha256,
  sha256File,
  sshConnect,
  startSshd,
  tempDir,
} from './support.js';

const c = new Cleanup();
let bridge: Bridge;
let site: string;
let work: string;
let url: string;
let records: Record<string, unknown>[];
const BIG = randomBytes(24 * 1024 * 1024 + 4321);

beforeAll(async () => {
  const mod = await bridgeModule();
  const sshd = await startSshd(c);
  const client = await sshConnect(c, sshd);
  site = tempDir(c, 'ftpfwd-sftpb-site-');
  work = tempDir(c, 'ftpfwd-sftpb-work-');
  writeFileSync(join(site, 'big.bin'), BIG);
  writeFileSync(join(site, 'text.txt'), 'one\ntwo\nthree\n');
  for (const d of ['tree/a/b', 'tree/c']) mkdirSync(join(site, d), { recursive: true });
  for (const [i, f] of ['tree/x.bin', 'tree/a/y.bin', 'tree/a/b/z.bin', 'tree/c/w.bin'].entries())
    writeFileSync(join(site, f), randomBytes(100_000 * (i + 1)));
  const log = recordingLogger();
  records = log.records;
  bridge = await mod.startSftpBridge({
    listen: { host: '127.0.0.1', port: 0 },
    remoteDir: site,
    jail: true,
    login: 'tunnel',
    openSftp: () => mod.sessionFromClient(client),
    logger: log.logger,
  });
  c.add(() => bridge.close());
  url = `ftp://u:p@127.0.0.1:${bridge.listen.port}`;
});
afterAll(async () => {
  if (process.env.FTPFWD_E2E_LOGS) for (const r of records) console.error(JSON.stringify(r));
  await c.run();
});

async function curl(args: string[]) {
  const r = await run('curl', ['-sS', '--fail', '--max-time', '60', ...args]);
  if (r.code !== 0) throw new Error(`curl ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
  return r;
}

const MODES: [string, string[]][] = [
  ['EPSV', []],
  ['PASV', ['--disable-epsv']],
  ['EPRT', ['-P', '127.0.0.1']],
  ['PORT', ['-P', '127.0.0.1', '--disable-eprt']],
];

describe('curl', () => {
  it.each(MODES)('%s: download and upload, every byte', async (mode, flags) => {
    const out = join(work, `down-${mode}.bin`);
    await curl([...flags, '-o', out, `${url}/big.bin`]);
    expect(sha256File(out)).toBe(sha256(BIG));
    await curl([...flags, '-T', out, `${url}/up-${mode}.bin`]);
    expect(sha256File(join(site, `up-${mode}.bin`))).toBe(sha256(BIG));
  });

  it('resume (-C -) both ways: a partial download is completed, a partial upload appended to', async () => {
    const part = join(work, 'partial.bin');
    writeFileSync(part, BIG.subarray(0, 5_000_000));
    await curl(['-C', '-', '-o', part, `${url}/big.bin`]);
    expect(sha256File(part)).toBe(sha256(BIG));
    writeFileSync(join(site, 'resumed.bin'), BIG.subarray(0, 7_654_321));
    writeFileSync(join(work, 'whole.bin'), BIG);
    await curl(['-C', '-', '-T', join(work, 'whole.bin'), `${url}/resumed.bin`]);
    expect(sha256File(join(site, 'resumed.bin'))).toBe(sha256(BIG));
  });

  it('a listing, and a missing file fails cleanly (550, curl exit 78)', async () => {
    const list = await curl([`${url}/`]);
    expect(list.stdout).toMatch(/^-rw-r--r-- .* big\.bin\r?$/m);
    const r = await run('curl', ['-sS', '--fail', `${url}/nope.bin`]);
    expect(r.code).toBe(78);
  });
});

describe('lftp', () => {
  const lftp = async (cmds: string[]) => {
    const script = [
      'set cmd:fail-exit yes',
      'set net:max-retries 1',
      'set net:timeout 15',
      'set ftp:ssl-allow no',
      `open -u u,p -p ${bridge.listen.port} ftp://127.0.0.1`,
      ...cmds,
    ].join('; ');
    const r = await run('lftp', ['-c', script], { timeoutMs: 120_000 });
    if (r.code !== 0) throw new Error(`lftp: exit ${r.code}: ${r.stderr}${r.stdout}`);
    return r;
  };

  const treeHashes = (root: string): Record<string, string> => {
    const out: Record<string, string> = {};
    const walk = (d: string, rel: string) => {
      for (const n of readdirSync(d)) {
        const p = join(d, n);
        if (statSync(p).isDirectory()) walk(p, `${rel}${n}/`);
        else out[`${rel}${n}`] = sha256File(p);
      }
    };
    walk(root, '');
    return out;
  };

  it('mirror down, then mirror -R up, trees identical', async () => {
    const local = join(work, 'mirror-down');
    await lftp([`mirror tree ${local}`]);
    expect(treeHashes(local)).toEqual(treeHashes(join(site, 'tree')));
    await lftp([`mirror -R ${local} tree-up`]);
    expect(treeHashes(join(site, 'tree-up'))).toEqual(treeHashes(join(site, 'tree')));
  });

  it('mkdir, put, mv, rm, rmdir', async () => {
    writeFileSync(join(work, 'l.txt'), 'lftp was here\n');
    await lftp([
      'mkdir -p made/deeper',
      `put ${join(work, 'l.txt')} -o made/deeper/l.txt`,
      'mv made/deeper/l.txt made/moved.txt',
    ]);
    expect(readFileSync(join(site, 'made/moved.txt'), 'utf8')).toBe('lftp was here\n');
    expect(existsSync(join(site, 'made/deeper/l.txt'))).toBe(false);
    await lftp(['rm made/moved.txt', 'rmdir made/deeper', 'rmdir made']);
    expect(existsSync(join(site, 'made'))).toBe(false);
  });

  it('pget -n 4: four connections, each a REST + RETR of a part, the whole intact', async () => {
    const out = join(work, 'pget.bin');
    await lftp([`pget -n 4 big.bin -o ${out}`]);
    expect(sha256File(out)).toBe(sha256(BIG));
    // the bridge sends each part's RETR on to the end of the file, so lftp stops every part but
    // the last at its end: by closing the data connection or with ABOR (lftp's choice, and its
    // timing decides how far a part got), each a logged 426. The first two parts have 12 MiB or
    // more past their end, more than loopback buffers hold, so at least those two are cut. A cut
    // is logged once the SFTP handle is closed, which can come after lftp has exited: wait for it.
    const cut = () =>
      records.filter(
        (r) => typeof r.msg === 'string' && r.msg.startsWith('transfer aborted') && r.path === '/big.bin',
      );
    await vi.waitFor(() => expect(cut().length).toBeGreaterThanOrEqual(2), {
      timeout: 20_000,
      interval: 100,
    });
    expect(cut().every((r) => typeof r.bytes === 'number')).toBe(true);
  });
});

describe('Python ftplib', () => {
  const py = async (code: string) => {
    const prog = `
import ftplib, hashlib, json, sys
f = ftplib.FTP(timeout=20)
f.connect('127.0.0.1', ${bridge.listen.port})
f.login('u', 'p')
out = {}
${code}
f.quit()
print(json.dumps(out))
`;
    const r = await run(PYTHON, ['-c', prog], { timeoutMs: 90_000 });
    if (r.code !== 0) throw new Error(`python: exit ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  };

  it('MLSD, SIZE, MDTM, REST, and TYPE A lines', async () => {
    const out = await py(`
out['mlsd'] = {n: fa for n, fa in f.mlsd('', ['type', 'size', 'modify', 'perm', 'unique'])}
f.voidcmd('TYPE I')
out['size'] = f.size('big.bin')
out['mdtm'] = f.voidcmd('MDTM big.bin')
h = hashlib.sha256()
f.retrbinary('RETR big.bin', h.update, rest=1000000)
out['rest_sha'] = h.hexdigest()
lines = []
f.retrlines('RETR text.txt', lines.append)
out['lines'] = lines
f.storlines('STOR lines.txt', __import__('io').BytesIO(b'a\\r\\nb\\r\\n'))
`);
    const mlsd = out.mlsd as Record<string, Record<string, string>>;
    expect(mlsd['big.bin']).toMatchObject({ type: 'file', size: String(BIG.length) });
    expect(mlsd['big.bin']?.modify).toMatch(/^\d{14}$/);
    expect(mlsd['big.bin']?.perm).toContain('r');
    expect(mlsd.tree).toMatchObject({ type: 'dir' });
    expect(mlsd['big.bin']?.unique).not.toBe(mlsd['text.txt']?.unique);
    expect(out.size).toBe(BIG.length);
    const m = new Date(statSync(join(site, 'big.bin')).mtimeMs);
    const want = m.toISOString().replace(/[-:T]/g, '').slice(0, 14);
    expect(out.mdtm).toBe(`213 ${want}`);
    expect(out.rest_sha).toBe(sha256(BIG.subarray(1_000_000)));
    expect(out.lines).toEqual(['one', 'two', 'three']);
    expect(readFileSync(join(site, 'lines.txt'), 'utf8')).toBe('a\nb\n');
  });

  it('abort() mid-RETR (ABOR sent urgent): 426 then 226, then NOOP and PWD answer', async () => {
    const out = await py(`
f.voidcmd('TYPE I')
conn = f.transfercmd('RETR big.bin')
got = 0
while got < 1000000:
    b = conn.recv(65536)
    if not b: break
    got += len(b)
out['first'] = f.abort()
try:
    out['second'] = f.getresp()
except ftplib.all_errors as e:
    out['second'] = str(e)
conn.close()
out['noop'] = f.voidcmd('NOOP')
out['pwd'] = f.pwd()
out['size'] = f.size('big.bin')
`);
    expect(String(out.first).slice(0, 3)).toBe('426');
    expect(String(out.second).slice(0, 3)).toBe('226');
    expect(out.noop).toBe('200 NOOP ok');
    expect(out.pwd).toBe('/');
    expect(out.size).toBe(BIG.length);
  });
});

describe('basic-ftp', () => {
  it('list, upload, download, rename, size, remove', async () => {
    const ftp = new BasicFtp(20_000);
    try {
      await ftp.access({
        host: '127.0.0.1',
        port: bridge.listen.port,
        user: 'u',
        password: 'p',
        secure: false,
      });
      const names = (await ftp.list()).map((e) => e.name);
      expect(names).toContain('big.bin');
      await ftp.ensureDir('/basic/dir');
      await ftp.uploadFrom(join(site, 'big.bin'), 'b.bin');
      expect(sha256File(join(site, 'basic/dir/b.bin'))).toBe(sha256(BIG));
      await ftp.rename('b.bin', 'c.bin');
      expect(await ftp.size('c.bin')).toBe(BIG.length);
      const local = join(work, 'basic.bin');
      await ftp.downloadTo(local, 'c.bin');
      expect(sha256File(local)).toBe(sha256(BIG));
      expect((await ftp.lastMod('c.bin')).getTime()).toBeGreaterThan(0);
      await ftp.remove('c.bin');
      expect(existsSync(join(site, 'basic/dir/c.bin'))).toBe(false);
    } finally {
      ftp.close();
    }
  });
});
