import { describe, expect, it } from 'vitest';
import { FtpPermitTable } from './ftp-permits.js';

function table(trustAnnouncedHost = true) {
  let now = 0;
  const t = new FtpPermitTable({ ttlMs: 1000, maxPerControl: 2, minDataPort: 1024, now: () => now });
  t.controlOpened({
    id: 'c1/ftp1',
    requestedHost: 'ftp.example',
    serverAddress: '192.0.2.10',
    trustAnnouncedHost,
  });
  return { t, advance: (ms: number) => (now += ms) };
}

const loopbackOnly = (h: string) => h === '127.0.0.1';

describe('FTP passive permits', () => {
  it('permit one direct-tcpip to the announced port, at the control host (or the announced one when trusted)', () => {
    const { t } = table();
    expect(t.addPassive('c1/ftp1', 'PASV', '192.0.2.10', 40001).ok).toBe(true);
    expect(t.takePassive('ftp.example', 40002).ok).toBe(false);
    expect(t.takePassive('198.51.100.1', 40001).ok).toBe(false);
    expect(t.takePassive('ftp.example', 40001)).toMatchObject({
      ok: true,
      controlId: 'c1/ftp1',
      command: 'PASV',
    });
    expect(t.takePassive('ftp.example', 40001).ok).toBe(false); // used once
    expect(t.addPassive('c1/ftp1', 'PASV', '10.1.1.1', 40003).ok).toBe(true);
    expect(t.takePassive('10.1.1.1', 40003).ok).toBe(true); // the announced host, as trusted
  });

  it('by default, another host a 227 names gets nothing: only the control connection host', () => {
    const { t } = table(false);
    expect(t.addPassive('c1/ftp1', 'PASV', '10.0.0.5', 40000)).toEqual({
      ok: true,
      hosts: ['ftp.example', '192.0.2.10'],
    });
    expect(t.takePassive('10.0.0.5', 40000).ok).toBe(false);
    expect(t.takePassive('192.0.2.10', 40000).ok).toBe(true);
  });

  it('never below the lowest data port (the FTP host port 21 or 22)', () => {
    const { t } = table();
    expect(t.addPassive('c1/ftp1', 'EPSV', '192.0.2.10', 22)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('below'),
    });
    expect(t.takePassive('192.0.2.10', 22).ok).toBe(false);
  });

  it('expire, die with their control channel or its revocation, and are bounded per control', () => {
    const { t, advance } = table();
    t.addPassive('c1/ftp1', 'PASV', '192.0.2.10', 40001);
    advance(1000);
    expect(t.takePassive('192.0.2.10', 40001).ok).toBe(false);
    expect(t.addPassive('c1/ftp1', 'PASV', '192.0.2.10', 2001).ok).toBe(true);
    expect(t.addPassive('c1/ftp1', 'PASV', '192.0.2.10', 2002).ok).toBe(true);
    expect(t.addPassive('c1/ftp1', 'PASV', '192.0.2.10', 2003).ok).toBe(false);
    expect(t.revoke('c1/ftp1')).toBe(2);
    expect(t.takePassive('192.0.2.10', 2001).ok).toBe(false);
    t.controlClosed('c1/ftp1');
    expect(t.addPassive('c1/ftp1', 'PASV', '192.0.2.10', 2004).ok).toBe(false);
  });
});

describe('FTP active slots', () => {
  it('need an open control channel; a PORT must name a free slot where it listens; one connection from the FTP server', () => {
    const { t } = table();
    expect(t.mayOpenSlot()).toBe(true);
    t.openSlot(50000, loopbackOnly);
    expect(t.admitActive(50000, '192.0.2.10')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('PORT'),
    });
    expect(t.armActive('c1/ftp1', 'PORT', '127.0.0.1', 50001)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('no FTP data slot'),
    });
    expect(t.armActive('c1/ftp1', 'PORT', '198.51.100.7', 50000)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('does not listen'),
    });
    expect(t.armActive('c1/ftp1', 'EPRT', '127.0.0.1', 50000).ok).toBe(true);
    expect(t.armActive('c1/ftp1', 'PORT', '127.0.0.1', 50000)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('already'),
    });
    expect(t.admitActive(50000, '198.51.100.5')).toMatchObject({
      ok: false,
      reason: expect.stringContaining('192.0.2.10'),
    });
    expect(t.admitActive(50000, '::ffff:192.0.2.10')).toMatchObject({ ok: true, command: 'EPRT' });
    expect(t.admitActive(50000, '192.0.2.10').ok).toBe(false);
    t.controlClosed('c1/ftp1');
    expect(t.mayOpenSlot()).toBe(false);
  });

  it('expire unused', () => {
    const { t, advance } = table();
    t.openSlot(50000, loopbackOnly);
    advance(1000);
    expect(t.armActive('c1/ftp1', 'PORT', '127.0.0.1', 50000).ok).toBe(false);
    expect(t.hasSlot(50000)).toBe(false);
  });
});
