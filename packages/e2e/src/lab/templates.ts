/**
 * `${…}` references in scenario strings, resolved once the addresses are known. Pure.
 *
 *   ${b}          host (or gateway) b's address on its first network
 *   ${b.wan}      its address on network wan
 *   ${lan}        network lan's subnet (CIDR)
 *   ${marker:m}   a random text marker named m, made fresh for each run (look for it with no-marker /
 *                 marker-seen)
 */

export type TemplateRef =
  | { kind: 'name'; name: string }
  | { kind: 'on'; name: string; network: string }
  | { kind: 'marker'; name: string };

const RE = /\$\{([^}]*)\}/g;

/** Parses one reference's inner text; undefined when it is not of a known form. */
export function parseRef(inner: string): TemplateRef | undefined {
  const t = inner.trim();
  let m = /^marker:([a-z0-9][a-z0-9-]*)$/.exec(t);
  if (m?.[1]) return { kind: 'marker', name: m[1] };
  m = /^([a-z][a-z0-9-]*)\.([a-z][a-z0-9-]*)$/.exec(t);
  if (m?.[1] && m[2]) return { kind: 'on', name: m[1], network: m[2] };
  m = /^([a-z][a-z0-9-]*)$/.exec(t);
  if (m?.[1]) return { kind: 'name', name: m[1] };
  return undefined;
}

/** Every reference in `s`: its text, and what it refers to (undefined: malformed). */
export function refsIn(s: string): { text: string; ref: TemplateRef | undefined }[] {
  return [...s.matchAll(RE)].map((m) => ({ text: m[0], ref: parseRef(m[1] ?? '') }));
}

export function hasRefs(s: string): boolean {
  return s.includes('${');
}

/**
 * Replaces every reference in `s` with `value(ref)`; `encode` is applied to each value (e.g. to put an
 * address into a regular expression).
 */
export function resolve(
  s: string,
  value: (ref: TemplateRef, text: string) => string,
  encode: (v: string) => string = (v) => v,
): string {
  return s.replace(RE, (text, inner: string) => {
    const ref = parseRef(inner);
    if (!ref) throw new Error(`malformed reference ${text}`);
    return encode(value(ref, text));
  });
}

export function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
