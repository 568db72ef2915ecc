#!/usr/bin/env bash
# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
#
# Run `ansible-test sanity` on this collection without internet access beyond PyPI.
#
#  1. ansible-test bootstraps pip in each sanity venv with a get-pip.py it downloads from
#     ci-files.testing.ansible.com (unreachable here). A stand-in is written to its cache
#     (~/.ansible/test/cache/get_pip_<version>.py) that runs `python -m ensurepip` and then
#     `python -m pip install <the same arguments>` (from PyPI).
#  2. ansible-test insists on .../ansible_collections/<namespace>/<name>/ as a real directory
#     (no symlink): the git-tracked and untracked-but-not-ignored files of the checkout are
#     copied to build/sanity/ansible_collections/chat_callback/mtls/ (fresh each run), which
#     gets a `git init` of its own (ansible-test lists files with git ls-files).
#  3. `ansible-test sanity --python X.Y --venv` runs there with the venv's ansible-test.
#     No ignore files are used (tests/sanity/ignore-*.txt must not exist).
#
# Usage: scripts/ansible-test-sanity.sh [extra ansible-test sanity arguments, e.g. --test pylint]
# Environment: VENV (default .venv), SANITY_PYTHON (default: the venv's python X.Y).

set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$REPO/.venv}"
PY="$VENV/bin/python"
ANSIBLE_TEST="$VENV/bin/ansible-test"
NAMESPACE=chat_callback
NAME=mtls
DEST_ROOT="$REPO/build/sanity"
DEST="$DEST_ROOT/ansible_collections/$NAMESPACE/$NAME"

if [[ ! -x "$ANSIBLE_TEST" ]]; then
    echo "ansible-test-sanity: $ANSIBLE_TEST not found; create the venv first (make venv)" >&2
    exit 2
fi
SANITY_PYTHON="${SANITY_PYTHON:-$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')}"

# --- 1. offline stand-in for ansible-test's pip bootstrap script ---------------------------
# ansible_test/_util/target/setup/requirements.py: bootstrap() looks for
# ~/.ansible/test/cache/get_pip_<pip version with dots as underscores>.py and runs it as
# `python get_pip_X_Y.py --disable-pip-version-check pip==X.Y --no-setuptools --no-wheel`.
PIP_VERSION="$("$PY" - <<'EOF'
import types
from ansible_test._internal.python_requirements import get_venv_packages
print(get_venv_packages(types.SimpleNamespace(version="3.11"))["pip"])
EOF
)"
CACHE_DIR="$HOME/.ansible/test/cache"
GET_PIP="$CACHE_DIR/get_pip_${PIP_VERSION//./_}.py"
MARKER="chat_callback.mtls offline get-pip stand-in"
mkdir -p "$CACHE_DIR"
if [[ -f "$GET_PIP" ]] && ! grep -q "$MARKER" "$GET_PIP"; then
    echo "ansible-test-sanity: keeping the existing $GET_PIP (not ours)"
else
    cat > "$GET_PIP.tmp" <<EOF
"""$MARKER (written by scripts/ansible-test-sanity.sh).

ansible-test runs get-pip.py to put pip into the empty venvs it creates, downloading it from
ci-files.testing.ansible.com. Here: bootstrap pip with the interpreter's own ensurepip, then
let pip install the requested packages (e.g. pip==$PIP_VERSION) from the package index.
"""
import subprocess
import sys

args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
EOF
    mv "$GET_PIP.tmp" "$GET_PIP"
fi

# --- 2. copy the collection into an ansible_collections tree ------------------------------
rm -rf "$DEST"
mkdir -p "$DEST"
copied=0
while IFS= read -r -d '' file; do
    # tracked files deleted in the work tree are listed too: skip them
    [[ -e "$REPO/$file" || -L "$REPO/$file" ]] || continue
    mkdir -p "$DEST/$(dirname "$file")"
    cp -a "$REPO/$file" "$DEST/$file"
    copied=$((copied + 1))
done < <(git -C "$REPO" ls-files --cached --others --exclude-standard -z)
echo "ansible-test-sanity: copied $copied files to $DEST"
# ansible-test takes its file list from the nearest .git up the tree; without one here it would
# use the checkout's repository, where build/ is ignored, and find nothing to test. A fresh
# repository (no commits: ansible-test lists untracked, not ignored files) makes this the root.
git -C "$DEST" init -q

if compgen -G "$DEST/tests/sanity/ignore-*.txt" > /dev/null; then
    echo "ansible-test-sanity: tests/sanity/ignore-*.txt found; this project runs sanity without ignore files" >&2
    exit 1
fi

# --- 3. run ansible-test ------------------------------------------------------------------
cd "$DEST"
# the venv first on PATH: ansible-test looks up "python$SANITY_PYTHON" there (a pyenv shim
# earlier on PATH may point to an interpreter that is not installed)
export PATH="$VENV/bin:$PATH"
exec "$ANSIBLE_TEST" sanity --python "$SANITY_PYTHON" --venv --color no "$@"
