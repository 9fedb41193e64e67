import type { Duplex } from 'node:stream';
import type { PasvTarget } from '@ftpfwd/ftp-proxy';
import type { SocketCongestion } from '@ftpfwd/ftp-proxy/transport';
import type { ClientChannel } from 'ssh2';
import type { RemoteConnectionHandler, SshLink } from './link.js';
import type { PortRange } from './listen.js';
import type { Logger } from './logger.js';
import type { Metrics } from './metrics.js';

/** FTP data-channel placement options (CLI: --advertise, --data-ports, --remote-data-*). */
export interface FtpDataOptions {
  pasvTarget: PasvTarget;
  /** Address written into rewritten 227 replies instead of the listener's own. */
  advertise?: string;
  /** Local data listeners use ports from this range. */
  dataPorts?: PortRange;
  /** Remote (SSH server side) data listeners bind here; default 127.0.0.1. */
  remoteDataBind?: string;
  /** Address written into PORT/EPRT sent to the FTP server for a remote data listener. */
  remoteDataAdvertise?: string;
  /** Data listener idle timeout and other engine policy overrides. */
  dataIdleTimeoutMs?: number;
  /** How long a data listener released before it accepted stays open (default 2 s; see one-shot-gate). */
  releaseGraceMs?: number;
}

/**
 * What the FTP data-channel brokers need of an SSH connection: open a direct channel, listen
 * remotely and stop, and the congestion of a channel's SSH socket. SshLink is one; the brokers'
 * unit tests use a fake.
 */
export interface ChannelLink {
  openDirect(srcHost: string, srcPort: number, host: string, port: number): Promise<ClientChannel>;
  listenRemote(bindAddr: string, port: number, handler: RemoteConnectionHandler): Promise<number>;
  unlistenRemote(bindAddr: string, port: number): void;
  congestionOf(channel: Duplex): SocketCongestion | undefined;
}

/** What the FTP data-channel brokers need from the forwarding that owns them. */
export interface BrokerContext {
  link: ChannelLink;
  logger: Logger;
  metrics: Metrics;
  ftp: FtpDataOptions;
}

/** What every forwarding needs from the tunnel that owns it. */
export interface ForwardContext {
  link: SshLink;
  logger: Logger;
  metrics: Metrics;
  /** -g / GatewayPorts: local listeners without explicit bind listen on all interfaces. */
  gatewayPorts: boolean;
  /** How long a new connection waits for a dropped link to come back before it is refused. */
  linkWaitMs: number;
  ftp: FtpDataOptions;
  nextSessionId(): string;
}
