#!/usr/bin/env bash
# Proves the two units under a real systemd (as PID 1 of a podman container, since this machine's
# PID 1 is not systemd): installs them as deploy/README.md says (sysusers file, units enabled,
# /opt/ftpfwd from deploy/install-app.sh, configs in /etc/ftpfwd and /etc/ftpfwd-sshd), boots, and checks
#   1. both services are active, as their own users, with no capabilities, no_new_privs, a seccomp
#      filter and a read-only root: the hardening is applied, and node runs under it;
#   2. ftpfwd-sshd created its host key in /var/lib/ftpfwd-sshd (XDG_STATE_HOME=/var/lib), ftpfwd
#      wrote known_hosts in its state directory, connected and set up its forwarding;
#   3. the health checks say healthy (run in the container's network namespace with nsenter), and a
#      connection through ftpfwd's forwarding reaches the server;
#   4. `systemctl reload ftpfwd-sshd` reloads (the `reloaded` event), `systemctl reload ftpfwd` reloads
#      (its summary line: the one forwarding unchanged) and both stay active; `systemctl stop` stops
#      both cleanly.
# The container uses the host's /usr, /lib, /bin, /sbin read-only (the host's systemd and node).
# Exit 0 when all hold; the container, image and temp dir are removed either way.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
eval "$(bash "$repo/tools/container-engine")"
export CONTAINERS_CONF
tag=proof-$$
name=ftpfwd-systemd-$tag
work=$(mktemp -d /tmp/ftpfwd-systemd-proof.XXXXXX)
say() { echo "prove-systemd: $*" >&2; }
podman() { command podman "$@" 2> >(grep -v 'systemd connection' >&2); }
cleanup() {
  podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
  podman rmi -f "localhost/ftpfwd-systemd:$tag" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
journal() { journalctl -D "$work/journal" --no-pager -o cat "$@" 2>/dev/null; }
fail() {
  say "FAILED: $*"
  journal -u ftpfwd -u ftpfwd-sshd >&2 || true
  exit 1
}
wait_for() {
  local n=$1; shift
  for _ in $(seq 1 "$n"); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
  return 1
}

# The root file system: what the install steps of deploy/README.md leave behind.
r=$work/rootfs
mkdir -p "$r"/{etc/systemd/system/multi-user.target.wants,etc/sysusers.d,etc/ftpfwd,etc/ftpfwd-sshd,opt} \
  "$r"/{usr,lib,lib64,bin,sbin,proc,sys,dev,run,tmp,var/lib,var/log/journal,root,home}
chmod 1777 "$r/tmp"
printf 'root:x:0:0:root:/root:/bin/sh\n' >"$r/etc/passwd"
printf 'root:x:0:\n' >"$r/etc/group"
: >"$r/etc/machine-id"
ln -s ../usr/lib/os-release "$r/etc/os-release"
cp "$repo"/deploy/systemd/*.service "$r/etc/systemd/system/"
cp "$repo/deploy/systemd/sysusers-ftpfwd.conf" "$r/etc/sysusers.d/ftpfwd.conf"
for u in ftpfwd ftpfwd-sshd; do ln -s "../$u.service" "$r/etc/systemd/system/multi-user.target.wants/$u.service"; done
npm_config_nodedir=/usr bash "$repo/deploy/install-app.sh" "$r/opt/ftpfwd" >/dev/null 2>&1 ||
  fail "deploy/install-app.sh did not install (is the workspace built? npm run build)"
# Config: the gateway reaches the server in the same machine. The users do not exist before the
# first boot (systemd-sysusers makes them), so the files are world-readable here instead of 0640
# root:ftpfwd; the key is a throwaway.
ssh-keygen -q -t ed25519 -N '' -C gateway -f "$r/etc/ftpfwd/id_ed25519"
cp "$r/etc/ftpfwd/id_ed25519.pub" "$r/etc/ftpfwd-sshd/authorized_keys"
cat >"$r/etc/ftpfwd-sshd/ftpfwd-sshd.yaml" <<'EOF'
listen: ["127.0.0.1:2222"]
authorizedKeys: authorized_keys
permitOpen: ["127.0.0.1:2222"]
EOF
cat >"$r/etc/ftpfwd/ftpfwd.yaml" <<'EOF'
destination: gw@127.0.0.1
port: 2222
sshConfig: none
identityFile: /etc/ftpfwd/id_ed25519
options: { BatchMode: "yes", StrictHostKeyChecking: accept-new, UserKnownHostsFile: /var/lib/ftpfwd/known_hosts }
local: ["tcp/127.0.0.1:2121:127.0.0.1:2222"]
metrics: 127.0.0.1:9464
EOF
chmod 0644 "$r"/etc/ftpfwd/* "$r"/etc/ftpfwd-sshd/*
chmod 0755 "$r"/etc/ftpfwd "$r"/etc/ftpfwd-sshd # readable before the groups exist
printf 'FROM scratch\nCOPY rootfs/ /\n' >"$work/Containerfile"
podman build -q -t "localhost/ftpfwd-systemd:$tag" "$work" >/dev/null

mkdir -p "$work/journal"
mounts=()
for d in /usr /lib /lib64 /bin /sbin; do [ -e "$d" ] && mounts+=(-v "$d:$d:ro"); done
podman run -d -t --name "$name" --systemd=always --privileged "${mounts[@]}" \
  -v /etc/ld.so.cache:/etc/ld.so.cache:ro -v "$work/journal:/var/log/journal" \
  "localhost/ftpfwd-systemd:$tag" /lib/systemd/systemd >/dev/null
pid=$(podman inspect -f '{{.State.Pid}}' "$name")
in_ns() { nsenter -t "$pid" -a "$@"; }
pidns=$(readlink "/proc/$pid/ns/pid")
wait_for 60 in_ns systemctl is-active --quiet ftpfwd-sshd || fail "ftpfwd-sshd.service not active"
wait_for 60 sh -c "journalctl -D '$work/journal' -o cat -u ftpfwd 2>/dev/null | grep -q 'tcp 127.0.0.1:2121 -> 127.0.0.1:2222 via'" ||
  fail "ftpfwd.service did not set up its forwarding"
say "booted systemd $(systemctl --version | head -1 | cut -d' ' -f2); both units active"

# 1. The hardening, as the kernel sees the main processes.
for u in ftpfwd ftpfwd-sshd; do
  main=$(in_ns systemctl show -P MainPID "$u")
  # The host's PID of it: a process in the container's PID namespace whose innermost PID is $main.
  hostpid=
  for st in $(grep -l "^NSpid:.*[[:space:]]$main\$" /proc/[0-9]*/status 2>/dev/null); do
    p=$(echo "$st" | cut -d/ -f3)
    [ "$(readlink "/proc/$p/ns/pid")" = "$pidns" ] && hostpid=$p && break
  done
  [ -n "$hostpid" ] || fail "$u: main process $main not found"
  st=/proc/$hostpid/status
  uid=$(awk '/^Uid:/{print $2}' "$st")
  [ "$uid" != 0 ] || fail "$u runs as root"
  [ "$(in_ns getent passwd "$uid" | cut -d: -f1)" = "$u" ] || fail "$u does not run as user $u"
  grep -q '^CapEff:[[:space:]]*0000000000000000$' "$st" || fail "$u has capabilities"
  grep -q '^NoNewPrivs:[[:space:]]*1$' "$st" || fail "$u without no_new_privs"
  grep -q '^Seccomp:[[:space:]]*2$' "$st" || fail "$u without a seccomp filter"
  awk '$5=="/"{print $6}' "/proc/$hostpid/mountinfo" | grep -q '^ro' || fail "$u: / is writable"
  say "$u: user $u (uid $uid), no capabilities, no_new_privs, seccomp filter, read-only /"
