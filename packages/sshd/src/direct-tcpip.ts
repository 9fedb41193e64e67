/**
 * `direct-tcpip` channels of one connection: the policy that decides (permit-open rules, the key's
 * permitopen=, the FTP data permits of its control channels), the connect to the target with its
 * timeout, and the relay once both ends are up. Every decision is logged with the rule that made it.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { rejectChannel } from '@ftpfwd/ftp-proxy/transport';
import type { AcceptConnection, Channel, RejectConnection, TcpipRequestInfo } from 'ssh2';
import {
  type ConnectionScope,
  describeRules,
  forwardingBlocked,
  isSaneHost,
  isValidPort,
  OPEN_FAILURE,
} from './channels.js';
import { matchPermitOpen, type PermitOpenRule } from './policy.js';

interface OpenDecision {
  ok: boolean;
  rule: string;
  /** An FTP-aware control channel (`host:port/ftp`). */
  ftp: boolean;
  /** The FTP rule names the server (not a wildcard): a 227's other host may be trusted. */
  ftpHostNamed: boolean;
  /** The FTP data permit it used: its control channel's id. */
  ftpData?: string;
  command?: string;
}

export class DirectTcpip {
  /** Targets being connected to (destroyed if the connection closes first). */
  private readonly pending = new Set<Socket>();

  constructor(private readonly s: ConnectionScope) {}

  /** Closes connects still under way (the connection closed). */
  abort(): void {
    for (const sock of this.pending) sock.destroy();
  }

  handle(accept: AcceptConnection<Channel>, reject: RejectConnection, info: TcpipRequestInfo): void {
    const { s } = this;
    s.touch();
    const host = info.destIP;
    const port = info.destPort;
    const target = `${host}:${port}`;
    const refuse = (reason: number, description: string): void =>
      rejectChannel(s.client(), reject, reason, description);
    if (s.isDraining()) {
      refuse(OPEN_FAILURE.ADMINISTRATIVELY_PROHIBITED, 'server is shutting down');
      return;
    }
    // Before the policy: a refused-for-capacity channel must not use up a one-shot FTP permit.
    if (!s.channels.reserve()) {
      s.log.warn(
        { event: 'forward', kind: 'direct-tcpip', target, allowed: false, rule: 'max-channels' },
        'too many channels',
      );
      refuse(OPEN_FAILURE.RESOURCE_SHORTAGE, 'ftpfwd-sshd: too many open channels');
      return;
    }
    if (!isValidPort(port) || port === 0 || !isSaneHost(host, false)) {
      s.channels.unreserve();
      s.log.info(
        { event: 'forward', kind: 'direct-tcpip', target, allowed: false, rule: 'malformed request' },
        'direct-tcpip refused',
      );
      refuse(OPEN_FAILURE.ADMINISTRATIVELY_PROHIBITED, 'ftpfwd-sshd: malformed destination');
      return;
    }
    const decision = this.decide(host, port);
    if (!decision.ok) {
      s.channels.unreserve();
      s.log.info(
        {
          event: 'forward',
          kind: 'direct-tcpip',
          user: s.login()?.user,
          target,
          allowed: false,
          rule: decision.rule,
        },
        'direct-tcpip refused',
      );
      s.emit('forward', {
        connection: s.id,
        kind: 'direct-tcpip',
        target,
        allowed: false,
        rule: decision.rule,
      });
      refuse(
        OPEN_FAILURE.ADMINISTRATIVELY_PROHIBITED,
        `ftpfwd-sshd: forwarding to ${target} is not permitted`,
      );
      return;
    }
    this.connect(host, port, decision, accept, refuse);
  }

