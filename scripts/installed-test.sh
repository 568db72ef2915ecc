#!/usr/bin/env bash
# make installed: test the collection as users get it, from the tarball, not from the checkout.
#
#  1. the tarball `make build` made (build/chat_callback-mtls-<version>.tar.gz) holds nothing
#     that must not ship (scripts/check_tarball.py: venvs, build/, caches, test output, keys,
#     the demo PKI, .git) and everything the collection needs;
#  2. `ansible-galaxy collection install --offline --no-deps` puts it into build/installed, the
#     only collections path from here on (the checkout's build/collections link is not used);
#     `ansible-galaxy collection verify --offline` compares the installed files with the
#     tarball's checksums;
#  3. in build/installed-demo (a demo/ of its own, so the user's demo/pki and `make demo` host
#     are left alone): `ansible-playbook chat_callback.mtls.deploy --syntax-check`, then
#     scripts/demo.sh (throwaway podman host, demo PKI, the deploy playbook, the curl proof)
#     on host $INSTALLED_HOST at 127.0.0.1:$INSTALLED_PORT, then `--check` against the
#     deployed host, which must report no change;
#  4. the host is removed (also on failure; KEEP_HOST=1 keeps it for a look).
#
# usage: scripts/installed-test.sh [install|demo]   install: steps 1-2 (make installed-copy);
#        demo: steps 3-4 on the copy `install` made; no argument: all (make installed).
# Needs the venv's ansible on PATH, and for demo the test image (the Makefile's targets see to both).
# Environment: INSTALLED_HOST (default mtls-installed), INSTALLED_PORT (default 18643), KEEP_HOST.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
host=${INSTALLED_HOST:-mtls-installed}
port=${INSTALLED_PORT:-18643}
installed=$REPO/build/installed
sandbox=$REPO/build/installed-demo
playbook=$installed/ansible_collections/chat_callback/mtls/playbooks/deploy.yml
step() { printf '\n==> [installed] %s\n' "$*"; }
die() { echo "installed-test: $*" >&2; exit 1; }

# The demo inventory with the demo host renamed (podman's connection plugin uses the name).
rename_inventory() {  # SRC DEST HOST
    python - "$@" <<'EOF'
import sys

import yaml

src, dest, host = sys.argv[1:]
inventory = yaml.safe_load(open(src))
renamed = 0


def rename(group):
    global renamed
    if not isinstance(group, dict):
        return
    hosts = group.get("hosts") or {}
    if "mtls-demo" in hosts:
        group["hosts"] = {(host if name == "mtls-demo" else name): v for name, v in hosts.items()}
        renamed += 1
    for child in (group.get("children") or {}).values():
        rename(child)


for top in inventory.values():
    rename(top)
if not renamed:
    sys.exit(f"{src}: no host mtls-demo to rename")
with open(dest, "w") as out:
    out.write(f"# {src} with mtls-demo renamed to {host} (scripts/installed-test.sh)\n")
    yaml.safe_dump(inventory, out, sort_keys=False)
EOF
}

install() {
    local version tarball found
    version=$(python -c 'import yaml; print(yaml.safe_load(open("galaxy.yml"))["version"])')
    tarball=build/chat_callback-mtls-$version.tar.gz
    [[ -f $tarball ]] || die "$tarball not found: run make build first"

    step "Checking the file list of $tarball"
    python scripts/check_tarball.py "$tarball"

    step "Installing $tarball into build/installed (offline, no dependencies)"
    rm -rf "$installed"
    export ANSIBLE_COLLECTIONS_PATH=$installed
    ansible-galaxy collection install --offline --no-deps --force -p "$installed" "$tarball"
    [[ -f $playbook ]] || die "the install did not produce $playbook"
    ansible-galaxy collection verify --offline chat_callback.mtls
    found=$(ansible-galaxy collection list chat_callback.mtls --format json \
        | python -c 'import json, sys; print("\n".join(json.load(sys.stdin)))')
    [[ $found == "$installed/ansible_collections" ]] \
        || die "chat_callback.mtls must be found in $installed only, found in: $found"
    echo "chat_callback.mtls $version found only in $found"
}

demo() {
    [[ -f $playbook ]] || die "$playbook not found: run $0 install first (make installed-copy)"
    export ANSIBLE_COLLECTIONS_PATH=$installed

    step "A demo directory of its own in $sandbox (host $host, port $port)"
    rm -rf "$sandbox"
    mkdir -p "$sandbox/scripts" "$sandbox/tests" "$sandbox/demo"
    # demo.sh works in the directory above its own: linked here, it uses this demo/ and tests/
    ln -s "$REPO/scripts/demo.sh" "$sandbox/scripts/demo.sh"
    ln -s "$REPO/tests/pki.py" "$sandbox/tests/pki.py"
    rename_inventory "$REPO/demo/inventory.yml" "$sandbox/demo/inventory.yml" "$host"
    cd "$sandbox"
    trap cleanup EXIT

    step "ansible-playbook -i demo/inventory.yml chat_callback.mtls.deploy --syntax-check (installed copy)"
    local out recap
    out=$(ansible-playbook -i demo/inventory.yml chat_callback.mtls.deploy --syntax-check)
    echo "$out"
    grep -qxF "playbook: $playbook" <<<"$out" || die "the playbook was not taken from $playbook"

    step "scripts/demo.sh against the installed copy"
    DEMO_HOST=$host DEMO_PORT=$port "$sandbox/scripts/demo.sh"

    step "ansible-playbook -i demo/inventory.yml chat_callback.mtls.deploy --check (installed copy, deployed host)"
    ansible-playbook -i demo/inventory.yml chat_callback.mtls.deploy --check | tee check.log
    recap=$(grep -E "^$host +:" check.log || true)
    [[ $recap =~ changed=0 && $recap =~ unreachable=0 && $recap =~ failed=0 ]] \
        || die "check mode against the deployed host must report changed=0 failed=0, got: ${recap:-no recap}"

    step "Installed collection passed: syntax-check, demo, check mode, all from $installed"
}

cleanup() {
    local rc=$?
    if [[ -n ${KEEP_HOST:-} ]]; then
        echo "installed-test: KEEP_HOST set: $host kept (remove: DEMO_HOST=$host $sandbox/scripts/demo.sh clean)"
    else
        DEMO_HOST=$host "$sandbox/scripts/demo.sh" clean || true
    fi
    exit "$rc"
}

case ${1:-all} in
    install) install ;;
    demo) demo ;;
    all) install; demo ;;
    *) die "usage: $0 [install|demo]" ;;
esac
