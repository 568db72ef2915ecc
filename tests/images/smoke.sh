#!/usr/bin/env bash
# End-to-end proof that the test-host image works the way molecule and `make demo` use it:
# rootful podman, systemd as PID 1, ports published on 127.0.0.1 only, Ansible through the
# containers.podman.podman connection, nginx installed by apt from the mirror and managed
# by systemd. Builds the image first if needed (cached). The container is always removed.
#
# usage: tests/images/smoke.sh [SUITE]     SUITE: bookworm (default) | trixie
#   SMOKE_PORT=N        host port on 127.0.0.1 published to the container's 443 (default: a free one)
#   SMOKE_HTTP_PORT=N   host port on 127.0.0.1 published to the container's 80 (default: a free one)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
suite="${1:-bookworm}"

log() { printf '[smoke %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FAIL: $*"; exit 1; }
export CONTAINERS_CONF="${CONTAINERS_CONF:-$repo/tests/containers.conf}"
if [ -x "$repo/.venv/bin/ansible" ]; then export PATH="$repo/.venv/bin:$PATH"; fi
command -v ansible >/dev/null || die "ansible not found: run make venv (or put it on PATH)"
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }
t0="$(now)"

image="$("$here/build-image.sh" "$suite" | tail -n1)"
log "image $image ready after $(since "$t0")"

name="chat-callback-mtls-smoke-$suite-$$"
cleanup() {
    local rc=$?
    if podman container exists "$name" 2>/dev/null; then
        [ "$rc" = 0 ] || podman exec "$name" systemctl --failed --no-pager >&2 2>/dev/null || true
        local t
        t="$(now)"
        podman rm -f -t 10 "$name" >/dev/null || true
        log "container removed in $(since "$t")"
    fi
    if [ "$rc" = 0 ]; then log "PASS ($suite) in $(since "$t0")"; else log "FAIL ($suite) after $(since "$t0")"; fi
}
trap cleanup EXIT

# Started as molecule's podman driver does (see README.md for the matching platforms: entry).
t="$(now)"
podman run -d --name "$name" --hostname smoke-host \
    --systemd=always \
    -p "127.0.0.1:${SMOKE_PORT:-}:443" -p "127.0.0.1:${SMOKE_HTTP_PORT:-}:80" \
    "$image" /sbin/init >/dev/null
http_port="$(podman port "$name" 80/tcp | sed 's/.*://')"
log "container $name started, 127.0.0.1:$(podman port "$name" 443/tcp | sed 's/.*://')->443, 127.0.0.1:$http_port->80"
state=""
for _ in $(seq 1 300); do
    state="$(podman exec "$name" systemctl is-system-running 2>/dev/null || true)"
    case "$state" in running | degraded) break ;; esac
    sleep 0.2
done
case "$state" in
    running) log "systemd running after $(since "$t")" ;;
    degraded) log "systemd degraded after $(since "$t"):"; podman exec "$name" systemctl --failed --no-legend >&2 ;;
    *) die "systemd not up after 60s (state '$state')" ;;
esac

# Ansible through the podman connection plugin (containers.podman ships in the ansible package).
ansible_adhoc() {
    ANSIBLE_HOST_KEY_CHECKING=False ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3 \
        ANSIBLE_NOCOLOR=1 ANSIBLE_LOAD_CALLBACK_PLUGINS=1 ANSIBLE_STDOUT_CALLBACK=ansible.builtin.minimal \
        ansible all -i "$name," -e ansible_connection=containers.podman.podman "$@"
}
t="$(now)"
ansible_adhoc -m ansible.builtin.ping >/dev/null || die "ansible ping through containers.podman.podman"
log "ansible ping ok in $(since "$t")"

t="$(now)"
ansible_adhoc -m ansible.builtin.apt -a "name=nginx state=present update_cache=true" >"/tmp/$name.apt.log" 2>&1 ||
    { cat "/tmp/$name.apt.log" >&2; rm -f "/tmp/$name.apt.log"; die "ansible apt nginx"; }
rm -f "/tmp/$name.apt.log"
log "ansible apt nginx (update_cache) ok in $(since "$t")"

active="$(podman exec "$name" systemctl is-active nginx || true)"
[ "$active" = active ] || die "nginx is '$active', not active, under systemd"
log "systemctl is-active nginx: active"

# The published port reaches nginx from the host (127.0.0.1 only).
t="$(now)"
code="$(python3 - "$http_port" <<'EOF'
import sys, time, urllib.request
for _ in range(50):
    try:
        print(urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/", timeout=2).status)
        break
    except OSError:
        time.sleep(0.2)
else:
    print("unreachable")
EOF
)"
[ "$code" = 200 ] || die "http://127.0.0.1:$http_port/ -> $code"
log "http://127.0.0.1:$http_port/ -> 200 in $(since "$t")"