done

# 2. State directories.
journal -u ftpfwd-sshd | grep -q '"event":"host-key-created","file":"/var/lib/ftpfwd-sshd/host_ed25519_key"' ||
  fail "host key not created in /var/lib/ftpfwd-sshd"
in_ns test -s /var/lib/ftpfwd/known_hosts || fail "ftpfwd wrote no known_hosts in /var/lib/ftpfwd"
say "host key in /var/lib/ftpfwd-sshd, known_hosts in /var/lib/ftpfwd"

# 3. Health checks, in the machine's network namespace.
nsenter -t "$pid" -n node "$repo/deploy/container/healthcheck.mjs" ftpfwd-sshd 127.0.0.1:2222 >&2 || fail "sshd health"
wait_for 20 nsenter -t "$pid" -n node "$repo/deploy/container/healthcheck.mjs" ftpfwd http://127.0.0.1:9464/metrics ||
  fail "ftpfwd health"
nsenter -t "$pid" -n node "$repo/deploy/container/healthcheck.mjs" ftpfwd http://127.0.0.1:9464/metrics >&2
# Bytes through the tunnel: ftpfwd's forwarding 127.0.0.1:2121 leads (over its SSH connection) to the
# server's own port 2222, so the SSH banner read there crossed both hardened services.
nsenter -t "$pid" -n node "$repo/deploy/container/healthcheck.mjs" ftpfwd-sshd 127.0.0.1:2121 >&2 ||
  fail "nothing came through ftpfwd's forwarding"
say "a connection through ftpfwd's forwarding got the server's banner"

# 4. Reload and stop through systemctl.
in_ns systemctl reload ftpfwd-sshd || fail "systemctl reload ftpfwd-sshd"
wait_for 10 sh -c "journalctl -D '$work/journal' -o cat -u ftpfwd-sshd 2>/dev/null | grep -q '\"event\":\"reloaded\"'" ||
  fail "no reloaded event after systemctl reload"
in_ns systemctl is-active --quiet ftpfwd-sshd || fail "ftpfwd-sshd not active after reload"
say "systemctl reload ftpfwd-sshd: reloaded, still active"
in_ns systemctl reload ftpfwd || fail "systemctl reload ftpfwd"
wait_for 10 sh -c "journalctl -D '$work/journal' -o cat -u ftpfwd 2>/dev/null | grep -qF 'reloaded /etc/ftpfwd/ftpfwd.yaml: 0 forwarding(s) opened, 0 closed, 1 unchanged'" ||
  fail "no reload summary from ftpfwd after systemctl reload"
in_ns systemctl is-active --quiet ftpfwd || fail "ftpfwd not active after reload"
# Still forwarding after the reload: the unchanged forwarding kept its listener.
nsenter -t "$pid" -n node "$repo/deploy/container/healthcheck.mjs" ftpfwd-sshd 127.0.0.1:2121 >&2 ||
  fail "nothing came through ftpfwd's forwarding after the reload"
say "systemctl reload ftpfwd: reloaded (1 forwarding unchanged), still active and forwarding"
in_ns systemctl stop ftpfwd ftpfwd-sshd || fail "systemctl stop"
for u in ftpfwd ftpfwd-sshd; do
  [ "$(in_ns systemctl show -P Result "$u")" = success ] || fail "$u did not stop cleanly"
done
say "systemctl stop: both exited cleanly"
say "OK"
