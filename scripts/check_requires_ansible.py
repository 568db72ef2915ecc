"""Fail unless meta/runtime.yml's requires_ansible is exactly the range `make test` tests.

The oldest tested ansible-core is the pin in requirements-test.txt (.venv), the newest the pin in
requirements-test-newest.txt (build/venv-newest). Unit and module tests run on both
(`make unit ansible-tests` and `make matrix`); requires_ansible must then read
">=OLDEST_MAJOR.MINOR.0,<NEWEST_MAJOR.(MINOR+1).0". (ansible-test sanity runs on every version
requires_ansible admits, whatever it says: noxfile.py, `make sanity`.)
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def core_pin(name: str) -> tuple[int, int, str]:
    text = (REPO / name).read_text()
    match = re.search(r"^ansible-core==((\d+)\.(\d+)\.\S+)", text, re.M)
    if not match:
        sys.exit(f"check_requires_ansible: {name} pins no ansible-core==X.Y.Z")
    return int(match.group(2)), int(match.group(3)), match.group(1)


def main() -> int:
    old_major, old_minor, oldest = core_pin("requirements-test.txt")
    new_major, new_minor, newest = core_pin("requirements-test-newest.txt")
    expected = f">={old_major}.{old_minor}.0,<{new_major}.{new_minor + 1}.0"
    actual = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text()).get("requires_ansible")
    if actual != expected:
        print(f"check_requires_ansible: meta/runtime.yml requires_ansible is {actual!r}; the tested range "
              f"(ansible-core {oldest} to {newest}) is {expected!r}", file=sys.stderr)
        return 1
    print(f"check_requires_ansible: requires_ansible {actual!r} = tested ansible-core {oldest} .. {newest}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
