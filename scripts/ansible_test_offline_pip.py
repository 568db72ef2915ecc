"""Write an offline stand-in for the get-pip.py that ansible-test downloads.

ansible-test puts pip into every empty venv it creates (`ansible-test sanity --venv`) with a
get-pip.py it downloads from ci-files.testing.ansible.com, which is unreachable here. Its
bootstrap (ansible_test/_util/target/setup/requirements.py) first looks for
~/.ansible/test/cache/get_pip_<pip version, dots as underscores>.py and runs it as
`python get_pip_X_Y.py --disable-pip-version-check pip==X.Y --no-setuptools --no-wheel`.
The stand-in written there runs the interpreter's own `ensurepip` and then `pip install` with
the same arguments (from the package index).

Run it with the Python whose ansible-test will use it (it asks that ansible-test which pip
versions it bootstraps): the nox sessions ansible-test-sanity-X.Y (noxfile.py, `make sanity`)
do. A get_pip file that is not ours is left alone.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

MARKER = "chat_callback.mtls offline get-pip stand-in"
STAND_IN = '''"""{marker} (written by scripts/ansible_test_offline_pip.py).

ansible-test runs get-pip.py to put pip into the empty venvs it creates, downloading it from
ci-files.testing.ansible.com. Here: bootstrap pip with the interpreter's own ensurepip, then
let pip install the requested packages (e.g. pip=={pip}) from the package index.
"""
import subprocess
import sys

args = [arg for arg in sys.argv[1:] if arg not in ("--no-setuptools", "--no-wheel")]
subprocess.check_call([sys.executable, "-m", "ensurepip", "--default-pip"])
subprocess.check_call([sys.executable, "-m", "pip", "install"] + args)
'''


def pip_versions() -> set[str]:
    from ansible_test._internal.python_requirements import get_venv_packages  # noqa: PLC0415
    from ansible_test._internal.constants import SUPPORTED_PYTHON_VERSIONS  # noqa: PLC0415

    return {get_venv_packages(types.SimpleNamespace(version=v))["pip"] for v in SUPPORTED_PYTHON_VERSIONS}


def main() -> int:
    cache = Path.home() / ".ansible" / "test" / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    for pip in sorted(pip_versions()):
        target = cache / f"get_pip_{pip.replace('.', '_')}.py"
        if target.exists() and MARKER not in target.read_text(errors="replace"):
            print(f"ansible_test_offline_pip: keeping the existing {target} (not ours)")
            continue
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_text(STAND_IN.format(marker=MARKER, pip=pip))
        tmp.replace(target)
        print(f"ansible_test_offline_pip: {target} (pip {pip}, offline stand-in)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
