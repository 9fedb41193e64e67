import { FtpControlSession } from '../session.js';
import type {
  ActiveRequest,
  DataChannelBroker,
  DataChannelLease,
  DataConnectionProgress,
  Endpoint,
  PassiveRequest,
  SessionContext,
  SessionEvent,
  SessionPolicy,
} from '../types.js';

/** A broker that records what it was asked and hands out predictable endpoints. */
export class RecordingBroker implements DataChannelBroker {
  readonly passive: PassiveRequest[] = [];
  readonly active: ActiveRequest[] = [];
  readonly released: Endpoint[] = [];
  private nextPort = 40000;
  /** Set to make the next calls fail (or hang: 'hang'). */
  failWith: Error | 'hang' | undefined;
  advertiseHost = '127.0.0.1';
  /** Given to active-mode leases: how far their data connection has got (see DataChannelLease). */
  dataConnection: (() => DataConnectionProgress) | undefined;

  async openPassive(request: PassiveRequest, _ctx: SessionContext): Promise<DataChannelLease> {
    this.passive.push(request);
    return this.lease();
  }

  async openActive(request: ActiveRequest, _ctx: SessionContext): Promise<DataChannelLease> {
    this.active.push(request);
    const lease = await this.lease();
    return this.dataConnection ? { ...lease, dataConnection: this.dataConnection } : lease;
  }

  private lease(): Promise<DataChannelLease> {
    if (this.failWith === 'hang') return new Promise(() => {});
    if (this.failWith) return Promise.reject(this.failWith);
    const endpoint = { host: this.advertiseHost, port: this.nextPort++ };
    let released = false;
    return Promise.resolve({
      endpoint,
      release: () => {
        if (released) return;
        released = true;
        this.released.push(endpoint);
      },
    });
  }
}

export const CONTEXT: SessionContext = {
  sessionId: 't1',
  clientAddress: { host: '127.0.0.2', port: 50000 },
  controlLocalAddress: { host: '127.0.0.1', port: 2121 },
  serverAddress: { host: 'ftp.internal', port: 21 },
};

/** A session wired to byte collectors, for transcript tests. */
export function harness(
  policy: Partial<SessionPolicy> = {},
  broker = new RecordingBroker(),
  context = CONTEXT,
) {
  const toClient: Buffer[] = [];
  const toServer: Buffer[] = [];
  const events: SessionEvent[] = [];
  let fatal: Error | undefined;
  const session = new FtpControlSession({
    broker,
    context,
    policy,
    toClient: (b) => toClient.push(Buffer.from(b)),
    toServer: (b) => toServer.push(Buffer.from(b)),
    onEvent: (e) => events.push(e),
    onFatal: (e) => {
      fatal = e;
    },
  });
  return {
    session,
    broker,
    events,
    client: () => Buffer.concat(toClient).toString('latin1'),
    server: () => Buffer.concat(toServer).toString('latin1'),
    clientBytes: () => Buffer.concat(toClient),
    serverBytes: () => Buffer.concat(toServer),
    fatal: () => fatal,
  };
}

/** Lets pending broker promises settle. */
export const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Transcript helpers: feed one side, let broker promises settle. */
type Harness = ReturnType<typeof harness>;
export const client = async (h: Harness, text: string) => {
  h.session.fromClient(Buffer.from(text, 'latin1'));
  await settle();
};
export const server = async (h: Harness, text: string) => {
  h.session.fromServer(Buffer.from(text, 'latin1'));
  await settle();
};
export const login = async (h: Harness) => {
  await server(h, '220 acceptance\r\n');
  await client(h, 'USER anonymous\r\n');
  await server(h, '331 Password required\r\n');
  await client(h, 'PASS x\r\n');
  await server(h, '230 Logged in\r\n');
};
export const LOGIN_CLIENT = '220 acceptance\r\n331 Password required\r\n230 Logged in\r\n';
export const LOGIN_SERVER = 'USER anonymous\r\nPASS x\r\n';
