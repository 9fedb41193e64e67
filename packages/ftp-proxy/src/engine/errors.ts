/**
 * A control line or argument that does not have the form the protocol requires. Carries what was
 * expected and what came, so a log line or a test can say both. Parsers throw it; the session catches
 * it and answers the FTP client — it never escapes a session.
 */
export class FtpParseError extends Error {
  override readonly name = 'FtpParseError';
  constructor(
    /** What the parser expected, e.g. `"PORT h1,h2,h3,h4,p1,p2 with each number 0-255"`. */
    readonly expected: string,
    /** What it saw (truncated, printable). */
    readonly got: string,
  ) {
    super(`expected ${expected}, got ${JSON.stringify(got)}`);
  }
}

/**
 * Shorten and make printable a piece of untrusted text (protocol bytes read as latin1, or a line
 * of a file) for an error message or a log line: control characters (C0, DEL, C1) become `\xNN`.
 */
export function excerpt(text: string, max = 80): string {
  const printable = text.replace(
    /[\x00-\x1f\x7f-\x9f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
  return printable.length > max ? `${printable.slice(0, max)}…` : printable;
}
