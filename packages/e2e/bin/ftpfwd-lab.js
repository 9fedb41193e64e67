#!/usr/bin/env node
// ftpfwd-lab: run forwarding scenarios (YAML) on container topologies. See packages/e2e/README.md.
import { main } from '../dist/lab/cli.js';

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  // The engine client's keep-alive sockets must not keep a finished run alive.
  setTimeout(() => process.exit(code), 2000).unref();
});
