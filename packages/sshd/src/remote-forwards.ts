/**
 * Remote forwards of one connection (`tcpip-forward`, RFC 4254 §7.1): the policy that grants a
 * listener (permit-listen rules, the key's permitlisten=, an FTP active-mode slot while an FTP
 * control channel is open), the listener itself, each connection it accepts as a `forwarded-tcpip`
 * channel back to the client, and cancelling.
 */
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import { listenPort } from '@ftpfwd/ftp-proxy/transport';
import type { ServerChannel, TcpipBindInfo } from 'ssh2';
import {
  type ConnectionScope,
  describeRules,
  forwardingBlocked,
  isSaneHost,
  isValidPort,
} from './channels.js';
import { matchPermitListen, normalizeAddress, type PermitListenRule, resolveBindAddress } from './policy.js';

interface RemoteForward {
  /** Address as the client asked for it (sent back in forwarded-tcpip, matched on cancel). */
  requestedAddr: string;
  bindAddr: string;
  port: number;
  server: NetServer;
  /** An FTP active-mode slot: one connection, from the FTP server, after PORT/EPRT named it. */
  ftpSlot: boolean;
}

type Accept = ((port?: number) => void) | undefined;
type Reject = (() => void) | undefined;

const fwdKey = (f: { bindAddr: string; port: number }): string => `${f.bindAddr}|${f.port}`;

export class RemoteForwards {
  /** Keyed by bound address and port: with clientspecified, one port may be bound on two addresses. */
  private readonly forwards = new Map<string, RemoteForward>();
  /** FTP slots this server closed itself (used or expired): the client's later cancel is no error. */
  private readonly retiredSlots = new Set<number>();
  private pendingListens = 0;

  constructor(
    private readonly s: ConnectionScope,
    /** A listener closed (the connection may be draining). */
    private readonly onClosed: () => void,
  ) {}

  get size(): number {
    return this.forwards.size;
  }

  /** The bind address of this connection's own (non-slot) remote forward on `port`, if any. */
  ownForward(port: number): string | undefined {
    for (const f of this.forwards.values()) if (f.port === port && !f.ftpSlot) return f.bindAddr;
    return undefined;
  }

  /** Closes every listener (draining, or the connection is gone). */
  closeAll(why: string): void {
    for (const fwd of [...this.forwards.values()]) this.close(fwd, why);
  }

  request(accept: Accept, reject: Reject, info: TcpipBindInfo): void {
    const { s } = this;
    const requested = `${info.bindAddr}:${info.bindPort}`;
    const refuse = (rule: string): void => {
      s.log.info(
        { event: 'forward', kind: 'tcpip-forward', target: requested, allowed: false, rule },
        'remote forward refused',
      );
      s.emit('forward', { connection: s.id, kind: 'tcpip-forward', target: requested, allowed: false, rule });
      reject?.();
    };
    if (s.isDraining()) {
      refuse('server is shutting down');
      return;
    }
    // The wire format allows any uint32 (and any string): refuse what no socket API would take.
    if (!isValidPort(info.bindPort) || !isSaneHost(info.bindAddr, true)) {
      refuse('malformed request (address or port out of range)');
      return;
    }
    const blocked = forwardingBlocked(s, 'remote');
    if (blocked) {
      refuse(blocked);
      return;
    }
    if (this.forwards.size + this.pendingListens >= s.opts.limits.maxChannelsPerConnection) {
      refuse('max-channels (listeners)');
      return;
    }
    const login = s.login();
    const serverRules: PermitListenRule[] = login?.userEntry?.permitListen ?? s.opts.permitListen;
    const serverMatch = matchPermitListen(serverRules, info.bindAddr, info.bindPort);
    const keyRules = login?.restrictions?.permitListen;
    const keyMatch = keyRules ? matchPermitListen(keyRules, info.bindAddr, info.bindPort) : undefined;
    let rule: string;
    let ftpSlot = false;
    if (serverMatch && (!keyRules || keyMatch)) {
      rule = `permit-listen ${serverMatch.spec}${keyMatch ? ` + permitlisten="${keyMatch.spec}"` : ''}`;
    } else if (info.bindPort === 0 && s.ftp.mayOpenSlot()) {
      rule = 'FTP active-mode slot (open FTP control channel)';
      ftpSlot = true;
    } else {
      refuse(
        serverMatch ? `permitlisten= of key ${login?.keyRef}` : `permit-listen ${describeRules(serverRules)}`,
      );
      return;
    }
    const bindAddr = resolveBindAddress(s.opts.gatewayPorts, info.bindAddr);
    const server = createServer({ pauseOnConnect: true, allowHalfOpen: true });
    this.pendingListens += 1;
    // Port 0 (every FTP active-mode slot) is picked by listenPort: the kernel's own port-0 search
    // slows down with the TIME_WAIT connections earlier transfers leave.
    listenPort(server, bindAddr, info.bindPort).then(
      s.guarded((port: number) => {
        this.pendingListens -= 1;
        if (s.isClosed() || s.isDraining()) {
          server.close();
          reject?.();
          return;
        }
        this.listening({ requestedAddr: info.bindAddr, bindAddr, port, server, ftpSlot }, requested, rule);
        accept?.(port);
      }),
      s.guarded((err: NodeJS.ErrnoException) => {
        this.pendingListens -= 1;
        refuse(`listen on ${bindAddr}:${info.bindPort} failed: ${err.code ?? err.message}`);
      }),
    );
  }

