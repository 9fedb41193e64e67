/**
 * Telnet sequences on the FTP control channel (RFC 959 §4.1.3, RFC 854). Before ABOR, clients send
 * Telnet IP and Synch: `IAC IP`, then `IAC DM` with the DM byte as TCP urgent data (lftp does this).
 * Node's sockets never deliver an urgent byte (no SO_OOBINLINE), so what reaches us is
 * `IAC IP IAC ABOR`: an IAC followed by a byte that is no Telnet command. Read naively, that IAC
 * swallows the `A` and the server is asked to `BOR`.
 */
const IAC = 0xff;
const DM = 0xf2;
const SB = 0xfa;
const SE = 0xf0;
const WILL = 0xfb;
const DONT = 0xfe;

/** True for the byte after an IAC that makes a Telnet command (RFC 854: 240–255). */
function isCommandByte(c: number): boolean {
  return c >= SE;
}

/**
 * Text (latin1) with Telnet command sequences removed and `IAC IAC` turned into one 0xFF byte: the
 * form in which a command is recognised. An IAC followed by a byte that is no Telnet command lost
 * its DM (see above): only the IAC goes.
 */
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
    } else if (!isCommandByte(cmd)) {
      i += 1; // the IAC of a Synch whose DM was urgent and lost
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

/**
 * Puts back the DM byte of a Synch that arrived without it (`IAC IP IAC ABOR` → `IAC IP IAC DM
 * ABOR`), so the FTP server receives the sequence the client sent, as a server that reads urgent
 * data inline would. Anything else is returned unchanged. Text is latin1, without terminator.
 */
export function restoreLostDm(text: string): string {
  if (!text.includes('\xff')) return text;
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    out += text[i];
    i++;
    if (c !== IAC) continue;
    const cmd = text.charCodeAt(i);
    if (Number.isNaN(cmd) || !isCommandByte(cmd)) {
      out += String.fromCharCode(DM);
      continue;
    }
    // IAC IAC, or a command: copy its second byte so it is not taken for another IAC.
    out += text[i];
    i++;
  }
  return out;
}
