"""Python's ftplib as an FTP client of the peer matrix: one operation per run.

usage: python3 ftplib_client.py OP HOST PORT USER PASSWORD DIR pasv|active SOURCE_ADDR TIMEOUT [ARGS...]

  list | nlst | mlsd           print the names (one a line)
  retr LOCAL                   download data.bin to LOCAL
  stor LOCAL REMOTE            upload LOCAL as REMOTE
  rest LOCAL                   resume data.bin into the partial LOCAL (REST + RETR)
  appe LOCAL REMOTE            append LOCAL to REMOTE (APPE)
  abort                        RETR big.bin stopped by its callback after 64 KiB (the data
                               connection closes), ftp.abort() (ABOR sent with MSG_OOB); the
                               transfer's and the ABOR's replies must come, then NOOP and PWD
                               must each get their own reply

Exits 0 on success; otherwise prints one line "ftplib: <what>: <reason>" on stderr and exits 1.
"""
import ftplib
import os
import sys

op, host, port, user, password, rdir, mode, source, timeout = sys.argv[1:10]
args = sys.argv[10:]
step = 'connect'


class Stop(Exception):
    pass


def main():
    global step
    f = ftplib.FTP(timeout=float(timeout), source_address=(source, 0))
    f.connect(host, int(port))
    step = 'login'
    f.login(user, password)
    f.set_pasv(mode == 'pasv')
    if rdir:
        step = f'CWD {rdir}'
        f.cwd(rdir)
    if op in ('list', 'nlst', 'mlsd'):
        step = op.upper()
        if op == 'list':
            lines = []
            f.retrlines('LIST', lines.append)
            names = [l.split()[-1] for l in lines if l.strip()]
        elif op == 'nlst':
            names = f.nlst()
        else:
            names = [name for name, facts in f.mlsd() if facts.get('type') == 'file']
        print('\n'.join(names))
    elif op == 'retr':
        step = 'RETR'
        with open(args[0], 'wb') as out:
            f.retrbinary('RETR data.bin', out.write)
    elif op == 'stor':
        step = 'STOR'
        with open(args[0], 'rb') as src:
            f.storbinary(f'STOR {args[1]}', src)
    elif op == 'rest':
        step = 'REST+RETR'
        offset = os.path.getsize(args[0])
        with open(args[0], 'ab') as out:
            f.retrbinary('RETR data.bin', out.write, rest=offset)
    elif op == 'appe':
        step = 'APPE'
        with open(args[0], 'rb') as src:
            f.storbinary(f'APPE {args[1]}', src)
    elif op == 'abort':
        # What a program that stops a download does: the callback raises after 64 KiB, retrbinary's
        # `with` closes the data connection, then abort() sends ABOR (MSG_OOB: its last byte urgent).
        got = [0]

        def take(block):
            got[0] += len(block)
            if got[0] >= 65536:
                raise Stop()

        step = 'RETR big.bin'
        try:
            f.retrbinary('RETR big.bin', take)
            raise RuntimeError('big.bin arrived whole before the abort')
        except Stop:
            pass
        step = 'abort()'
        try:
            first = f.abort()
        except ftplib.error_proto as e:
            # abort() accepts only 426/225/226 first; servers end the transfer with their own code
            # (pure-ftpd 150, ftp-srv 551) before they answer the ABOR itself
            first = str(e.args[0]) if e.args else str(e)
        if first[:3] not in ('225', '226'):
            step = f'reply to ABOR after "{first.strip()}"'
            second = f.getmultiline()
            if second[:3] not in ('225', '226'):
                raise RuntimeError(f'ABOR got {first!r} then {second!r}')
        step = 'NOOP after abort'
        resp = f.voidcmd('NOOP')
        if resp[:3] in ('225', '226') and first[:3] == '226':
            # the transfer had ended (226) before the ABOR came: that 226 was the transfer's and
            # this is the ABOR's own reply; NOOP's comes next
            resp = f.voidresp()
        if resp[:3] != '200':
            raise RuntimeError(f'NOOP got {resp!r}')
        step = 'PWD after abort'
        f.pwd()
    else:
        raise SystemExit(f'unknown op {op}')
    step = 'QUIT'
    try:
        f.quit()
    except (ftplib.Error, OSError):
        f.close()


try:
    main()
except Exception as e:  # noqa: BLE001 - one line for the matrix, whatever it was
    msg = str(e).replace('\r', '\\r').replace('\n', ' ')
    print(f'ftplib: {step}: {type(e).__name__}: {msg}', file=sys.stderr)
    sys.exit(1)
