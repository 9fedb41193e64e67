/**
 * One passive FTP session with basic-ftp (a second, independent FTP client besides curl), run inside a
 * container by the e2e agent: download, upload, list. Prints one JSON line; exits non-zero on error.
 * usage: basic-ftp-run HOST PORT REMOTE_DOWNLOAD LOCAL_OUT LOCAL_UPLOAD REMOTE_UPLOAD
 * (anonymous unless FTP_USER and FTP_PASSWORD are set)
 */
import { Client } from 'basic-ftp';

const [host, port, download, out, upload, remoteUpload] = process.argv.slice(2);
if (!host || !port || !download || !out || !upload || !remoteUpload) {
  console.error('usage: basic-ftp-run HOST PORT REMOTE_DOWNLOAD LOCAL_OUT LOCAL_UPLOAD REMOTE_UPLOAD');
  process.exit(64);
}
const client = new Client(60_000);
try {
  // FTP_USER/FTP_PASSWORD for servers that check logins (an sftp/ forwarding with a password file).
  const user = process.env.FTP_USER ?? 'anonymous';
  const password = process.env.FTP_PASSWORD ?? 'e2e@';
  await client.access({ host, port: Number(port), user, password, secure: false });
  await client.downloadTo(out, download);
  await client.uploadFrom(upload, remoteUpload);
  const list = await client.list();
  console.log(JSON.stringify({ list: list.map((f) => ({ name: f.name, size: f.size })) }));
} catch (e) {
  console.error(`basic-ftp: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
} finally {
  client.close();
}
