import { describe, expect, it } from 'vitest';
import { FtpPermitTable } from './ftp-permits.js';

function table() {
  let now = 0;
  const t = new FtpPermitTable({ ttlMs: 1000, maxPerControl: 2, now: () => now });
  t.controlOpened({
    id: 'c1/ftp1',
    requestedHost: 'ftp.example',
    serverAddress: '192.0.2.10',
    trustAnnouncedHost: true,
  });
  return { t, advance: (ms: number) => (now += ms) };
}

describe('FTP passive permits', () => {
  it('permit one direct-tcpip to the announced port, at the control host or the announced one', () => {
    const { t } = table();
    expect(t.addPassive('c1/ftp1', '192.0.2.10', 40001)).toBe(true);
    expect(t.takePassive('ftp.example', 40002).ok).toBe(false);
    expect(t.takePassive('198.51.100.1', 40001).ok).toBe(false);
    expect(t.takePassive('ftp.example', 40001)).toMatchObject({ ok: true, controlId: 'c1/ftp1' });
    expect(t.takePassive('ftp.example', 40001).ok).toBe(false); // used once
    expect(t.addPassive('c1/ftp1', '10.1.1.1', 40003)).toBe(true);
    expect(t.takePassive('10.1.1.1', 40003).ok).toBe(true); // the announced host as is
  });

  it('under a wildcard rule, only the control connection host: the client chose that server', () => {
    const t = new FtpPermitTable({ ttlMs: 1000, maxPerControl: 4 });
    t.controlOpened({
      id: 'c1/ftp1',
      requestedHost: 'evil.example',
      serverAddress: '198.51.100.9',
      trustAnnouncedHost: false,
    });
    expect(t.addPassive('c1/ftp1', '10.0.0.5', 22)).toBe(true);
    expect(t.takePassive('10.0.0.5', 22).ok).toBe(false);
    expect(t.takePassive('198.51.100.9', 22).ok).toBe(true);
  });

  it('expire, die with their control channel, and are bounded per control', () => {
    const { t, advance } = table();
    t.addPassive('c1/ftp1', '192.0.2.10', 40001);
    advance(1000);
    expect(t.takePassive('192.0.2.10', 40001).ok).toBe(false);
    expect(t.addPassive('c1/ftp1', '192.0.2.10', 1)).toBe(true);
    expect(t.addPassive('c1/ftp1', '192.0.2.10', 2)).toBe(true);
    expect(t.addPassive('c1/ftp1', '192.0.2.10', 3)).toBe(false);
    t.controlClosed('c1/ftp1');
    expect(t.takePassive('192.0.2.10', 1).ok).toBe(false);
    expect(t.addPassive('c1/ftp1', '192.0.2.10', 4)).toBe(false);
  });
});

describe('FTP active slots', () => {
  it('need an open control channel; admit one connection from the FTP server after PORT named the port', () => {
    const { t } = table();
    expect(t.mayOpenSlot()).toBe(true);
    t.openSlot(50000);
    expect(t.admitActive(50000, '192.0.2.10')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('PORT'),
    });
    expect(t.armActive('c1/ftp1', 50001)).toBe(false);
    expect(t.armActive('c1/ftp1', 50000)).toBe(true);
    expect(t.admitActive(50000, '198.51.100.5')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('192.0.2.10'),
    });
    expect(t.admitActive(50000, '::ffff:192.0.2.10')).toMatchObject({ ok: true });
    expect(t.admitActive(50000, '192.0.2.10').ok).toBe(false);
    t.controlClosed('c1/ftp1');
    expect(t.mayOpenSlot()).toBe(false);
  });

  it('expire unused', () => {
    const { t, advance } = table();
    t.openSlot(50000);
    advance(1000);
    expect(t.armActive('c1/ftp1', 50000)).toBe(false);
    expect(t.hasSlot(50000)).toBe(false);
  });
});
