import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeAbsolute, PathMapper, PathRefused } from './paths.js';

describe('FTP paths', () => {
  it('resolves relative, absolute and dotted arguments against the cwd', () => {
    const m = new PathMapper('/srv/j', false, '/srv/j/a');
    expect(m.resolve('')).toBe('/srv/j/a');
    expect(m.resolve('b/../c/./d')).toBe('/srv/j/a/c/d');
    expect(m.resolve('/etc/passwd')).toBe('/etc/passwd');
    expect(m.resolve('../../../..')).toBe('/');
    expect(m.toSftp('/etc/passwd')).toBe('/etc/passwd');
  });

  it('in a jail: / is the jail root, absolute paths stay inside, .. above it is refused', () => {
    const m = new PathMapper('/srv/j', true, '/');
    expect(m.resolve('/etc/passwd')).toBe('/etc/passwd');
    expect(m.toSftp(m.resolve('/etc/passwd'))).toBe('/srv/j/etc/passwd');
    expect(m.toSftp('/')).toBe('/srv/j');
    expect(() => m.resolve('..')).toThrow(PathRefused);
    expect(() => m.resolve('a/../../x')).toThrow(/leaves the jail/);
    expect(() => m.resolve('/../srv/j')).toThrow(PathRefused);
    expect(() => m.resolve('a\0b')).toThrow(/NUL/);
  });

  it('maps real paths back, and tells which lie outside', () => {
    const m = new PathMapper('/srv/j', true, '/');
    expect(m.toVirtual('/srv/j')).toBe('/');
    expect(m.toVirtual('/srv/j/x/y')).toBe('/x/y');
    expect(m.toVirtual('/srv/jx')).toBeUndefined();
    expect(m.toVirtual('/srv')).toBeUndefined();
    expect(m.inside('/etc')).toBe(false);
    expect(new PathMapper('/', true, '/').toVirtual('/etc')).toBe('/etc');
  });

  it('property: in a jail, every accepted argument maps to a path inside the root', () => {
    const seg = fc.constantFrom('a', 'b', '..', '.', '', 'c d');
    fc.assert(
      fc.property(
        fc.array(seg, { maxLength: 8 }),
        fc.boolean(),
        fc.array(seg, { maxLength: 3 }),
        (segs, abs, cwdSegs) => {
          const cwd = normalizeAbsolute(`/${cwdSegs.filter((x) => x !== '..').join('/')}`)!;
          const m = new PathMapper('/srv/j', true, cwd);
          const arg = (abs ? '/' : '') + segs.join('/');
          let v: string;
          try {
            v = m.resolve(arg);
          } catch (err) {
            expect(err).toBeInstanceOf(PathRefused);
            return;
          }
          expect(m.inside(m.toSftp(v))).toBe(true);
        },
      ),
    );
  });
});
