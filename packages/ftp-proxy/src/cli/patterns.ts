/**
 * OpenSSH's pattern matching (ssh_config(5) PATTERNS): `*` matches any run of characters, `?` one,
 * over the whole string, case-insensitively. Used for known_hosts hosts, ssh_config `Host` lines,
 * algorithm lists (`Ciphers -aes*-cbc`) and authorized_keys `from=` addresses.
 */
export function wildcardMatch(pattern: string, text: string): boolean {
  const p = pattern.toLowerCase();
  const t = text.toLowerCase();
  // Iterative glob with backtracking on the last '*': linear enough for host names.
  let pi = 0;
  let ti = 0;
  let star = -1;
  let mark = 0;
  while (ti < t.length) {
    if (pi < p.length && (p[pi] === '?' || p[pi] === t[ti])) {
      pi++;
      ti++;
    } else if (pi < p.length && p[pi] === '*') {
      star = pi++;
      mark = ti;
    } else if (star >= 0) {
      pi = star + 1;
      ti = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.length && p[pi] === '*') pi++;
  return pi === p.length;
}
