import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { ReadStream, WriteStream } from 'node:tty';

/**
 * Asking the user for a secret or a yes/no, the OpenSSH way: on the controlling terminal, or through
 * the SSH_ASKPASS program (with SSH_ASKPASS_REQUIRE=force for unattended gateways, or when there is
 * no terminal and a display). BatchMode forbids both.
 */
export interface Prompter {
  /** Resolves undefined when nobody can be asked (batch mode, no TTY, no askpass) or on cancel. */
  ask(prompt: string, echo: boolean): Promise<string | undefined>;
  /** Whether `ask` can possibly succeed; used to decide which auth methods are worth offering. */
  readonly available: boolean;
}

export interface PrompterOptions {
  batchMode: boolean;
  env?: NodeJS.ProcessEnv;
}

function askpassChoice(env: NodeJS.ProcessEnv, hasTty: boolean): string | undefined {
  const prog = env.SSH_ASKPASS;
  const req = (env.SSH_ASKPASS_REQUIRE ?? '').toLowerCase();
  if (!prog || req === 'never') return undefined;
  if (req === 'force' || req === 'prefer') return prog;
  if (!hasTty && (env.DISPLAY || env.WAYLAND_DISPLAY)) return prog;
  return undefined;
}

function openTty(): { input: ReadStream; output: WriteStream } | undefined {
  try {
    // Two descriptors: each stream closes its own.
    const input = new ReadStream(openSync('/dev/tty', 'r'));
    const output = new WriteStream(openSync('/dev/tty', 'w'));
    return { input, output };
  } catch {
    return undefined;
  }
}

function runAskpass(prog: string, prompt: string, env: NodeJS.ProcessEnv): Promise<string | undefined> {
  return new Promise((resolve) => {
    let out = '';
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(prog, [prompt], { stdio: ['ignore', 'pipe', 'inherit'], env });
    } catch {
      resolve(undefined);
      return;
    }
    child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      if (out.length < 65536) out += d;
    });
    child.on('error', () => resolve(undefined));
    child.on('close', (code) => resolve(code === 0 ? out.replace(/\r?\n$/, '') : undefined));
  });
}

function askTty(prompt: string, echo: boolean): Promise<string | undefined> {
  const tty = openTty();
  if (!tty) return Promise.resolve(undefined);
  const { input, output } = tty;
  return new Promise((resolve) => {
    let answer = '';
    const finish = (v: string | undefined) => {
      input.setRawMode(false);
      input.removeAllListeners('data');
      input.destroy();
      output.end();
      resolve(v);
    };
    output.write(prompt);
    input.setRawMode(true);
    input.setEncoding('utf8');
    input.on('data', (chunk: string) => {
      for (const ch of chunk) {
        if (ch === '\r' || ch === '\n') {
          output.write('\n');
          finish(answer);
          return;
        }
        if (ch === '\u0003' || ch === '\u0004') {
          output.write('\n');
          finish(undefined);
          return;
        }
        if (ch === '\u007f' || ch === '\b') {
          answer = answer.slice(0, -1);
          if (echo) output.write('\b \b');
        } else {
          answer += ch;
          if (echo) output.write(ch);
        }
      }
    });
  });
}

export function createPrompter(opts: PrompterOptions): Prompter {
  const env = opts.env ?? process.env;
  const hasTty = Boolean(process.stdin.isTTY) || openTtyProbe();
  const askpass = askpassChoice(env, hasTty);
  const available = !opts.batchMode && (askpass !== undefined || hasTty);
  return {
    available,
    async ask(prompt, echo) {
      if (opts.batchMode) return undefined;
      if (askpass) return runAskpass(askpass, prompt, env);
      if (hasTty) return askTty(prompt, echo);
      return undefined;
    },
  };
}

function openTtyProbe(): boolean {
  try {
    closeSync(openSync('/dev/tty', 'r+'));
    return true;
  } catch {
    return false;
  }
}
