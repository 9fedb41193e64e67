#!/usr/bin/env node
import { main } from '../dist/cli.js';

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  // Stray handles (a lingering socket close) must not keep a finished ftpfwd alive.
  setTimeout(() => process.exit(code), 3000).unref();
});