  private listening(fwd: RemoteForward, requested: string, rule: string): void {
    const { s } = this;
    const { server, port, bindAddr } = fwd;
    server.on('error', (err) =>
      s.log.warn({ event: 'listener-error', port, err: err.message }, 'remote-forward listener error'),
    );
    this.forwards.set(fwdKey(fwd), fwd);
    if (fwd.ftpSlot) {
      s.ftp.openSlot(port, bindAddr);
      // The slot lives as long as its permit: close the listener when it expires unused.
      const t = setTimeout(() => {
        if (this.forwards.get(fwdKey(fwd)) === fwd && !s.ftp.hasSlot(port))
          this.close(fwd, 'FTP slot expired');
      }, s.opts.limits.ftpPermitTimeoutMs + 50);
      t.unref();
      server.once('close', () => clearTimeout(t));
    }
    server.on(
      'connection',
      s.guarded((sock: Socket) => this.connection(fwd, sock)),
    );
    const listen = `${bindAddr}:${port}`;
    // A one-shot FTP slot is one per active-mode transfer: debug (its data channel is audited).
    if (fwd.ftpSlot)
      s.log.debug(
        { event: 'forward', kind: 'tcpip-forward', target: requested, listen, allowed: true, rule },
        'FTP active-mode slot listening',
      );
    else
      s.log.info(
        { event: 'forward', kind: 'tcpip-forward', target: requested, listen, allowed: true, rule },
        'remote forward listening',
      );
    s.emit('forward', {
      connection: s.id,
      kind: 'tcpip-forward',
      target: requested,
      allowed: true,
      rule,
      port,
    });
  }

  private connection(fwd: RemoteForward, sock: Socket): void {
    const { s } = this;
    s.touch();
    sock.setNoDelay(true);
    sock.on('error', () => {});
    const peer = `${normalizeAddress(sock.remoteAddress ?? '?')}:${sock.remotePort ?? 0}`;
    const target = `${fwd.bindAddr}:${fwd.port}`;
    let rule = 'remote forward';
    let command: string | undefined;
    if (fwd.ftpSlot) {
      const d = s.ftp.admitActive(fwd.port, sock.remoteAddress ?? '');
      if (!d.ok) {
        s.log.info(
          {
            event: 'forward',
            kind: 'forwarded-tcpip',
            user: s.login()?.user,
            target,
            peer,
            allowed: false,
            rule: d.reason,
          },
          'connection to FTP slot refused',
        );
        s.emit('forward', {
          connection: s.id,
          kind: 'forwarded-tcpip',
          target,
          allowed: false,
          rule: d.reason,
        });
        sock.destroy();
        return;
      }
      rule = d.reason;
      command = d.command;
      // One connection per slot: stop listening now (the accepted socket lives on).
      this.close(fwd, 'FTP slot used');
    }
    const client = s.client();
    if (!client || s.isClosed() || s.isDraining() || !s.channels.reserve()) {
      sock.destroy();
      return;
    }
    client.forwardOut(
      fwd.requestedAddr,
      fwd.port,
      sock.remoteAddress ?? '',
      sock.remotePort ?? 0,
      s.guarded((err: Error | undefined, channel: ServerChannel) => {
        if (err || s.isClosed()) {
          s.channels.unreserve();
          s.log.info(
            {
              event: 'forward',
              kind: 'forwarded-tcpip',
              target,
              peer,
              allowed: true,
              rule,
              error: err?.message,
            },
            'client refused forwarded-tcpip',
          );
          sock.destroy();
          channel?.close();
          return;
        }
        if (fwd.ftpSlot)
          s.log.info(
            {
              event: 'forward',
              kind: 'forwarded-tcpip',
              user: s.login()?.user,
              command,
              target,
              peer,
              allowed: true,
              rule,
            },
            'forwarded-tcpip opened (FTP data)',
          );
        else
          s.log.info(
            { event: 'forward', kind: 'forwarded-tcpip', target, peer, allowed: true, rule },
            'forwarded-tcpip opened',
          );
        s.emit('forward', { connection: s.id, kind: 'forwarded-tcpip', target, allowed: true, rule });
        sock.resume();
        s.channels.run(channel, sock, `${peer}->${target}`, fwd.ftpSlot);
      }),
    );
  }

  cancel(accept: (() => void) | undefined, reject: Reject, info: TcpipBindInfo): void {
    const fwd = [...this.forwards.values()].find(
      (f) => f.port === info.bindPort && (f.requestedAddr === info.bindAddr || f.bindAddr === info.bindAddr),
    );
    if (!fwd && this.retiredSlots.delete(info.bindPort)) {
      accept?.();
      return;
    }
    if (!fwd) {
      this.s.log.info(
        {
          event: 'forward',
          kind: 'cancel-tcpip-forward',
          target: `${info.bindAddr}:${info.bindPort}`,
          allowed: false,
        },
        'cancel for an unknown forward',
      );
      reject?.();
      return;
    }
    this.close(fwd, 'cancelled by client');
    accept?.();
  }

  private close(fwd: RemoteForward, why: string): void {
    if (this.forwards.get(fwdKey(fwd)) !== fwd) return;
    this.forwards.delete(fwdKey(fwd));
    if (fwd.ftpSlot) {
      this.s.ftp.closeSlot(fwd.port);
      if (why !== 'cancelled by client') {
        this.retiredSlots.add(fwd.port);
        if (this.retiredSlots.size > 64)
          this.retiredSlots.delete(this.retiredSlots.values().next().value as number);
      }
    }
    fwd.server.close();
    this.s.log.debug({ event: 'listener-close', port: fwd.port, why }, 'remote-forward listener closed');
    this.onClosed();
  }
}
