// The project's own FTP server library (ftp-srv) as a direct, untunnelled contender.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess, waitPort } from '../procs.mjs';

const CHILD = fileURLToPath(new URL('./ftpsrv-child.mjs', import.meta.url));

export async function startFtpSrv({ dir, repoRoot, port, pasvMin, pasvMax }) {
  const proc = startProcess(
    'ftp-srv',
    process.execPath,
    [CHILD, join(dir, 'root'), String(port), String(pasvMin), String(pasvMax), repoRoot],
    { logFile: join(dir, 'logs', 'ftp-srv.log') },
  );
  await waitPort(port, '127.0.0.1', proc);
  return proc;
}
