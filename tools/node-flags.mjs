// The node flags a CLI's bin script asks for on its `#!/usr/bin/env -S node <flags>` line. Whatever
// starts a CLI through `node <bin>` (the bench, the container's ENTRYPOINT) skips that line, so it
// passes these flags itself to run the program as an installed one runs.
import { readFileSync } from 'node:fs';

const SHEBANG = /^#!\/usr\/bin\/env -S node((?: +--[\w-]+(?:=\S+)?)*) *$/;

export function nodeFlagsOf(binPath) {
  const first = readFileSync(binPath, 'utf8').split('\n', 1)[0];
  const m = SHEBANG.exec(first);
  if (!m)
    throw new Error(
      `${binPath}: expected a first line "#!/usr/bin/env -S node [--flag ...]", got "${first}"`,
    );
  return m[1].split(' ').filter(Boolean);
}
