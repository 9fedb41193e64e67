/**
 * Authentication of one SSH connection: which methods are offered, public keys against the
 * authorized keys (and their from=/expiry-time= options), passwords through the bounded checker,
 * the per-connection try limit, and a penalty for each failed check as it happens.
 */

import { verifyPassword } from '@ftpfwd/ftp-proxy/cli';
import type { Logger } from 'pino';
import type { AuthContext, PublicKeyAuthContext } from 'ssh2';
import type { AuthorizedKey, KeyRestrictions } from './authorized-keys.js';
import type { PasswordChecks } from './password-checks.js';
import type { SourcePenalties } from './penalties.js';
import type { AuthEvent, ResolvedServerOptions, UserEntry } from './types.js';

/** Who logged in, and what their key or user entry restricts. */
export interface Login {
  user: string;
  method: string;
  /** `file:line type comment` of the key used, or `password`. */
  detail: string;
  restrictions: KeyRestrictions | undefined;
  userEntry: UserEntry | undefined;
}

export interface AuthenticationDeps {
  connectionId: string;
  ip: string;
  opts: ResolvedServerOptions;
  log: Logger;
  passwordChecks: PasswordChecks;
  penalties: SourcePenalties;
  emit: (event: AuthEvent) => void;
  /** A login succeeded; false refuses it after all (the server is at its connection limit). */
  onLogin: (login: Login) => boolean;
  /** The connection must end (too many tries, refused login). */
  end: () => void;
  /** Whether the connection is still open (a password check may finish after it closed). */
  isOpen: () => boolean;
}

/** The SSH name of a publickey request's algorithm: RSA's says its hash (RFC 8332). */
export function signatureAlgorithm(keyAlgo: string, hashAlgo: string | undefined): string {
  if (keyAlgo !== 'ssh-rsa') return keyAlgo;
  return hashAlgo === 'sha256' ? 'rsa-sha2-256' : hashAlgo === 'sha512' ? 'rsa-sha2-512' : 'ssh-rsa';
}

export class Authentication {
  /** Failed attempts on this connection (unknown keys, bad signatures, wrong passwords). */
  failures = 0;
  /** Of those, the ones where a signature or password was checked (each penalised at once). */
  checkedFailures = 0;
  /** Whether the client tried anything beyond `none` (a connection that never did is `noauth`). */
  attempted = false;

  constructor(private readonly deps: AuthenticationDeps) {}

  private allowedMethods(): ('publickey' | 'password')[] {
    const methods: ('publickey' | 'password')[] = [];
    const o = this.deps.opts;
    const userKeys = Object.values(o.users).some((u) => (u.keys?.length ?? 0) > 0);
    if (o.authorizedKeys.length > 0 || userKeys) methods.push('publickey');
    if (o.passwords.size > 0 || Object.values(o.users).some((u) => u.password)) methods.push('password');
    return methods;
  }

