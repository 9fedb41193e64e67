import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger.js';

function capture(verbosity: number, format: 'text' | 'json') {
  const out = new PassThrough();
  let text = '';
  out.on('data', (d) => {
    text += d.toString();
  });
  return { log: createLogger(verbosity, format, out), text: () => text };
}

describe('createLogger', () => {
  it('text: one line per record, level tag for warnings, fields as key=value; debug only with -v', () => {
    const { log, text } = capture(0, 'text');
    log.info('ftp 127.0.0.1:2121 -> ftp:21 via bastion:22');
    log.warn({ session: 's1', reason: 'no route' }, 'PASV data channel failed');
    log.debug('hidden');
    expect(text()).toBe(
      'ftpfwd: ftp 127.0.0.1:2121 -> ftp:21 via bastion:22\nftpfwd: warning: PASV data channel failed session=s1 reason="no route"\n',
    );
    const v = capture(1, 'text');
    v.log.debug('227 Entering Passive Mode (10,0,0,5,4,1) → 227 Entering Passive Mode (127,0,0,1,156,64)');
    expect(v.text()).toContain('→ 227');
  });

  it('json: pino records', () => {
    const { log, text } = capture(0, 'json');
    log.info({ session: 's2' }, 'ftp session closed');
    const rec = JSON.parse(text()) as Record<string, unknown>;
    expect(rec).toMatchObject({ msg: 'ftp session closed', session: 's2', level: 30 });
  });
});
