import { describe, expect, it } from 'vitest';
import { parseDestination } from './destination.js';
import { FtpfwdError } from './errors.js';

describe('parseDestination', () => {
  it('reads [user@]host and ssh:// URIs', () => {
    expect(parseDestination('bastion')).toEqual({ user: undefined, host: 'bastion', port: undefined });
    expect(parseDestination('me@bastion')).toEqual({ user: 'me', host: 'bastion', port: undefined });
    expect(parseDestination('a@b@bastion')).toEqual({ user: 'a@b', host: 'bastion', port: undefined });
    expect(parseDestination('ssh://me@bastion:2222')).toEqual({ user: 'me', host: 'bastion', port: 2222 });
    expect(parseDestination('ssh://[2001:db8::1]:22')).toEqual({
      user: undefined,
      host: '2001:db8::1',
      port: 22,
    });
    expect(parseDestination('me@[::1]')).toEqual({ user: 'me', host: '::1', port: undefined });
  });
  it.each(['', '@host', 'ssh://', 'ssh://h:0', 'ssh://h:99999', 'ssh://a:b:c', '-oProxyCommand=x', 'a/b'])(
    'refuses %j',
    (d) => {
      expect(() => parseDestination(d)).toThrow(FtpfwdError);
    },
  );
});
