/** The command table: every verb the bridge answers other than with 502. */
import { BASIC } from './basic.js';
import { DATA } from './data.js';
import { FS } from './fs.js';
import { LISTING } from './list.js';
import { LOGIN } from './login.js';
import type { CommandSpec } from './spec.js';
import { XFER } from './xfer.js';

export type { CommandSpec } from './spec.js';

const HELP: CommandSpec = {
  login: false,
  arg: 'optional',
  help: 'HELP [command]',
  run(s, arg) {
    const verb = arg.trim().toUpperCase();
    if (verb) {
      const spec = COMMANDS.get(verb);
      if (!spec) return s.reply(502, `${verb} not implemented`);
      return s.reply(214, spec.help);
    }
    const verbs = [...COMMANDS.keys()].sort();
    const rows: string[] = [];
    for (let i = 0; i < verbs.length; i += 8)
      rows.push(
        verbs
          .slice(i, i + 8)
          .map((v) => v.padEnd(5))
          .join(' '),
      );
    s.reply(214, ['The following commands are recognized:', ...rows, 'Help OK']);
  },
};

export const COMMANDS: ReadonlyMap<string, CommandSpec> = new Map(
  Object.entries({ ...LOGIN, ...BASIC, ...FS, ...DATA, ...LISTING, ...XFER, HELP }),
);
