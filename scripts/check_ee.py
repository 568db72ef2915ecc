"""Check the execution environment definition and the build context `ansible-builder create` made.

Building the image needs the base image from a container registry, which CI cannot reach, so
this rehearses offline what the image build would do with the context and checks the result:

1. execution-environment.yml installs the tarball `make build` makes for galaxy.yml's version,
   and pins the ansible-core and cryptography versions requirements-test*.txt test;
2. the context (default build/ee) has the Containerfile, and _build/ holds that very tarball;
3. the galaxy stage: `ansible-galaxy collection install -r requirements.yml` run in _build, as
   the Containerfile runs it in /build (offline: the requirements hold only the local tarball);
4. the builder stage: `ansible-builder introspect` of what step 3 installed, with the user
   requirements from _build, must include the collection's own meta/execution-environment.yml
   needs (cryptography, an SSH client);
5. pip resolves ansible-core, ansible-runner and those Python requirements together (dry run,
   from PyPI, for this interpreter's Python version).

Usage: python scripts/check_ee.py [build/ee]      (run with the venv's python: it calls the
venv's ansible-galaxy, ansible-builder and pip)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
EE_FILE = REPO / "execution-environment.yml"
COLLECTION = "chat_callback.mtls"


class Failed(Exception):
    pass


def pins(*files: Path) -> dict[str, set[str]]:
    """{package: {versions}} of the name==version lines of the requirements files."""
    found: dict[str, set[str]] = {}
    for file in files:
        if not file.exists():
            continue
        for line in file.read_text().splitlines():
            match = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;#]+)", line.strip())
            if match:
                name = re.sub(r"\[.*\]", "", match.group(1)).lower()
                found.setdefault(name, set()).add(match.group(2))
    return found


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(cmd: list[str], **kwargs) -> str:
    print("+ " + " ".join(cmd), flush=True)
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, **kwargs)
    if proc.returncode:
        raise Failed(f"{cmd[0]} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
    return proc.stdout


def check_definition(ee: dict, version: str) -> tuple[str, list[str]]:
    """Step 1; returns the tarball name and the ansible install references."""
    if ee.get("version") != 3:
        raise Failed(f"{EE_FILE.name}: version must be 3 (ansible-builder v3 schema), not {ee.get('version')!r}")
    tarball = f"chat_callback-mtls-{version}.tar.gz"
    deps = ee.get("dependencies") or {}
    galaxy = deps.get("galaxy") or {}
    names = [c.get("name", "") for c in (galaxy.get("collections") or []) if isinstance(c, dict)]
    if not any(Path(name).name == tarball for name in names):
        raise Failed(f"{EE_FILE.name}: dependencies.galaxy.collections must install {tarball} (galaxy.yml version "
                     f"{version}); it names {names}")
    sources = [entry.get("src", "") for entry in ee.get("additional_build_files") or []]
    if f"build/{tarball}" not in sources:
        raise Failed(f"{EE_FILE.name}: additional_build_files must copy build/{tarball} into the context; "
                     f"it copies {sources}")
    tested = pins(REPO / "requirements-test.txt", REPO / "requirements-test-newest.txt")
    refs = []
    for key, package in (("ansible_core", "ansible-core"), ("ansible_runner", "ansible-runner")):
        ref = str((deps.get(key) or {}).get("package_pip", ""))
        match = re.fullmatch(rf"{package}==(\S+)", ref)
        if not match:
            raise Failed(f"{EE_FILE.name}: dependencies.{key}.package_pip must pin {package}==<version>, not {ref!r}")
        if package in tested and match.group(1) not in tested[package]:
            raise Failed(f"{EE_FILE.name}: {ref} is not a tested version (requirements-test*.txt pin "
                         f"{package} {', '.join(sorted(tested[package]))})")
        refs.append(ref)
    python = deps.get("python") or []
    if isinstance(python, str):
        python = (REPO / python).read_text().splitlines()
    for line in python:
        match = re.match(r"^cryptography==(\S+)", line.strip())
        if match and match.group(1) not in tested.get("cryptography", set()):
            raise Failed(f"{EE_FILE.name}: cryptography=={match.group(1)} is not the tested pin "
                         f"({', '.join(sorted(tested.get('cryptography', [])))})")
    return tarball, refs


def main() -> int:
    context = Path(sys.argv[1] if len(sys.argv) > 1 else REPO / "build" / "ee").resolve()
    ee = yaml.safe_load(EE_FILE.read_text())
    version = yaml.safe_load((REPO / "galaxy.yml").read_text())["version"]
    try:
        tarball, refs = check_definition(ee, version)
        print(f"check_ee: {EE_FILE.name} installs {tarball} with {' '.join(refs)}")

        # 2. the build context
        build = context / "_build"
        for needed in (context / "Containerfile", build / "requirements.yml", build / "collections" / tarball):
            if not needed.is_file():
                raise Failed(f"{needed} missing: did `ansible-builder create -c {context}` run?")
        if sha256(build / "collections" / tarball) != sha256(REPO / "build" / tarball):
            raise Failed(f"{build / 'collections' / tarball} differs from build/{tarball}")
        containerfile = (context / "Containerfile").read_text()
        for ref in refs:
            if ref not in containerfile:
                raise Failed(f"{context / 'Containerfile'} does not install {ref}")

        # 3. the galaxy stage, offline
        rehearsal = REPO / "build" / "ee-rehearsal"
        shutil.rmtree(rehearsal, ignore_errors=True)
        collections = rehearsal / "collections"
        env = dict(os.environ, ANSIBLE_GALAXY_DISABLE_GPG_VERIFY="1", ANSIBLE_COLLECTIONS_PATH=str(collections))
        run([str(BIN / "ansible-galaxy"), "collection", "install", "--offline", "-r", "requirements.yml",
             "--collections-path", str(collections)], cwd=build, env=env)
        if not (collections / "ansible_collections" / "chat_callback" / "mtls" / "MANIFEST.json").is_file():
            raise Failed(f"the galaxy stage did not install {COLLECTION}")

        # 4. the builder stage's introspection
        cmd = [str(BIN / "ansible-builder"), "introspect", str(collections),
               "--write-pip", str(rehearsal / "requirements.txt"), "--write-bindep", str(rehearsal / "bindep.txt")]
        for option, name in (("--user-pip", "requirements.txt"), ("--user-bindep", "bindep.txt")):
            if (build / name).is_file():
                cmd[2:2] = [option, str(build / name)]
        print(run(cmd), end="")
        python = (rehearsal / "requirements.txt").read_text()
        system = (rehearsal / "bindep.txt").read_text()
        origin = f"from collection {COLLECTION}"
        if not re.search(rf"^cryptography\b.*{re.escape(origin)}", python, re.M):
            raise Failed(f"introspection found no cryptography requirement {origin}: is meta/execution-environment.yml "
                         "in the tarball?")
        if not re.search(rf"^openssh-client.*{re.escape(origin)}", system, re.M):
            raise Failed(f"introspection found no SSH client {origin} (meta/ee-bindep.txt)")

        # 5. the Python packages resolve together
        interpreter = str((ee["dependencies"].get("python_interpreter") or {}).get("python_path", ""))
        here = f"python{sys.version_info[0]}.{sys.version_info[1]}"
        if interpreter and Path(interpreter).name != here:
            print(f"check_ee: pip dry run with {here}, the EE's interpreter is {interpreter}")
        out = run([sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
                   "--disable-pip-version-check", "--report", "-", *refs, "-r", str(rehearsal / "requirements.txt")])

        resolved = sorted(f"{item['metadata']['name']}=={item['metadata']['version']}"
                          for item in json.loads(out)["install"])
        print(f"check_ee: the EE's Python packages resolve to {len(resolved)} packages: {' '.join(resolved)}")
    except Failed as exc:
        print(f"check_ee: {exc}", file=sys.stderr)
        return 1
    print(f"check_ee: build context {context} is complete; building the image needs a container registry "
          "(out of scope here)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