  handle(ctx: AuthContext): void {
    const methods = this.allowedMethods();
    if (ctx.method === 'none') {
      ctx.reject(methods);
      return;
    }
    this.attempted = true;
    const { log, ip, connectionId } = this.deps;
    const user = ctx.username;
    /** `checked`: a password or signature was actually checked and was wrong (penalised now). */
    const fail = (reason: string, checked: boolean): void => {
      this.failures += 1;
      log.info({ event: 'auth', user, method: ctx.method, ok: false, reason }, 'authentication failed');
      this.deps.emit({ connection: connectionId, ip, user, method: ctx.method, ok: false, reason });
      if (checked) {
        this.checkedFailures += 1;
        const blockMs = this.deps.penalties.penalize(ip, 'authfail');
        if (blockMs > 0)
          log.warn(
            { event: 'penalty', ip, kind: 'authfail', blockMs },
            `source refused for ${Math.ceil(blockMs / 1000)} s after failed logins`,
          );
      }
      ctx.reject(methods);
      if (this.failures >= this.deps.opts.limits.maxAuthTries) {
        log.warn(
          { event: 'auth-tries-exceeded', user, tries: this.failures },
          'too many authentication failures',
        );
        this.deps.end();
      }
    };
    const succeed = (detail: string, restrictions: KeyRestrictions | undefined): void => {
      const login = { user, method: ctx.method, detail, restrictions, userEntry: this.deps.opts.users[user] };
      if (!this.deps.onLogin(login)) {
        ctx.reject([]);
        this.deps.end();
        return;
      }
      this.deps.passwordChecks.noteSuccess(ip);
      log.info({ event: 'auth', user, method: ctx.method, ok: true, key: detail }, 'authenticated');
      this.deps.emit({ connection: connectionId, ip, user, method: ctx.method, ok: true, reason: detail });
      ctx.accept();
    };

    if (ctx.method === 'publickey') {
      if (!methods.includes('publickey')) {
        fail('publickey authentication is not configured', false);
        return;
      }
      // PubkeyAcceptedAlgorithms: the algorithm the client signs (or would sign) with.
      const algorithm = signatureAlgorithm(ctx.key.algo, ctx.hashAlgo);
      if (!this.deps.opts.algorithms.pubkey.includes(algorithm)) {
        fail(`key algorithm ${algorithm} not accepted (algorithms.pubkeyAcceptedAlgorithms)`, false);
        return;
      }
      const found = this.findKey(ctx);
      if (typeof found === 'string') {
        fail(found, false);
        return;
      }
      if (!ctx.signature || !ctx.blob) {
        // Only a query ("would this key do?"): answer PK_OK, the signed attempt comes next.
        ctx.accept();
        return;
      }
      let valid = false;
      try {
        valid = found.key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true;
      } catch {
        valid = false;
      }
      if (!valid) {
        fail('signature did not verify', true);
        return;
      }
      succeed(
        `${found.source}:${found.line} ${found.type}${found.comment ? ` ${found.comment}` : ''}`,
        found.restrictions,
      );
      return;
    }
    if (ctx.method === 'password') {
      if (!methods.includes('password')) {
        fail('password authentication is not configured', false);
        return;
      }
      const refusedMs = this.deps.penalties.blockedForMs(ip);
      if (refusedMs > 0) {
        // The source is penalised: its open connections get no more checks either.
        fail(`source refused for ${Math.ceil(refusedMs / 1000)} s after failed logins; not checked`, false);
        return;
      }
      const stored = this.deps.opts.users[user]?.password ?? this.deps.opts.passwords.get(user);
      const password = ctx.password;
      this.deps.passwordChecks
        .check(ip, () => verifyPassword(password, stored))
        .then((result) => {
          if (!this.deps.isOpen()) return;
          try {
            if (result === 'ok') succeed('password', undefined);
            else if (result === 'busy') fail('server busy: the password was not checked', false);
            else fail(stored ? 'wrong password' : 'no password for this user', true);
          } catch (err) {
            log.error(
              { event: 'internal-error', err: (err as Error).message },
              'error finishing a password check',
            );
            this.deps.end();
          }
        });
      return;
    }
    fail(`method ${ctx.method} is not offered`, false);
  }

  /** The authorized key matching the offered one, or why there is none. */
  private findKey(ctx: PublicKeyAuthContext): AuthorizedKey | string {
    const o = this.deps.opts;
    const candidates = [...(o.users[ctx.username]?.keys ?? []), ...o.authorizedKeys];
    const offered = ctx.key.data;
    const match = candidates.find((k) => k.type === ctx.key.algo && k.blob.equals(offered));
    if (!match) return `key ${ctx.key.algo} not authorized for this user`;
    const r = match.restrictions;
    if (r.from && !r.from.matches(this.deps.ip))
      return `key ${match.source}:${match.line} refused: from="${r.from.source}" does not match ${this.deps.ip}`;
    if (r.expiresAt && r.expiresAt.getTime() <= Date.now())
      return `key ${match.source}:${match.line} expired at ${r.expiresAt.toISOString()}`;
    return match;
  }
}
