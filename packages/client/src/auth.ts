import { readFileSync } from 'node:fs';
import type { Prompter } from '@ftpfwd/ftp-proxy/cli';
import type { AnyAuthMethod, AuthenticationType, AuthHandlerMiddleware, ParsedKey } from 'ssh2';
import ssh2 from 'ssh2';

/**
 * Authentication in OpenSSH's order: agent keys, identity files (asking for passphrases of encrypted
 * ones), keyboard-interactive, password. Records what it tried so a failure can say so.
 */
export interface AuthOptions {
  username: string;
  host: string;
  /** Agent socket path, or undefined for none. */
  agent: string | undefined;
  identityFiles: string[];
  /** True when the files came from -i / IdentityFile (missing ones are then worth a warning). */
  identitiesExplicit: boolean;
  pubkey: boolean;
  password: boolean;
  keyboardInteractive: boolean;
  passwordPrompts: number;
  prompter: Prompter;
  warn: (msg: string) => void;
  /**
   * IdentitiesOnly, as OpenSSH has it: of the agent's keys only those whose public key is one of
   * the identity files' are offered (the files themselves still are).
   */
  identitiesOnly?: boolean;
  /** PubkeyAcceptedAlgorithms: keys (agent or file) that cannot sign with one of these are not offered. */
  acceptedKeyAlgorithms?: readonly string[];
}

/**
 * Whether ftpfwd may offer a key of `type` under PubkeyAcceptedAlgorithms. ssh2 signs an RSA key
 * with rsa-sha2-256 whenever the server allows it (every OpenSSH since 7.2 does), so an RSA key
 * needs that one in the list.
 */
export function keyTypeAccepted(type: string, accepted: readonly string[] | undefined): boolean {
  if (!accepted) return true;
  return accepted.includes(type === 'ssh-rsa' ? 'rsa-sha2-256' : type);
}

/** The public blob of an identity file: `FILE.pub`, else the private key when it is not encrypted. */
function identityBlob(path: string): string | undefined {
  for (const file of [`${path}.pub`, path]) {
    let data: Buffer;
    try {
      data = readFileSync(file);
    } catch {
      continue;
    }
    const k = ssh2.utils.parseKey(data);
    const key = Array.isArray(k) ? k[0] : k;
    if (key && !(key instanceof Error)) return key.getPublicSSH().toString('base64');
  }
  return undefined;
}

/**
 * The agent, showing only the keys `keep` lets through (IdentitiesOnly, PubkeyAcceptedAlgorithms);
 * signing goes to the real agent. `offered` collects the blobs it showed.
 */
class FilteredAgent extends ssh2.BaseAgent<ParsedKey> {
  private readonly inner: ssh2.BaseAgent;
  constructor(
    socket: string,
    private readonly keep: (key: ParsedKey) => boolean,
    readonly offered: Set<string>,
  ) {
    super();
    this.inner = ssh2.createAgent(socket);
  }

  getIdentities(cb: (err: Error | undefined, keys?: ParsedKey[]) => void): void {
    this.inner.getIdentities((err, keys) => {
      if (err || !keys) {
        cb(err ?? new Error('the agent returned no keys'));
        return;
      }
      const out: ParsedKey[] = [];
      for (const raw of keys) {
        const k = ssh2.utils.parseKey(raw as Buffer);
        const key = Array.isArray(k) ? k[0] : k;
        if (!key || key instanceof Error || !this.keep(key)) continue;
        this.offered.add(key.getPublicSSH().toString('base64'));
        out.push(key);
      }
      cb(undefined, out);
    });
  }

  sign(pubKey: ParsedKey, data: Buffer, options: object, cb?: (err?: Error, sig?: Buffer) => void): void {
    (this.inner.sign as (p: ParsedKey, d: Buffer, o: object, c?: unknown) => void)(pubKey, data, options, cb);
  }
}

export interface AuthState {
  handler: AuthHandlerMiddleware;
  /** Human description of each attempt, in order. */
  tried: string[];
  /** Methods the server said it accepts (from its last failure reply). */
  serverMethods(): string[] | undefined;
}

interface Step {
  /** The SSH method name the server must allow for this step. */
  method: AuthenticationType;
  make(): Promise<{ auth: AnyAuthMethod; label: string } | undefined>;
}

