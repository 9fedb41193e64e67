import type { FtpSession } from '../session.js';

/** One FTP command: whether it needs a login and an argument, and what it does. */
export interface CommandSpec {
  login: boolean;
  arg: 'required' | 'optional' | 'none';
  /** One line for HELP. */
  help: string;
  run(s: FtpSession, arg: string): Promise<void> | void;
}

export type CommandTable = Record<string, CommandSpec>;
