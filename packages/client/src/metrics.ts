import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';

/** Prometheus metrics of one tunnel. Own registry: several tunnels in one process do not collide. */
export class Metrics {
  readonly registry = new Registry();
  readonly sessions = new Counter({
    name: 'ftpfwd_sessions_total',
    help: 'Forwarded connections accepted (FTP control sessions and plain TCP)',
    labelNames: ['protocol', 'direction'] as const,
    registers: [this.registry],
  });
  readonly activeSessions = new Gauge({
    name: 'ftpfwd_sessions_active',
    help: 'Forwarded connections open now',
    labelNames: ['protocol', 'direction'] as const,
    registers: [this.registry],
  });
  readonly dataChannels = new Counter({
    name: 'ftpfwd_ftp_data_channels_total',
    help: 'FTP data channels set up, by command and result',
    labelNames: ['command', 'result'] as const,
    registers: [this.registry],
  });
  readonly bytes = new Counter({
    name: 'ftpfwd_bytes_total',
    help: 'Bytes carried on forwarded control/TCP connections, by direction',
    labelNames: ['protocol', 'direction'] as const,
    registers: [this.registry],
  });
  readonly dataBytes = new Counter({
    name: 'ftpfwd_ftp_data_bytes_total',
    help: 'Bytes carried on FTP data channels, by direction',
    labelNames: ['direction'] as const,
    registers: [this.registry],
  });
  readonly reconnects = new Counter({
    name: 'ftpfwd_reconnects_total',
    help: 'Successful SSH reconnects after a dropped link',
    registers: [this.registry],
  });
  readonly linkUp = new Gauge({
    name: 'ftpfwd_link_up',
    help: '1 while the SSH connection is up',
    registers: [this.registry],
  });
  readonly forwardFailures = new Counter({
    name: 'ftpfwd_forward_failures_total',
    help: 'Forwardings or channels the SSH server refused or that could not be set up',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  /** Serves `GET /metrics` on host:port; resolves the bound address. */
  async serve(host: string, port: number): Promise<{ server: Server; port: number }> {
    const server = createServer((req, res) => {
      if (req.method === 'GET' && (req.url === '/metrics' || req.url === '/')) {
        this.registry.metrics().then(
          (body) => {
            res.writeHead(200, { 'content-type': this.registry.contentType });
            res.end(body);
          },
          () => {
            res.writeHead(500);
            res.end();
          },
        );
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address();
    return { server, port: typeof addr === 'object' && addr ? addr.port : port };
  }
}
