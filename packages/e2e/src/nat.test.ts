/**
 * The plumbing itself, proven: a LAN host reaches a WAN server only through a NAT gateway; the server
 * sees the gateway's WAN address; the capture on the gateway's WAN side is read back and shows the
 * (cleartext) request, marker included. This is also the positive control for the other topologies'
 * "the marker never crosses the WAN" checks: the same capture and search do find it when it is there.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { streamsContaining, tcpConnections } from './pcap.js';
import { useTopology } from './suite.js';

const marker = randomBytes(16).toString('hex');
const SERVER = `require('http').createServer((q, s) => { const a = q.socket.remoteAddress.replace(/^::ffff:/, ''); console.log('peer ' + a); s.end('seen ' + a + '\\n'); }).listen(8080, () => console.log('listening 8080'));`;

describe('NAT plumbing', () => {
  const topo = useTopology('nat', async (t) => {
    const wan = await t.network('wan');
    const lan = await t.network('lan');
    const gw = await t.natGateway({ name: 'gw', lan, wan, captureWan: true });
    const server = await t.host({
      name: 'server',
      networks: [wan],
      plan: { background: [{ name: 'http', argv: ['node', '-e', SERVER], ready: 'listening 8080' }] },
    });
    const client = await t.host({
      name: 'client',
      networks: [lan],
      defaultVia: gw.lanAddress,
      plan: {
        steps: [
          {
            name: 'curl',
            argv: [
              'curl',
              '-sS',
              '-m',
              '20',
              '-H',
              `X-Marker: ${marker}`,
              `http://${server.address(wan)}:8080/`,
            ],
          },
          // The WAN server is unreachable without the gateway: no default route is left to bypass it.
          { name: 'route', argv: ['ip', '-4', 'route', 'show'] },
        ],
      },
    });
    // The same LAN without the gateway route: the engine gives it no way out at all.
    const isolated = await t.host({
      name: 'isolated',
      networks: [lan],
      plan: {
        steps: [
          {
            name: 'curl',
            argv: ['curl', '-sS', '--connect-timeout', '5', `http://${server.address(wan)}:8080/`],
          },
        ],
      },
    });
    return {
      wan,
      lan,
      gw,
      server,
      client,
      steps: await client.steps(),
      isolatedSteps: await isolated.steps(),
    };
  });

  it('the LAN host reaches the WAN server, which sees the gateway WAN address', async () => {
    const { steps, gw, server } = topo();
    const curl = steps.get('curl');
    expect(curl?.code, curl?.stderr).toBe(0);
    expect(curl?.stdout.trim()).toBe(`seen ${gw.wanAddress}`);
    await server.waitForLog(new RegExp(`peer ${gw.wanAddress.replace(/\./g, '\\.')}$`), 10_000);
  });

  it('without the gateway route, a LAN host cannot reach the WAN at all', () => {
    const curl = topo().isolatedSteps.get('curl');
    expect(curl?.code).not.toBe(0);
    expect(curl?.stdout).toBe('');
  });

  it('the LAN host has only its own subnet and the gateway as routes', () => {
    const { steps, gw, lan } = topo();
    const routes = steps.get('route')?.stdout ?? '';
    expect(routes).toContain(`default via ${gw.lanAddress}`);
    expect(routes).toContain(lan.subnet.toString());
    expect(routes.trim().split('\n')).toHaveLength(2);
  });

  it('the capture on the gateway WAN side shows the masqueraded connection and its bytes', async () => {
    const { gw, server } = topo();
    const packets = await gw.wanPackets();
    const conns = tcpConnections(packets);
    expect(conns).toContainEqual(
      expect.objectContaining({ src: gw.wanAddress, dst: server.address(topo().wan), dport: 8080 }),
    );
    expect(conns.every((c) => c.src === gw.wanAddress)).toBe(true);
    expect(streamsContaining(packets, Buffer.from(marker))).toHaveLength(1);
  });
});
