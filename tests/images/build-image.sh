#!/usr/bin/env bash
# Build the throwaway Debian web-host image for molecule and `make demo`, offline and from
# scratch: debootstrap (minbase) from the apt mirror -> podman import -> podman build with
# tests/images/Containerfile. Cached: exits at once when the image is present and was built
# from the current recipe (this script + the Containerfile). See tests/images/README.md.
#
# usage: tests/images/build-image.sh [SUITE]        SUITE: bookworm (default) | trixie
#   FORCE=1          rebuild even if the image is present
#   MIRROR=URL       Debian mirror (default: the one apt on this machine uses)
#   SECURITY_MIRROR=URL  security mirror ("" to leave it out; default: the one apt uses, if any)
#   CONTAINERS_CONF  podman config (default: tests/containers.conf of this repo)
# Prints the image name on the last line of stdout.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
suite="${1:-bookworm}"

log() { printf '[build-image %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
t0=$SECONDS
step_start=$SECONDS
step() { log "$* (+$((SECONDS - step_start))s, total $((SECONDS - t0))s)"; step_start=$SECONDS; }

case "$suite" in
    bookworm) version=12 ;;
    trixie) version=13 ;;
    *) die "unknown suite '$suite' (bookworm or trixie)" ;;
esac
image="localhost/chat-callback-mtls-host:debian-$version"
base="localhost/chat-callback-mtls-base:debian-$version"

[ "$(id -u)" = 0 ] || die "run as root: the test hosts are rootful podman containers"
export CONTAINERS_CONF="${CONTAINERS_CONF:-$repo/tests/containers.conf}"
[ -r "$CONTAINERS_CONF" ] || die "CONTAINERS_CONF=$CONTAINERS_CONF is not readable"

# --- host packages: install only what is missing (apt-get update once, only if needed) -------
# netavark + aardvark-dns are named because --no-install-recommends would otherwise pick the
# old CNI plugins; runc because crun (podman's first choice) refuses hybrid cgroups.
need=(podman runc netavark aardvark-dns iptables debootstrap debian-archive-keyring)
missing=()
for p in "${need[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    log "installing host packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    step "host packages installed"
fi

# The recipe: rebuild when this script or the Containerfile changed since the image was built.
recipe="$(cat "$here/build-image.sh" "$here/Containerfile" | sha256sum | cut -c1-16)"
label=org.chat-callback-mtls.recipe

