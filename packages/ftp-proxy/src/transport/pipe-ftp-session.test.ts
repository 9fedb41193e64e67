import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CONTEXT, RecordingBroker } from '../engine/test-support/recording-broker.js';
import type { SessionEvent } from '../engine/types.js';
import { pipeFtpSession } from './pipe-ftp-session.js';

/** A connected pair of real TCP sockets on loopback. */
async function socketPair(): Promise<{ a: Socket; b: Socket; server: Server }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const accepted = once(server, 'connection');
  const a = connect(port, '127.0.0.1');
  const [b] = (await accepted) as [Socket];
  await once(a, 'connect');
  return { a, b, server };
}

const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function rig(onEvent?: (e: SessionEvent) => void) {
  const c = await socketPair(); // c.a = FTP client, c.b = proxy's client side
  const s = await socketPair(); // s.a = proxy's server side, s.b = FTP server
  cleanups.push(() => {
    for (const x of [c.a, c.b, s.a, s.b]) x.destroy();
    c.server.close();
    s.server.close();
  });
  const broker = new RecordingBroker();
  const handle = pipeFtpSession({
    client: c.b,
    server: s.a,
    broker,
    context: CONTEXT,
    closeGraceMs: 200,
    onEvent,
  });
  return { ftpClient: c.a, ftpServer: s.b, handle, broker };
}

function reader(socket: Socket) {
  let buf = '';
  socket.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
  });
  return async (until: string) => {
    for (let i = 0; i < 200 && !buf.includes(until); i++) await new Promise((r) => setTimeout(r, 5));
    return buf;
  };
}

describe('pipeFtpSession over real sockets', () => {
  it('rewrites a 227 end to end and counts bytes', async () => {
    const { ftpClient, ftpServer, handle } = await rig();
    const seenByClient = reader(ftpClient);
    const seenByServer = reader(ftpServer);
    ftpServer.write('220 ready\r\n');
    ftpClient.write('PASV\r\n');
    expect(await seenByServer('PASV\r\n')).toBe('PASV\r\n');
    ftpServer.write('227 Entering Passive Mode (192,0,2,1,4,1).\r\n');
    expect(await seenByClient('(127')).toBe('220 ready\r\n227 Entering Passive Mode (127,0,0,1,156,64).\r\n');
    ftpClient.write('QUIT\r\n');
    await seenByServer('QUIT');
    ftpServer.end('221 bye\r\n'); // the server closes after its last reply
    expect(await seenByClient('221')).toMatch(/221 bye\r\n$/);
    const stats = await handle.closed;
    expect(stats).toMatchObject({ bytesFromClient: 12, dataChannelsOpened: 1, dataChannelsFailed: 0 });
    expect(stats.bytesFromServer).toBe(
      '220 ready\r\n227 Entering Passive Mode (192,0,2,1,4,1).\r\n221 bye\r\n'.length,
    );
  });

  it('closeWithReply sends the reply to the FTP client and closes both sides', async () => {
    const { ftpClient, ftpServer, handle } = await rig();
    const seenByClient = reader(ftpClient);
    const serverClosed = once(ftpServer, 'close');
    handle.closeWithReply(421, 'Service not available, SSH link lost');
    expect(await seenByClient('\r\n')).toBe('421 Service not available, SSH link lost\r\n');
    await serverClosed;
    await handle.closed;
  });

  it('a reset on the server side ends the session with the error reported as an event, not thrown', async () => {
    const events: SessionEvent[] = [];
    const { ftpClient, ftpServer, handle } = await rig((e) => events.push(e));
    const clientClosed = once(ftpClient, 'close');
    ftpServer.resetAndDestroy();
    const stats = await handle.closed;
    await clientClosed;
    expect(stats.error?.message).toMatch(/ECONNRESET/);
    expect(events).toContainEqual({
      type: 'stream-error',
      side: 'server',
      reason: expect.stringMatching(/ECONNRESET/),
    });
  });

  it('a hostile server line closes the session with 421', async () => {
    const { ftpClient, ftpServer, handle } = await rig();
    const seenByClient = reader(ftpClient);
    ftpServer.write(Buffer.alloc(10_000, 0x41));
    expect(await seenByClient('\r\n')).toBe(
      '421 Service not available: the FTP server sent an invalid reply.\r\n',
    );
    const stats = await handle.closed;
    expect(stats.error?.name).toBe('FtpProtocolError');
  });
});
