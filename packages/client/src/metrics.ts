import { createServer, type Server } from 'node:http';
import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';

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
  readonly rekeys = new Counter({
    name: 'ftpfwd_ssh_rekeys_total',
    help: 'SSH key exchanges after the first one (RekeyLimit, or started by the server)',
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
}

/**
 * The exposition text of several registries as one: a gateway's destinations each keep their own
 * Metrics (labelled destination="name" by default labels), and one endpoint serves them all. Metric
 * families with the same name are merged (prom-client's aggregator sums equal label sets; distinct
 * destination labels never are equal), so each name appears once, as Prometheus requires.
 */
export async function exposition(registries: Registry[]): Promise<string> {
  const [only, ...more] = registries;
  if (!only) return '';
  if (more.length === 0) return only.metrics();
  const all = await Promise.all(registries.map((r) => r.getMetricsAsJSON()));
  return AggregatorRegistry.aggregate(all).metrics();
}

/** Serves `GET /metrics` for the registries `current()` returns at each request. */
export async function serveRegistries(
  host: string,
  port: number,
  current: () => Registry[],
): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/metrics' || req.url === '/')) {
      exposition(current()).then(
        (body) => {
          res.writeHead(200, { 'content-type': Registry.PROMETHEUS_CONTENT_TYPE });
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