present() {
    [ "$(podman image inspect --format "{{ index .Labels \"$label\" }}" "$image" 2>/dev/null)" = "$recipe" ]
}

# One build per image at a time (parallel molecule scenarios may all call this).
mkdir -p /run/lock
exec 9>"/run/lock/chat-callback-mtls-host-debian-$version.lock"
flock 9

if [ "${FORCE:-0}" != 1 ] && present; then
    log "image $image present"
    echo "$image"
    exit 0
fi
if podman image exists "$image"; then
    old_id="$(podman image inspect --format '{{.Id}}' "$image")"
    old_base="$(podman image inspect --format '{{.Id}}' "$base" 2>/dev/null || true)"
    log "rebuilding $image (FORCE=${FORCE:-0}, recipe $recipe)"
else
    old_id="" old_base=""
    log "building $image (recipe $recipe)"
fi

# --- mirror: the one apt on this machine uses ----------------------------------------------
apt_uris() {
    {
        cat /etc/apt/sources.list.d/*.sources 2>/dev/null | sed -n 's/^URIs:[[:space:]]*//p' | tr ' ' '\n'
        cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
            sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\?\([^[:space:]]\+\).*/\2/p'
    } | sed '/^$/d; s#/*$##'
}
if [ -z "${MIRROR:-}" ]; then
    MIRROR="$(apt_uris | grep -v -- '-security' | head -n1 || true)"
fi
[ -n "$MIRROR" ] || die "no Debian mirror found in /etc/apt/sources.list{,.d}: set MIRROR=URL"
if [ -z "${SECURITY_MIRROR+x}" ]; then
    SECURITY_MIRROR="$(apt_uris | grep -- '-security' | head -n1 || true)"
fi
log "mirror $MIRROR${SECURITY_MIRROR:+, security $SECURITY_MIRROR}, suite $suite"

work="$(mktemp -d /var/tmp/chat-callback-mtls-image.XXXXXX)"
bg_pid=""
cleanup() {
    # Stop an interrupted debootstrap (own process group: its dpkg/wget children too), then
    # unmount what an interrupted debootstrap may have left (proc, sys, ...) and the tmpfs,
    # deepest first, before deleting; never delete across a mount.
    local m
    if [ -n "$bg_pid" ]; then kill -TERM -- "-$bg_pid" 2>/dev/null || true; wait "$bg_pid" 2>/dev/null || true; fi
    for m in $(findmnt -rn -o TARGET | grep -F "$work/" | sort -r); do umount -l "$m" || true; done
    rm -rf --one-file-system "$work"
}
trap cleanup EXIT
root="$work/root"
mkdir "$root"
# The root on a tmpfs: dpkg's fsyncs cost nothing there (debootstrap 21s instead of 29s).
mount -t tmpfs -o size=2g,mode=0755 chat-callback-mtls-root "$root" ||
    log "no tmpfs for the root (debootstrap will be slower)"
mkdir "$work/context"  # the build needs no files: an empty context

# --- 1. minbase root -------------------------------------------------------------------------
log "debootstrap --variant=minbase $suite $MIRROR"
setsid debootstrap --variant=minbase "$suite" "$root" "$MIRROR" >"$work/debootstrap.log" 2>&1 &
bg_pid=$!
if ! wait "$bg_pid"; then
    bg_pid=""
    tail -n 30 "$work/debootstrap.log" >&2
    die "debootstrap $suite from $MIRROR failed"
fi
bg_pid=""
step "debootstrap done"

# Slim and configure the root before import: no docs/man/locales (now and for every later
# dpkg run), apt sources pointing at the same mirror, nothing of this build machine left.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin \
    "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
    "$root"/usr/share/locale/* "$root"/usr/share/lintian/* \
    "$root"/var/log/bootstrap.log "$root"/etc/hostname "$root"/etc/resolv.conf \
    "$root"/etc/apt/sources.list "$root"/var/lib/apt/lists/*
# debootstrap's copyright files go too: dpkg keeps them for packages installed later.
cat >"$root/etc/dpkg/dpkg.cfg.d/01-container-slim" <<'EOF'
# Throwaway test host: no documentation, manuals or translations.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
EOF
cat >"$root/etc/dpkg/dpkg.cfg.d/02-container-unsafe-io" <<'EOF'
# Throwaway test host: skip fsync, apt installs are much faster.
force-unsafe-io
EOF
{
    printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
        "$MIRROR" "$suite" "$suite"
    if [ -n "$SECURITY_MIRROR" ]; then
        printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
            "$SECURITY_MIRROR" "$suite"
    fi
} >"$root/etc/apt/sources.list.d/debian.sources"

# --- 2. import as the base image ---------------------------------------------------------------
tar -C "$root" --numeric-owner -c . |
    podman import --quiet --message "debootstrap --variant=minbase $suite $MIRROR" - "$base" >/dev/null
if mountpoint -q "$root"; then umount "$root"; fi
rm -rf --one-file-system "$root"
step "imported $base ($(podman image inspect --format '{{.Size}}' "$base" | numfmt --to=iec))"

# --- 3. the layer Ansible and systemd need -----------------------------------------------------
# --network=host: the build only talks to the mirror; no bridge or firewall rules needed.
if ! podman build --network=host --pull=never \
    --build-arg "BASE=$base" \
    --label "$label=$recipe" \
    --label "org.chat-callback-mtls.suite=$suite" \
    --label "org.chat-callback-mtls.mirror=$MIRROR" \
    -f "$here/Containerfile" -t "$image" "$work/context" >"$work/build.log" 2>&1; then
    tail -n 40 "$work/build.log" >&2
    die "podman build failed"
fi
step "built $image ($(podman image inspect --format '{{.Size}}' "$image" | numfmt --to=iec))"

# Drop the images this build replaces, and older replaced ones left behind while a container
# used them (only untagged images of this recipe family; in-use ones stay).
{
    [ -z "$old_id" ] || echo "$old_id"
    [ -z "$old_base" ] || echo "$old_base"
    podman images -q --no-trunc --filter dangling=true --filter "label=$label"
} | sed 's/^sha256://' | sort -u | while read -r id; do
    podman image exists "$id" || continue  # removing an image removes its untagged base too
    podman rmi "$id" >/dev/null 2>&1 || log "old image ${id:0:12} kept (a container still uses it)"
done

log "image $image ready in $((SECONDS - t0))s"
echo "$image"
