import { isIPv4Address } from './address.js';
import { FtpParseError } from './errors.js';
import { formatEpsvReply, formatPasvReply, rewriteEpsvLine, rewritePasvLine } from './replies.js';
import type { Endpoint } from './types.js';

/**
 * The passive reply the FTP client gets, in the form it asked for (227 for PASV, 229 for EPSV),
 * naming `advertised`. When the server answered in that form, its wording is kept and every line
 * that names an endpoint is rewritten: clients differ in which line they read it from (curl the
 * last, ftplib the first match in the whole text), and none may see the server's own address.
 * Lines are texts without terminators. Throws FtpParseError when a 227 cannot name the listener
 * (an IPv6 address).
 */
export function rewritePassiveReply(
  asked: 'PASV' | 'EPSV',
  code: 227 | 229,
  lines: readonly string[],
  advertised: Endpoint,
): string[] {
  if (asked === 'EPSV') {
    if (code !== 229) return [formatEpsvReply(advertised.port)];
    return (
      rewriteEach(lines, (t) => rewriteEpsvLine(t, advertised.port)) ?? [formatEpsvReply(advertised.port)]
    );
  }
  if (!isIPv4Address(advertised.host)) {
    throw new FtpParseError('an IPv4 address to advertise in 227', advertised.host);
  }
  if (code !== 227) return [formatPasvReply(advertised)];
  return rewriteEach(lines, (t) => rewritePasvLine(t, advertised)) ?? [formatPasvReply(advertised)];
}

/** Every line through `rewrite` (undefined: unchanged); undefined when no line changed. */
function rewriteEach(
  lines: readonly string[],
  rewrite: (text: string) => string | undefined,
): string[] | undefined {
  let any = false;
  const out = lines.map((text) => {
    const replaced = rewrite(text);
    if (replaced === undefined) return text;
    any = true;
    return replaced;
  });
  return any ? out : undefined;
}