function keyFileStep(
  opts: AuthOptions,
  path: string,
  note: (s: string) => void,
  viaAgent: ReadonlySet<string>,
): Step {
  return {
    method: 'publickey',
    async make() {
      // The agent already offered this key (IdentitiesOnly's way): no passphrase to ask for.
      const blob = viaAgent.size > 0 ? identityBlob(path) : undefined;
      if (blob && viaAgent.has(blob)) return undefined;
      let data: Buffer;
      try {
        data = readFileSync(path);
      } catch (err) {
        if (opts.identitiesExplicit)
          opts.warn(`identity file ${path} not accessible: ${(err as NodeJS.ErrnoException).code}`);
        return undefined;
      }
      let key = ssh2.utils.parseKey(data);
      if (key instanceof Error && /encrypt|passphrase/i.test(key.message)) {
        for (let i = 0; i < 3 && key instanceof Error; i++) {
          const pass = await opts.prompter.ask(`Enter passphrase for key '${path}': `, false);
          if (pass === undefined) break;
          key = ssh2.utils.parseKey(data, pass);
        }
        if (key instanceof Error) {
          opts.warn(`key ${path} is encrypted and no (correct) passphrase was given`);
          note(`key ${path} (encrypted, no passphrase)`);
          return undefined;
        }
      }
      if (key instanceof Error) {
        opts.warn(`cannot load key ${path}: ${key.message}`);
        return undefined;
      }
      const parsed = Array.isArray(key) ? key[0] : key;
      if (parsed && !keyTypeAccepted(parsed.type, opts.acceptedKeyAlgorithms)) {
        note(`key ${path} (${parsed.type}, not in PubkeyAcceptedAlgorithms)`);
        return undefined;
      }
      return { auth: { type: 'publickey', username: opts.username, key: parsed }, label: `key ${path}` };
    },
  };
}

export function createAuth(opts: AuthOptions): AuthState {
  const tried: string[] = [];
  let lastMethods: string[] | undefined;
  const steps: Step[] = [
    {
      method: 'none',
      async make() {
        return { auth: { type: 'none', username: opts.username }, label: '' };
      },
    },
  ];
  /** Public blobs the agent offered: a file with the same key is not offered again. */
  const viaAgent = new Set<string>();
  if (opts.pubkey && opts.agent) {
    const socket = opts.agent;
    steps.push({
      method: 'publickey',
      async make() {
        if (!opts.identitiesOnly && !opts.acceptedKeyAlgorithms)
          return {
            auth: { type: 'agent', username: opts.username, agent: socket },
            label: `agent ${socket}`,
          };
        const allowed = opts.identitiesOnly
          ? new Set(opts.identityFiles.flatMap((f) => identityBlob(f) ?? []))
          : undefined;
        const agent = new FilteredAgent(
          socket,
          (k) =>
            keyTypeAccepted(k.type, opts.acceptedKeyAlgorithms) &&
            (!allowed || allowed.has(k.getPublicSSH().toString('base64'))),
          viaAgent,
        );
        // Nothing to offer: no agent attempt at all (ssh2 would count one).
        const keys = await new Promise<ParsedKey[]>((resolve) =>
          agent.getIdentities((err, k) => resolve(err ? [] : (k ?? []))),
        );
        if (keys.length === 0) return undefined;
        return {
          auth: { type: 'agent', username: opts.username, agent },
          label: `agent ${socket}${opts.identitiesOnly ? ' (keys of the identity files)' : ''}`,
        };
      },
    });
  }
  if (opts.pubkey)
    for (const f of opts.identityFiles) steps.push(keyFileStep(opts, f, (n) => tried.push(n), viaAgent));
  if (opts.keyboardInteractive && opts.prompter.available) {
    steps.push({
      method: 'keyboard-interactive',
      async make() {
        return {
          label: 'keyboard-interactive',
          auth: {
            type: 'keyboard-interactive',
            username: opts.username,
            prompt: (_name, _instructions, _lang, prompts, finish) => {
              void (async () => {
                const answers: string[] = [];
                for (const p of prompts)
                  answers.push((await opts.prompter.ask(p.prompt, p.echo ?? false)) ?? '');
                finish(answers);
              })();
            },
          },
        };
      },
    });
  }
  if (opts.password && opts.prompter.available) {
    for (let i = 0; i < opts.passwordPrompts; i++) {
      steps.push({
        method: 'password',
        async make() {
          const pw = await opts.prompter.ask(`${opts.username}@${opts.host}'s password: `, false);
          if (pw === undefined) {
            // Nobody answered: later password prompts would not be answered either.
            for (let j = steps.length - 1; j >= 0; j--)
              if (steps[j]?.method === 'password') steps.splice(j, 1);
            return undefined;
          }
          return { auth: { type: 'password', username: opts.username, password: pw }, label: 'password' };
        },
      });
    }
  }
  const handler: AuthHandlerMiddleware = (methodsLeft, _partial, next) => {
    if (methodsLeft) lastMethods = methodsLeft;
    void (async () => {
      for (;;) {
        const step = steps.shift();
        if (!step) {
          next(false as unknown as AnyAuthMethod);
          return;
        }
        if (step.method !== 'none' && methodsLeft && !methodsLeft.includes(step.method)) continue;
        let made: Awaited<ReturnType<Step['make']>>;
        try {
          made = await step.make();
        } catch (err) {
          opts.warn(`authentication step failed: ${(err as Error).message}`);
          continue;
        }
        if (!made) continue;
        if (made.label) tried.push(made.label);
        next(made.auth);
        return;
      }
    })();
  };
  return { handler, tried, serverMethods: () => lastMethods };
}
