import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FtpfwdError } from './errors.js';
import { formatForwardSpec, localBindAddress, parseForwardSpec, remoteBindAddress } from './forward-spec.js';

describe('parseForwardSpec', () => {
  it('reads the OpenSSH forms with ftp/ and tcp/ prefixes', () => {
    expect(parseForwardSpec('L', '2121:ftp.internal:21')).toEqual({
      direction: 'L',
      protocol: 'tcp',
      bindAddress: undefined,
      bindPort: 2121,
      host: 'ftp.internal',
      hostPort: 21,
    });
    expect(parseForwardSpec('L', 'ftp/127.0.0.1:2121:ftp:21')).toMatchObject({
      protocol: 'ftp',
      bindAddress: '127.0.0.1',
    });
    expect(parseForwardSpec('R', 'tcp/*:0:localhost:80')).toMatchObject({ bindAddress: '*', bindPort: 0 });
    expect(parseForwardSpec('L', ':8080:web:80').bindAddress).toBe('');
    expect(parseForwardSpec('L', 'ftp/[::1]:2121:[2001:db8::1]:21')).toMatchObject({
      bindAddress: '::1',
      host: '2001:db8::1',
    });
    // ssh_config's "LocalForward 2121 ftp:21"
    expect(parseForwardSpec('L', '2121 ftp:21')).toMatchObject({ bindPort: 2121, host: 'ftp', hostPort: 21 });
  });

  it.each([
    ['2121:ftp', /2 fields/],
    ['smtp/2121:ftp:21', /unknown protocol prefix "smtp\/"/],
    ['70000:ftp:21', /listen port "70000"/],
    ['2121:ftp:0', /HOSTPORT "0"/],
    ['2121::21', /empty HOST/],
    ['[::1:2121:ftp:21', /unbalanced/],
    ['a:b:c:d:e', /5 fields/],
  ])('refuses %s with a message saying what was expected', (spec, why) => {
    const err = (() => {
      try {
        parseForwardSpec('L', spec);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(FtpfwdError);
    expect((err as Error).message).toMatch(why);
    expect((err as Error).message).toContain('expected [ftp/|tcp/][BIND:]PORT:HOST:HOSTPORT');
  });

  it('reads sftp/[BIND:]PORT[:REMOTE_DIR]: a digits-only first field is the port', () => {
    const sftp = { direction: 'L', protocol: 'sftp', host: '', hostPort: 0 };
    expect(parseForwardSpec('L', 'sftp/2121')).toEqual({ ...sftp, bindAddress: undefined, bindPort: 2121 });
    expect(parseForwardSpec('L', 'sftp/2121:/srv/files')).toEqual({
      ...sftp,
      bindAddress: undefined,
      bindPort: 2121,
      remoteDir: '/srv/files',
    });
    expect(parseForwardSpec('L', 'SFTP/127.0.0.1:2121')).toMatchObject({
      bindAddress: '127.0.0.1',
      bindPort: 2121,
    });
    expect(parseForwardSpec('L', 'sftp/[::1]:0:data')).toMatchObject({
      bindAddress: '::1',
      bindPort: 0,
      remoteDir: 'data',
    });
    expect(parseForwardSpec('L', 'sftp/*:2121:/a dir/with:colon')).toMatchObject({
      bindAddress: '*',
      remoteDir: '/a dir/with:colon',
    });
    expect(parseForwardSpec('L', 'sftp/:2121').bindAddress).toBe('');
  });

  it.each([
    ['L', 'sftp/', /no listen port/],
    ['L', 'sftp/host', /no listen port/],
    ['L', 'sftp/2121:', /empty REMOTE_DIR/],
    ['L', 'sftp/99999', /listen port "99999"/],
    ['L', 'sftp/[::1:2121', /unbalanced/],
    ['R', 'sftp/2121', /-L forwarding only/],
  ] as const)('refuses -%s %s naming the sftp syntax', (dir, spec, why) => {
    expect(() => parseForwardSpec(dir, spec)).toThrow(why);
    expect(() => parseForwardSpec(dir, spec)).toThrow('expected sftp/[BIND:]PORT[:REMOTE_DIR]');
  });

  it('round-trips sftp/ through formatForwardSpec (property)', () => {
    const dir = fc.stringMatching(/^[A-Za-z0-9/._-]([A-Za-z0-9/._ -]{0,18}[A-Za-z0-9/._-])?$/);
    fc.assert(
      fc.property(
        fc.option(fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain()), { nil: undefined }),
        fc.integer({ min: 0, max: 65535 }),
        fc.option(dir, { nil: undefined }),
        (bindAddress, bindPort, remoteDir) => {
          const spec = {
            direction: 'L' as const,
            protocol: 'sftp' as const,
            bindAddress,
            bindPort,
            host: '',
            hostPort: 0,
            ...(remoteDir === undefined ? {} : { remoteDir }),
          };
          expect(parseForwardSpec('L', formatForwardSpec(spec).slice(3))).toEqual(spec);
        },
      ),
    );
  });

  it('round-trips through formatForwardSpec (property)', () => {
    const host = fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain());
    fc.assert(
      fc.property(
        fc.constantFrom('L' as const, 'R' as const),
        fc.constantFrom('tcp' as const, 'ftp' as const),
        fc.option(host, { nil: undefined }),
        fc.integer({ min: 0, max: 65535 }),
        host,
        fc.integer({ min: 1, max: 65535 }),
        (direction, protocol, bindAddress, bindPort, h, hostPort) => {
          const spec = { direction, protocol, bindAddress, bindPort, host: h, hostPort };
          const text = formatForwardSpec(spec).slice(3);
          expect(parseForwardSpec(direction, text)).toEqual(spec);
        },
      ),
    );
  });

  it('never throws anything but FtpfwdError on arbitrary input (property)', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        try {
          parseForwardSpec('L', s);
        } catch (e) {
          expect(e).toBeInstanceOf(FtpfwdError);
        }
      }),
    );
  });
});

describe('bind addresses', () => {
  it('follow OpenSSH: loopback unless -g, explicit wins, empty or * is all interfaces of both families', () => {
    const p = (s: string) => parseForwardSpec('L', s);
    expect(localBindAddress(p('1:h:2'), false)).toBe('127.0.0.1');
    expect(localBindAddress(p('1:h:2'), true)).toBe('::');
    expect(localBindAddress(p('localhost:1:h:2'), true)).toBe('127.0.0.1');
    expect(localBindAddress(p('*:1:h:2'), false)).toBe('::');
    expect(localBindAddress(p(':1:h:2'), false)).toBe('::');
    // An explicit family's wildcard stays that family's.
    expect(localBindAddress(p('0.0.0.0:1:h:2'), true)).toBe('0.0.0.0');
    expect(localBindAddress(p('[::]:1:h:2'), false)).toBe('::');
    expect(localBindAddress(p('[::1]:1:h:2'), true)).toBe('::1');
    expect(localBindAddress(p('192.0.2.1:1:h:2'), false)).toBe('192.0.2.1');
    expect(remoteBindAddress(parseForwardSpec('R', '1:h:2'))).toBe('localhost');
    expect(remoteBindAddress(parseForwardSpec('R', '*:1:h:2'))).toBe('');
  });
});
