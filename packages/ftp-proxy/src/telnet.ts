/**
 * Telnet sequences on the FTP control channel (RFC 959 §4.1.3, RFC 854): clients send IAC IP and
 * IAC DM (Synch) before ABOR. The bytes are forwarded untouched; only the copy used to *recognise*
 * a command is stripped of them.
 */
const IAC = 0xff;
const SB = 0xfa;
const SE = 0xf0;
const WILL = 0xfb;
const DONT = 0xfe;

/** Text (latin1) with Telnet command sequences removed and `IAC IAC` turned into one 0xFF byte. */
export function stripTelnet(text: string): string {
  if (!text.includes('\xff')) return text;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c !== IAC) {
      out += text[i];
      i++;
      continue;
    }
    const cmd = text.charCodeAt(i + 1);
    if (Number.isNaN(cmd)) break; // a lone IAC at the end: drop it
    if (cmd === IAC) {
      out += '\xff';
      i += 2;
    } else if (cmd >= WILL && cmd <= DONT) {
      i += 3; // option negotiation: IAC WILL/WONT/DO/DONT <option>
    } else if (cmd === SB) {
      const end = text.indexOf('\xff' + String.fromCharCode(SE), i + 2);
      i = end === -1 ? text.length : end + 2;
    } else {
      i += 2; // IAC IP, IAC DM, IAC AO, …
    }
  }
  return out;
}
