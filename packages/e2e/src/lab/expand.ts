/**
 * A scenario's steps as they will run: a transfer with lists of modes and actions becomes one step
 * per combination, NAME-MODE-down|up|list. Pure (no addresses needed), so `check` and test collection
 * see the same step names as a run.
 */
import type { Action, Client, Mode, StepSpec } from './schema.js';

export type StepKind = Action | 'session' | 'run';

export interface ExpandedStep {
  name: string;
  /** Index of the step in the file's `steps:` list. */
  index: number;
  spec: StepSpec;
  kind: StepKind;
  client?: Client;
  mode?: Mode;
  /** Whose payload files it moves (NAME-payload.bin down, NAME-upload.bin up): `files:` or its name. */
  files?: string;
}

/** The modes a client can be told to use (lftp sends EPRT only for IPv6). */
export const CLIENT_MODES: Record<Client, readonly Mode[]> = {
  curl: ['epsv', 'pasv', 'eprt', 'port'],
  lftp: ['epsv', 'pasv', 'port'],
  'basic-ftp': [],
};

const SHORT: Record<Action, string> = { download: 'down', upload: 'up', list: 'list' };

export function expandStep(spec: StepSpec, index: number): ExpandedStep[] {
  if (spec.run) return [{ name: spec.name, index, spec, kind: 'run' }];
  const client = spec.client as Client;
  const files = spec.files ?? spec.name;
  if (client === 'basic-ftp') return [{ name: spec.name, index, spec, kind: 'session', client, files }];
  const modes = spec.mode?.values ?? CLIENT_MODES[client];
  const actions = spec.do?.values ?? (['download', 'upload', 'list'] as const);
  const single = spec.mode?.list === false && spec.do?.list === false;
  const out: ExpandedStep[] = [];
  for (const mode of modes)
    for (const kind of actions)
      out.push({
        name: single ? spec.name : `${spec.name}-${mode}-${SHORT[kind]}`,
        index,
        spec,
        kind,
        client,
        mode,
        files,
      });
  return out;
}

export function expandSteps(steps: readonly StepSpec[]): ExpandedStep[] {
  return steps.flatMap((s, i) => expandStep(s, i));
}
