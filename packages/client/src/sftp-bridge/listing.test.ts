import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  formatFacts,
  formatLsLine,
  lsTime,
  MLST_FACTS,
  modeString,
  parseListArgument,
  parseLongname,
  parseTime14,
  permFact,
  S_IFDIR,
  S_IFLNK,
  S_IFREG,
  time14,
} from './listing.js';

const NOW = Date.UTC(2024, 5, 15, 12, 0, 0) / 1000;

describe('listing formats', () => {
  it('modeString as ls prints it', () => {
    expect(modeString(S_IFDIR | 0o755)).toBe('drwxr-xr-x');
    expect(modeString(S_IFREG | 0o4755)).toBe('-rwsr-xr-x');
    expect(modeString(S_IFDIR | 0o1777)).toBe('drwxrwxrwt');
    expect(modeString(S_IFREG | 0o2644)).toBe('-rw-r-Sr--');
    expect(modeString(S_IFLNK | 0o777)).toBe('lrwxrwxrwx');
  });

  it('ls times: hours for recent files, the year for old ones (UTC)', () => {
    expect(lsTime(Date.UTC(2024, 2, 4, 9, 5) / 1000, NOW)).toBe('Mar  4 09:05');
    expect(lsTime(Date.UTC(2019, 10, 30) / 1000, NOW)).toBe('Nov 30  2019');
  });

  it('one ls -l line, with a link target', () => {
    const line = formatLsLine(
      {
        name: 'l',
        mode: S_IFLNK | 0o777,
        size: 3,
        mtime: NOW,
        owner: 'alice',
        group: 'staff',
        linkTarget: '../x',
      },
      NOW,
    );
    expect(line).toMatch(/^lrwxrwxrwx +1 alice +staff +3 Jun 15 12:00 l -> \.\.\/x$/);
  });

  it('reads owner and group from an OpenSSH longname', () => {
    expect(parseLongname('-rw-r--r--    1 alice    staff        1234 Jan  1 12:00 f')).toEqual({
      nlink: 1,
      owner: 'alice',
      group: 'staff',
    });
    expect(parseLongname('whatever')).toBeUndefined();
  });

  it('14-digit times (RFC 3659), both ways; invalid dates refused', () => {
    expect(time14(0)).toBe('19700101000000');
    expect(parseTime14('20240229235960')).toBe(Date.UTC(2024, 1, 29, 23, 59, 59) / 1000);
    expect(parseTime14('20230229000000')).toBeUndefined();
    expect(parseTime14('2024010112')).toBeUndefined();
    expect(parseTime14('20240101120000.123')).toBe(Date.UTC(2024, 0, 1, 12) / 1000);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 253402300799 }), (t) => {
        expect(parseTime14(time14(t))).toBe(t);
      }),
    );
  });

  it('LIST arguments: ls options skipped, the path kept', () => {
    expect(parseListArgument('-la')).toEqual({ options: 'la', path: '' });
    expect(parseListArgument('-a -l dir name')).toEqual({ options: 'al', path: 'dir name' });
    expect(parseListArgument('-- -odd')).toEqual({ options: '', path: '-odd' });
    expect(parseListArgument('plain')).toEqual({ options: '', path: 'plain' });
  });

  it('property: LIST arguments and longnames never throw; a plain path comes back as it is', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        parseListArgument(text);
        parseLongname(text);
      }),
    );
    fc.assert(
      fc.property(fc.stringMatching(/^[a-z0-9._][a-z0-9._ /-]{0,30}$/), (path) => {
        expect(parseListArgument(path).path).toBe(path.trim());
      }),
    );
  });

  it('MLSD facts in RFC 3659 form', () => {
    const line = formatFacts(
      {
        entry: { name: 'f', mode: S_IFREG | 0o640, size: 12, mtime: 0, uid: 1000, gid: 100 },
        sftpPath: '/home/u/f',
        who: { uid: 1000 },
        parentWritable: true,
      },
      new Set(MLST_FACTS),
      'f',
    );
    expect(line).toMatch(/^type=file;size=12;modify=19700101000000;perm=awrdf;unique=[0-9a-f]{16}; f$/);
    const dir = formatFacts(
      {
        entry: { name: 'd', mode: S_IFDIR | 0o755, size: 4096 },
        sftpPath: '/d',
        who: { uid: 5 },
        parentWritable: false,
      },
      new Set(['type', 'size', 'perm'] as const),
      'd',
    );
    expect(dir).toBe('type=dir;perm=el; d');
  });

  it('perm: owner, group and other bits; uid 0 may do everything', () => {
    const e = { name: 'x', mode: S_IFREG | 0o604, uid: 1, gid: 2 };
    expect(permFact(e, { uid: 1 }, false)).toBe('awr');
    expect(permFact(e, { uid: 3, gids: new Set([2]) }, false)).toBe('');
    expect(permFact(e, { uid: 3 }, false)).toBe('r');
    expect(permFact(e, { uid: 0 }, false)).toBe('awr');
  });
});
