#!/bin/sh
# Installs ftpfwd and ftpfwd-sshd into PREFIX (default /opt/ftpfwd) from this repository:
# packs the three workspace packages and installs the tarballs with their runtime dependencies only
# (no nx, vitest, ftp-srv, testcontainers). Used by the systemd install (deploy/README.md) and by the
# container build. Needs the packages built (npm run build) and the npm registry (or npm's cache).
# ssh2's native crypto binding is compiled against npm_config_nodedir's headers (/usr for Debian's
# nodejs, /usr/local for the node images); without them it silently falls back to slow pure JS, so
# this script fails if the binding did not load.
set -eu
prefix=${1:-/opt/ftpfwd}
repo=$(cd "$(dirname "$0")/.." && pwd)
: "${npm_config_nodedir:=$(dirname "$(dirname "$(command -v node)")")}"
export npm_config_nodedir
# The tarballs stay in PREFIX/packages: package.json points at them, so a later npm install there works.
pkgs=$prefix/packages
rm -rf "$pkgs" && mkdir -p "$pkgs"
(cd "$repo" && npm pack --silent -w @ftpfwd/ftp-proxy -w @ftpfwd/client -w @ftpfwd/sshd --pack-destination "$pkgs" >/dev/null)
# npm 11 asks install scripts to be allowed, npm 12 blocks the rest: ssh2 builds its binding.
[ -f "$prefix/package.json" ] ||
  echo '{ "private": true, "allowScripts": { "ssh2": true, "cpu-features": true } }' >"$prefix/package.json"
npm install --prefix "$prefix" --omit=dev --no-audit --no-fund --prefer-offline \
  "$pkgs/ftpfwd-ftp-proxy-0.1.0.tgz" "$pkgs/ftpfwd-client-0.1.0.tgz" "$pkgs/ftpfwd-sshd-0.1.0.tgz"
cp "$repo/deploy/container/healthcheck.mjs" "$prefix/healthcheck.mjs"
(cd "$prefix" && node -e "if (!require('ssh2/lib/protocol/crypto.js').bindingAvailable) { console.error('install-app: ssh2 native crypto binding did not build (npm_config_nodedir=' + process.env.npm_config_nodedir + ')'); process.exit(1) }")
echo "install-app: $prefix/node_modules/.bin/ftpfwd and ftpfwd-sshd installed"
