/**
 * FTP reply text (RFC 959 §4.2): `NNN text` on one line, or `NNN-first`, continuation lines and
 * `NNN last` for a multi-line reply. Replies are UTF-8 (RFC 2640); a CR or LF inside a text is never
 * sent as such, so a file name cannot forge a reply line.
 */

/** One reply, formatted with CRLF line ends. `lines` of length > 1 make a multi-line reply. */
export function formatReply(code: number, lines: string | readonly string[]): string {
  const list = (typeof lines === 'string' ? [lines] : lines).map(oneLine);
  if (list.length <= 1) return `${code} ${list[0] ?? ''}\r\n`;
  const first = list[0]!;
  const last = list[list.length - 1]!;
  // Continuation lines start with a space: one starting with "NNN " would end the reply early.
  const middle = list.slice(1, -1).map((l) => ` ${l}\r\n`);
  return `${code}-${first}\r\n${middle.join('')}${code} ${last}\r\n`;
}

/** CR and LF become spaces; NUL is dropped (RFC 959 uses it only in pathnames after CR). */
export function oneLine(text: string): string {
  return text.replace(/[\r\n]/g, ' ').replace(/\0/g, '');
}

/** A pathname in a 257 reply: inside double quotes, a quote doubled (RFC 959 appendix II). */
export function quotePath(path: string): string {
  return `"${oneLine(path).replace(/"/g, '""')}"`;
}
