import { randomBytes } from 'node:crypto';
import { connect, createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FromNetAscii } from './ascii.js';
import { SftpOps } from './sftp.js';
import { SFTP_STATUS } from './status.js';
import { FakeSftp } from './test-support/fake-sftp.js';
import { DataConnectionLost, sftpToSocket, socketToSftp, TransferAborted } from './transfer.js';

const open: Socket[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.destroy();
});

/** A connected loopback pair: [bridge side, FTP client side]. */
async function pair(): Promise<[Socket, Socket]> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const accepted = new Promise<Socket>((r) => server.once('connection', r));
  const c = connect({ port, host: '127.0.0.1' });
  const a = await accepted;
  server.close();
  open.push(a, c);
  return [a, c];
}

function collect(s: Socket): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    s.on('data', (d: Buffer) => parts.push(d));
    s.on('end', () => resolve(Buffer.concat(parts)));
  });
}

async function openFile(fake: FakeSftp, path: string, flags = 1) {
  const ops = new SftpOps(fake as never);
  const h = await ops.open(path, flags);
  return { ops, h };
}

/** Buffer equality without vitest's element-by-element diff (slow on megabytes). */
const same = (a: Buffer | undefined, b: Buffer) => expect(a?.equals(b)).toBe(true);

const OPTS = { chunkSize: 32 * 1024, inFlightBytes: 8 * 32 * 1024, highWater: 256 * 1024 };
const DEPTH = 8;

describe('transfer pump', () => {
  it('downloads with several READs in flight, bytes in order', async () => {
    const fake = new FakeSftp({ latencyMs: 1 });
    const data = randomBytes(3 * 1024 * 1024 + 123);
    fake.put('/f', data);
    const { ops, h } = await openFile(fake, '/f');
    const [a, c] = await pair();
    const got = collect(c);
    const r = await sftpToSocket(ops, h, 0, a, OPTS, new AbortController().signal);
    same(await got, data);
    expect(r).toEqual({ netBytes: data.length, fileBytes: data.length });
    expect(fake.maxInflightReads).toBe(DEPTH);
  });

  it('a server that answers short: the rest is asked for, nothing lost or doubled', async () => {
    const fake = new FakeSftp({ shortReadMax: 1000 });
    const data = randomBytes(200_000);
    fake.put('/f', data);
    const { ops, h } = await openFile(fake, '/f');
    const [a, c] = await pair();
    const got = collect(c);
    await sftpToSocket(ops, h, 5, a, OPTS, new AbortController().signal);
    same(await got, data.subarray(5));
  });

  it('an empty file and a start at its end give nothing, and end the connection', async () => {
    const fake = new FakeSftp();
    fake.put('/e', '');
    fake.put('/f', 'abc');
    for (const [path, start] of [
      ['/e', 0],
      ['/f', 3],
    ] as const) {
      const { ops, h } = await openFile(fake, path);
      const [a, c] = await pair();
      const got = collect(c);
      await sftpToSocket(ops, h, start, a, OPTS, new AbortController().signal);
      expect((await got).length).toBe(0);
    }
  });

  it('memory stays bounded when the FTP client does not read', async () => {
    const fake = new FakeSftp();
    fake.put('/f', randomBytes(32 * 1024 * 1024));
    const { ops, h } = await openFile(fake, '/f');
    const [a, c] = await pair();
    c.pause();
    const ac = new AbortController();
    const p = sftpToSocket(ops, h, 0, a, OPTS, ac.signal);
    await new Promise((r) => setTimeout(r, 300));
    const reads = fake.calls.filter((x) => x === 'read').length;
    // kernel buffers + highWater + depth × chunk, far below the 1024 chunks of the file
    expect(reads * OPTS.chunkSize).toBeLessThan(12 * 1024 * 1024);
    expect(a.writableLength).toBeLessThan(OPTS.highWater + DEPTH * OPTS.chunkSize + 1);
    ac.abort();
    await expect(p).rejects.toBeInstanceOf(TransferAborted);
  });

  it('a READ error and a data connection the client closes reject, each with its kind', async () => {
    const fake = new FakeSftp();
    fake.put('/f', randomBytes(1024 * 1024));
    fake.failReadsAt = { offset: 512 * 1024, code: SFTP_STATUS.FAILURE, message: 'Failure' };
    let { ops, h } = await openFile(fake, '/f');
    let [a, c] = await pair();
    c.resume();
    await expect(sftpToSocket(ops, h, 0, a, OPTS, new AbortController().signal)).rejects.toMatchObject({
      code: SFTP_STATUS.FAILURE,
    });
    fake.failReadsAt = undefined;
    fake.stallReads = true;
    ({ ops, h } = await openFile(fake, '/f'));
    [a, c] = await pair();
    const p = sftpToSocket(ops, h, 0, a, OPTS, new AbortController().signal);
    c.destroy();
    await expect(p).rejects.toBeInstanceOf(DataConnectionLost);
    fake.release();
  });

  it('uploads with several WRITEs in flight, in order, from an offset', async () => {
    const fake = new FakeSftp({ latencyMs: 1 });
    fake.put('/u', 'HEAD');
    const { ops, h } = await openFile(fake, '/u', 2);
    const [a, c] = await pair();
    const data = randomBytes(2 * 1024 * 1024 + 7);
    const p = socketToSftp(ops, h, 4, a, OPTS, new AbortController().signal);
    c.end(data);
    const r = await p;
    expect(r.fileBytes).toBe(data.length);
    same(fake.file('/u'), Buffer.concat([Buffer.from('HEAD'), data]));
    expect(fake.maxInflightWrites).toBeGreaterThan(1);
    expect(fake.maxInflightWrites).toBeLessThanOrEqual(DEPTH);
  });

  it('upload in TYPE A: CRLF stored as LF', async () => {
    const fake = new FakeSftp();
    fake.put('/t', '');
    const { ops, h } = await openFile(fake, '/t', 2);
    const [a, c] = await pair();
    const p = socketToSftp(ops, h, 0, a, OPTS, new AbortController().signal, new FromNetAscii());
    c.write('line 1\r');
    await new Promise((r) => setTimeout(r, 20));
    c.end('\nline 2\r\n');
    await p;
    expect(fake.file('/t')?.toString()).toBe('line 1\nline 2\n');
  });

  it('a WRITE error stops the upload with the SFTP error; a reset connection is DataConnectionLost', async () => {
    const fake = new FakeSftp();
    fake.put('/u', '');
    fake.failWritesAfter = {
      bytes: 100_000,
      code: SFTP_STATUS.PERMISSION_DENIED,
      message: 'Permission denied',
    };
    let { ops, h } = await openFile(fake, '/u', 2);
    let [a, c] = await pair();
    c.on('error', () => {});
    let p = socketToSftp(ops, h, 0, a, OPTS, new AbortController().signal);
    c.write(randomBytes(1024 * 1024));
    await expect(p).rejects.toMatchObject({ code: SFTP_STATUS.PERMISSION_DENIED });
    fake.failWritesAfter = undefined;
    ({ ops, h } = await openFile(fake, '/u', 2));
    [a, c] = await pair();
    p = socketToSftp(ops, h, 0, a, OPTS, new AbortController().signal);
    c.write('partial');
    await new Promise((r) => setTimeout(r, 20));
    c.resetAndDestroy();
    await expect(p).rejects.toBeInstanceOf(DataConnectionLost);
  });
});