  private decide(host: string, port: number): OpenDecision {
    const { s } = this;
    const blocked = forwardingBlocked(s, 'local');
    if (blocked) return { ok: false, rule: blocked, ftp: false, ftpHostNamed: false };
    const login = s.login();
    const serverRules: PermitOpenRule[] = login?.userEntry?.permitOpen ?? s.opts.permitOpen;
    const serverMatch = matchPermitOpen(serverRules, host, port);
    const keyRules = login?.restrictions?.permitOpen;
    const keyMatch = keyRules ? matchPermitOpen(keyRules, host, port) : undefined;
    if (serverMatch && (!keyRules || keyMatch)) {
      const ftpRules = [serverMatch, keyMatch].filter(
        (r): r is Extract<PermitOpenRule, { kind: 'hostport' }> => r?.kind === 'hostport' && r.ftp,
      );
      const rule = keyMatch
        ? `permit-open ${serverMatch.spec} + permitopen="${keyMatch.spec}"`
        : `permit-open ${serverMatch.spec}`;
      // A 227 naming another host is believed only if a rule names this FTP server, not a wildcard.
      return { ok: true, rule, ftp: ftpRules.length > 0, ftpHostNamed: ftpRules.some((r) => r.host !== '*') };
    }
    // Not permitted by a rule: perhaps a data channel an FTP control channel of this connection announced.
    const permit = s.ftp.takePassive(host, port);
    if (permit.ok) {
      return {
        ok: true,
        rule: permit.reason,
        ftp: false,
        ftpHostNamed: false,
        ftpData: permit.controlId,
        command: permit.command,
      };
    }
    const rule = serverMatch
      ? `permitopen= of key ${login?.keyRef}`
      : `permit-open ${describeRules(serverRules)}`;
    return { ok: false, rule, ftp: false, ftpHostNamed: false };
  }

  /** Connects to the target, then accepts the channel and relays (or refuses with the reason). */
  private connect(
    host: string,
    port: number,
    decision: OpenDecision,
    accept: AcceptConnection<Channel>,
    refuse: (reason: number, description: string) => void,
  ): void {
    const { s } = this;
    const target = `${host}:${port}`;
    const timeoutMs = s.opts.limits.connectTimeoutMs;
    const sock = netConnect({ host, port, allowHalfOpen: true });
    sock.setNoDelay(true);
    this.pending.add(sock);
    let settled = false;
    const timer = setTimeout(() => sock.destroy(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    timer.unref();
    sock.once(
      'error',
      s.guarded((err: NodeJS.ErrnoException) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.pending.delete(sock);
        s.channels.unreserve();
        const why = err.code ?? err.message;
        s.log.info(
          { event: 'forward', kind: 'direct-tcpip', target, allowed: true, rule: decision.rule, error: why },
          'direct-tcpip connect failed',
        );
        s.emit('forward', {
          connection: s.id,
          kind: 'direct-tcpip',
          target,
          allowed: true,
          rule: decision.rule,
          error: why,
        });
        if (!s.isClosed()) refuse(OPEN_FAILURE.CONNECT_FAILED, `connect to ${target} failed: ${why}`);
      }),
    );
    sock.once(
      'connect',
      s.guarded(() => {
        settled = true;
        clearTimeout(timer);
        this.pending.delete(sock);
        const channel = s.isClosed() ? undefined : accept();
        if (!channel) {
          s.channels.unreserve();
          sock.destroy();
          return;
        }
        // Every channel an FTP announcement permitted is audited at info, with its user and command.
        if (decision.ftpData)
          s.log.info(
            {
              event: 'forward',
              kind: 'direct-tcpip',
              user: s.login()?.user,
              command: decision.command,
              target,
              allowed: true,
              rule: decision.rule,
            },
            'direct-tcpip opened (FTP data)',
          );
        else
          s.log.info(
            {
              event: 'forward',
              kind: 'direct-tcpip',
              target,
              allowed: true,
              rule: decision.rule,
              ftp: decision.ftp || undefined,
            },
            'direct-tcpip opened',
          );
        s.emit('forward', {
          connection: s.id,
          kind: 'direct-tcpip',
          target,
          allowed: true,
          rule: decision.rule,
        });
        if (decision.ftp) {
          const server = sock.remoteAddress ?? host;
          s.channels.runControl(
            channel,
            sock,
            target,
            (outputs) => s.ftp.open(host, server, decision.ftpHostNamed, outputs),
            s.ftp,
          );
        } else {
          s.channels.run(channel, sock, target, decision.ftpData !== undefined);
        }
      }),
    );
  }
}
