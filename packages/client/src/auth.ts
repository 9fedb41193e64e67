import { readFileSync } from 'node:fs';
import type { Prompter } from '@ftpfwd/ftp-proxy/cli';
import type { AnyAuthMethod, AuthenticationType, AuthHandlerMiddleware } from 'ssh2';
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

function keyFileStep(opts: AuthOptions, path: string, note: (s: string) => void): Step {
  return {
    method: 'publickey',
    async make() {
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
  if (opts.pubkey && opts.agent) {
    const agent = opts.agent;
    steps.push({
      method: 'publickey',
      async make() {
        return { auth: { type: 'agent', username: opts.username, agent }, label: `agent ${agent}` };
      },
    });
  }
  if (opts.pubkey) for (const f of opts.identityFiles) steps.push(keyFileStep(opts, f, (n) => tried.push(n)));
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
