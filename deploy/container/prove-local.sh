#!/usr/bin/env bash
# Proves the container build on a machine whose containers cannot reach a registry (no node image to
# pull): builds deploy/container/Containerfile's two runtime targets with podman on top of images made
# here from the host's own node, starts ftpfwd-sshd and ftpfwd in containers (non-root, read-only root
# filesystem, config and keys from mounts), and checks with the images' own health check that
#   1. ftpfwd-sshd answers with an SSH-2.0- banner,
#   2. ftpfwd's SSH link is up (ftpfwd_link_up 1),
#   3. a forwarded connection carries bytes through both containers,
#   4. the health check turns unhealthy when ftpfwd-sshd goes away, and healthy again after it returns.
# Exit 0 when all hold; every container, network, image and temp dir it made is removed either way.
#
# What differs from a registry machine: BASE is a FROM-scratch image with the host's node binary and
# its libraries, and BUILD is an image holding /opt/ftpfwd installed on the host by
# deploy/install-app.sh (the build stage's own steps need apt and npm inside the build).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
eval "$(bash "$repo/tools/container-engine")"
export CONTAINERS_CONF
tag=proof-$$
work=$(mktemp -d /tmp/ftpfwd-deploy-proof.XXXXXX)
net=ftpfwd-deploy-$tag
S=ftpfwd-sshd-$tag
F=ftpfwd-$tag
say() { echo "prove-local: $*" >&2; }
# podman schedules HEALTHCHECK runs with systemd timers; with no systemd (this sandbox) it logs an error
# per container start and runs none. The checks below run the same command explicitly instead.
podman() { command podman "$@" 2> >(grep -v 'systemd connection' >&2); }
cleanup() {
  podman rm -f -t 0 "$F" "$S" >/dev/null 2>&1 || true
  podman network rm -f "$net" >/dev/null 2>&1 || true
  podman rmi -f "localhost/ftpfwd:$tag" "localhost/ftpfwd-sshd:$tag" "localhost/ftpfwd-app-local:$tag" \
    "localhost/ftpfwd-node-local:$tag" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  say "FAILED: $*"
  for c in "$S" "$F"; do echo "--- logs of $c" >&2; podman logs "$c" >&2 2>&1 || true; done
  exit 1
}
# wait_for TRIES CMD...: run CMD once a second until it succeeds (bounded).
wait_for() {
  local n=$1; shift
  for _ in $(seq 1 "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  return 1
}

# 1. A base image standing in for node:20-bookworm-slim: the host's node and the libraries it links.
mkdir -p "$work/base/rootfs/usr/local/bin" "$work/base/rootfs/tmp" "$work/base/rootfs/etc"
cp /usr/bin/node "$work/base/rootfs/usr/local/bin/node"
for lib in $(ldd /usr/bin/node | grep -o '/[^ ]*'); do
  mkdir -p "$work/base/rootfs$(dirname "$lib")"
  cp -L "$lib" "$work/base/rootfs$lib"
done
chmod 1777 "$work/base/rootfs/tmp"
printf 'root:x:0:0:root:/root:/sbin/nologin\nnode:x:1000:1000::/home/node:/sbin/nologin\n' >"$work/base/rootfs/etc/passwd"
printf 'root:x:0:\nnode:x:1000:\n' >"$work/base/rootfs/etc/group"
printf 'FROM scratch\nCOPY rootfs/ /\nENV PATH=/usr/local/bin:/usr/bin:/bin\n' >"$work/base/Containerfile"
podman build -q -t "localhost/ftpfwd-node-local:$tag" "$work/base" >/dev/null
say "base image: host node $(node --version) + $(ldd /usr/bin/node | grep -c '=>') libraries"

# 2. The build stage's result, made on the host: /opt/ftpfwd plus the empty state/config dirs.
mkdir -p "$work/app/state/ftpfwd" "$work/app/state/ftpfwd-sshd" "$work/app/state/etc/ftpfwd" \
  "$work/app/state/etc/ftpfwd-sshd"
npm_config_nodedir=/usr bash "$repo/deploy/install-app.sh" "$work/app/opt/ftpfwd" >/dev/null 2>&1 ||
  fail "deploy/install-app.sh did not install (is the workspace built? npm run build)"
printf 'FROM scratch\nCOPY opt /opt\nCOPY state /state\n' >"$work/app/Containerfile"
podman build -q -t "localhost/ftpfwd-app-local:$tag" "$work/app" >/dev/null

# 3. The runtime images, from the real Containerfile.
for target in ftpfwd ftpfwd-sshd; do
  podman build -q --format docker -f "$repo/deploy/container/Containerfile" --target "$target" \
    --ignorefile "$repo/deploy/container/Containerfile.dockerignore" \
    --build-arg "BASE=localhost/ftpfwd-node-local:$tag" --build-arg "BUILD=localhost/ftpfwd-app-local:$tag" \
    -t "localhost/$target:$tag" "$repo" >/dev/null
done
say "built localhost/ftpfwd:$tag and localhost/ftpfwd-sshd:$tag from deploy/container/Containerfile"
[ "$(podman image inspect -f '{{.Config.User}}' "localhost/ftpfwd:$tag")" = 10001:10001 ] || fail "ftpfwd image user"
podman image inspect -f '{{json .Config.Healthcheck}}' "localhost/ftpfwd:$tag" | grep -q healthcheck.mjs ||
  fail "ftpfwd image has no HEALTHCHECK"

# 4. Config and keys, as an operator would mount them (owned by the containers' uid 10001).
mkdir -p "$work/sshd-etc" "$work/sshd-state" "$work/ftpfwd-etc"
ssh-keygen -q -t ed25519 -N '' -C proof -f "$work/ftpfwd-etc/id_ed25519"
cp "$work/ftpfwd-etc/id_ed25519.pub" "$work/sshd-etc/authorized_keys"
cat >"$work/sshd-etc/ftpfwd-sshd.yaml" <<'EOF'
listen: ["0.0.0.0:2222"]
authorizedKeys: authorized_keys
permitOpen: ["127.0.0.1:7"]
permitListen: ["9464"]
EOF
chown -R 10001:10001 "$work/sshd-state" "$work/ftpfwd-etc"
chmod 700 "$work/sshd-state"
podman network create "$net" >/dev/null

podman run -d --name "$S" --network "$net" --read-only -p 127.0.0.1::2222 \
  -v "$work/sshd-etc:/etc/ftpfwd-sshd:ro" -v "$work/sshd-state:/var/lib/ftpfwd-sshd" \
  "localhost/ftpfwd-sshd:$tag" >/dev/null
wait_for 20 sh -c "podman logs $S 2>&1 | grep -q '\"event\":\"listening\"'" || fail "ftpfwd-sshd did not start"
[ -f "$work/sshd-state/host_ed25519_key.pub" ] || fail "no automatic host key in the state volume"
sshd_ip=$(podman inspect -f "{{(index .NetworkSettings.Networks \"$net\").IPAddress}}" "$S")
sshd_port=$(podman port "$S" 2222/tcp | sed 's/.*://')
say "ftpfwd-sshd up at $sshd_ip:2222 (host 127.0.0.1:$sshd_port), host key created in the state volume"

# Health check, in the image: a throwaway container of the same image in the server's network
# namespace runs exactly the HEALTHCHECK command (podman exec would leak conmon processes here).
in_image() { # CONTAINER IMAGE ARGS...
  local c=$1 img=$2; shift 2
  podman run --rm --no-healthcheck --network "container:$c" --entrypoint node "$img" /opt/ftpfwd/healthcheck.mjs "$@"
}
in_image "$S" "localhost/ftpfwd-sshd:$tag" ftpfwd-sshd 127.0.0.1:2222 >&2 || fail "sshd health check (in image)"
node "$repo/deploy/container/healthcheck.mjs" ftpfwd-sshd "127.0.0.1:$sshd_port" >&2 || fail "sshd health check (host)"

# 5. ftpfwd, pointed at the server container: an FTP forwarding as in deploy/ftpfwd.yaml, and a -R
# forward of its own metrics port that step 5 uses to move bytes through both containers.
echo "[$sshd_ip]:2222 $(cut -d' ' -f1,2 "$work/sshd-state/host_ed25519_key.pub")" >"$work/ftpfwd-etc/known_hosts"
cat >"$work/ftpfwd-etc/ftpfwd.yaml" <<EOF
destination: proof@$sshd_ip
port: 2222
sshConfig: none
identityFile: /etc/ftpfwd/id_ed25519
options:
  BatchMode: "yes"
  StrictHostKeyChecking: "yes"
  UserKnownHostsFile: /etc/ftpfwd/known_hosts
  ServerAliveInterval: 1
  ServerAliveCountMax: 2
  ExitOnForwardFailure: "yes"
local: ["ftp/0.0.0.0:2121:127.0.0.1:21"]
remote: ["tcp/9464:127.0.0.1:9464"]
metrics: 0.0.0.0:9464
logFormat: json
EOF
chown 10001:10001 "$work/ftpfwd-etc/known_hosts" "$work/ftpfwd-etc/ftpfwd.yaml"
podman run -d --name "$F" --network "$net" --read-only -p 127.0.0.1::9464 \
  -v "$work/ftpfwd-etc:/etc/ftpfwd:ro" "localhost/ftpfwd:$tag" >/dev/null
wait_for 20 sh -c "podman logs $F 2>&1 | grep -q 'ftp 0.0.0.0:2121 -> 127.0.0.1:21 via'" || fail "ftpfwd did not come up"
metrics_port=$(podman port "$F" 9464/tcp | sed 's/.*://')
pid=$(podman inspect -f '{{.State.Pid}}' "$F")
grep -q '^Uid:[[:space:]]*10001[[:space:]]' "/proc/$pid/status" || fail "ftpfwd does not run as uid 10001"
grep -q '^CapEff:[[:space:]]*0000000000000000' "/proc/$pid/status" || fail "ftpfwd has effective capabilities"
say "ftpfwd up as uid 10001 with no capabilities, read-only root, config and key from a mount"

in_image "$F" "localhost/ftpfwd:$tag" ftpfwd http://127.0.0.1:9464/metrics >&2 || fail "ftpfwd health check (in image)"
node "$repo/deploy/container/healthcheck.mjs" ftpfwd "http://127.0.0.1:$metrics_port/metrics" >&2 ||
  fail "ftpfwd health check (host)"

# Bytes through both containers: the -R forward makes the server container's 127.0.0.1:9464 lead back
# through the SSH connection to ftpfwd's metrics endpoint; fetch it from inside the server's namespace.
podman run --rm --no-healthcheck --network "container:$S" --entrypoint node "localhost/ftpfwd-sshd:$tag" -e \
  "fetch('http://127.0.0.1:9464/metrics').then(r=>r.text()).then(t=>{if(!/^ftpfwd_link_up 1$/m.test(t))process.exit(1)})" ||
  fail "no bytes through the -R forward"
say "a forwarded connection crossed the SSH link between the containers"

# 6. Link down: the health check must say so; link back: healthy again (ftpfwd reconnects). Pausing the
# server container keeps its address (a restart would get a new one); ftpfwd's ServerAliveInterval
# notices the silence within ~3 s.
podman pause "$S" >/dev/null
wait_for 30 sh -c "! node '$repo/deploy/container/healthcheck.mjs' ftpfwd http://127.0.0.1:$metrics_port/metrics" ||
  fail "health check stayed healthy with ftpfwd-sshd paused"
in_image "$F" "localhost/ftpfwd:$tag" ftpfwd http://127.0.0.1:9464/metrics >&2 && fail "in-image check healthy while link down"
podman unpause "$S" >/dev/null
wait_for 45 node "$repo/deploy/container/healthcheck.mjs" ftpfwd "http://127.0.0.1:$metrics_port/metrics" ||
  fail "ftpfwd did not reconnect"
in_image "$F" "localhost/ftpfwd:$tag" ftpfwd http://127.0.0.1:9464/metrics >&2 || fail "in-image check after reconnect"
say "health check: unhealthy while ftpfwd-sshd was unreachable, healthy after ftpfwd reconnected"
say "OK"
