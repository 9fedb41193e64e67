#!/usr/bin/env -S node --initial-old-space-size=64
// --initial-old-space-size: V8 counts the ArrayBuffers of socket reads and SSH packets that outlive
// two young-generation GCs as old-generation bytes. With many sessions queueing data, its default
// limit (a few MB above a ~12 MB heap) started a full GC every ~20 MB moved: 25 % of the process's
// CPU (tools/bench/README.md). At 64 MB they are rare, and peak RSS stays far below the 200 MB
// target. The flag has no runtime API: the container's ENTRYPOINT and the bench pass the same
// flags (a docs test checks).
import { main } from '../dist/cli.js';

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  // Stray handles (a lingering socket close) must not keep a finished ftpfwd alive.
  setTimeout(() => process.exit(code), 3000).unref();
});
