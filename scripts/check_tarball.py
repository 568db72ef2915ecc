"""Check the file list of the collection tarball that `ansible-galaxy collection build` made.

Fails, naming every offending member, when the tarball holds anything that must never ship:
virtualenvs, build/ output, caches, test output, private keys (``*.key`` or a PEM private key
block in any file), the demo PKI, version-control data or nested tarballs; or when it misses a
file the collection cannot work without, or grows past ``--max-bytes``. galaxy.yml's
``build_ignore`` is what keeps these out; this is the check that it still does.

Usage: python scripts/check_tarball.py build/chat_callback-mtls-0.2.0.tar.gz [--max-bytes N]
"""

from __future__ import annotations

import argparse
import collections
import fnmatch
import re
import sys
import tarfile
from pathlib import Path, PurePosixPath

# A member is refused when one of its path components matches one of these ...
FORBIDDEN_PARTS = {
    ".venv*": "a virtualenv",
    "venv": "a virtualenv",
    ".git": "version-control data",
    ".github": "CI configuration",
    ".ci": "CI configuration",
    "build": "build output",
    "__pycache__": "a Python cache",
    ".pytest_cache": "a pytest cache",
    ".ruff_cache": "a ruff cache",
    ".mypy_cache": "a mypy cache",
    ".cache": "a cache",
    ".tox": "a tox environment",
    ".ansible": "an ansible-lint / ansible-compat cache",
    ".demo": "demo output",
}
# ... or its whole path one of these ...
FORBIDDEN_PATHS = {
    "tests/output": "ansible-test output",
    "tests/output/*": "ansible-test output",
    "demo/pki": "the demo PKI",
    "demo/pki/*": "the demo PKI",
    "benchmarks/results*": "benchmark output",
    "molecule/*/.molecule*": "molecule state",
}
# ... or its file name one of these.
FORBIDDEN_NAMES = {
    "*.key": "a private key file",
    "*.pyc": "compiled Python",
    "*.tar.gz": "a nested tarball",
    "*.retry": "an Ansible retry file",
    ".coverage*": "coverage data",
}
# A PEM private key (PKCS#1, PKCS#8, SEC1, encrypted or not) in any file, whatever its name.
PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----\r?\n[A-Za-z0-9+/=:,\- \r\n]{40,}?-----END ")
# What the installed collection needs to work at all.
REQUIRED = [
    "MANIFEST.json",
    "FILES.json",
    "README.md",
    "LICENSE",
    "meta/runtime.yml",
    "plugins/modules/cert_check.py",
    "plugins/modules/tls_probe.py",
    "plugins/module_utils/cert_checks.py",
    "plugins/module_utils/cert_check_task.py",
    "plugins/action/cert_check.py",
    "roles/nginx_mtls/tasks/main.yml",
    "roles/nginx_mtls/meta/argument_specs.yml",
    "playbooks/deploy.yml",
]


def _name(member: tarfile.TarInfo) -> str:
    name = member.name
    while name.startswith("./"):
        name = name[2:]
    return name.rstrip("/")


def problems_of(tar: tarfile.TarFile) -> tuple[list[tarfile.TarInfo], list[str]]:
    members = tar.getmembers()
    problems = []
    offending: dict[str, str] = {}
    names = set()
    for member in members:
        name = _name(member)
        names.add(name)
        path = PurePosixPath(name)
        why = None
        if path.is_absolute() or ".." in path.parts:
            why = "a path outside the collection"
        for pattern, reason in FORBIDDEN_PARTS.items():
            if why is None and any(fnmatch.fnmatchcase(part, pattern) for part in path.parts):
                why = reason
        for pattern, reason in FORBIDDEN_PATHS.items():
            if why is None and fnmatch.fnmatchcase(name, pattern):
                why = reason
        for pattern, reason in FORBIDDEN_NAMES.items():
            if why is None and fnmatch.fnmatchcase(path.name, pattern):
                why = reason
        if why is None and (member.issym() or member.islnk()):
            why = f"a link (to {member.linkname})"
        if why is None and member.isfile():
            handle = tar.extractfile(member)
            if handle is not None and PRIVATE_KEY.search(handle.read()):
                why = "a file holding a PEM private key"
        if why:
            offending[name] = why
    # report a refused directory once, with the number of members under it
    for name, why in offending.items():
        parents = [str(p) for p in PurePosixPath(name).parents if str(p) in offending]
        if parents:
            continue
        inside = sum(1 for other in offending if other.startswith(name + "/"))
        problems.append(f"{name}: {why}" + (f" ({inside} members under it)" if inside else ""))
    for required in REQUIRED:
        if required not in names:
            problems.append(f"{required}: missing (the collection needs it)")
    return members, problems


def summary(members: list[tarfile.TarInfo]) -> str:
    files = [m for m in members if m.isfile()]
    by_top: collections.Counter[str] = collections.Counter()
    for member in files:
        parts = PurePosixPath(_name(member)).parts
        by_top[parts[0] + ("/" if len(parts) > 1 else "")] += 1
    total = sum(m.size for m in files)
    tops = ", ".join(f"{top} {count}" for top, count in sorted(by_top.items()))
    return f"{len(files)} files, {total} bytes uncompressed ({tops})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("tarball")
    parser.add_argument("--max-bytes", type=int, default=2 * 1024 * 1024,
                        help="largest acceptable tarball (default 2 MiB; Galaxy takes at most 20 MB)")
    args = parser.parse_args()
    with tarfile.open(args.tarball, "r:gz") as tar:
        members, problems = problems_of(tar)
    tarball = Path(args.tarball)
    nbytes = tarball.stat().st_size
    if nbytes > args.max_bytes:
        problems.append(f"{tarball.name}: {nbytes} bytes, more than --max-bytes {args.max_bytes}")
    print(f"check_tarball: {tarball.name}: {nbytes} bytes, {summary(members)}")
    if problems:
        print(f"check_tarball: {len(problems)} problem(s) in {args.tarball}; fix galaxy.yml build_ignore "
              "or remove the files:", file=sys.stderr)
        for problem in problems[:200]:
            print(f"  {problem}", file=sys.stderr)
        if len(problems) > 200:
            print(f"  ... and {len(problems) - 200} more", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
