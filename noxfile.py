"""nox sessions of chat_callback.mtls: antsibull-nox's, configured in antsibull-nox.toml, and
`ansible-test sanity` on every ansible-core version meta/runtime.yml's requires_ansible admits.

Run through make (`make lint sanity docs`, `make nox`), which installs nox and antsibull-nox
(requirements-nox.txt) into build/venv-nox and puts the interpreters below on PATH.

antsibull-nox's own ansible-test sessions ([sessions.ansible_test_sanity] in antsibull-nox.toml)
cannot run where CI runs: they install ansible-core from a GitHub archive
(https://github.com/ansible/ansible/archive/stable-2.19.tar.gz) and run
`ansible-test sanity --docker` (the default test container comes from quay.io). Only PyPI is
reachable, so the sanity sessions are defined here with antsibull-nox's public
`prepare_collections`: ansible-core from PyPI, `ansible-test sanity --venv`, and the offline
get-pip stand-in that scripts/ansible_test_offline_pip.py writes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nox
import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

try:
    import antsibull_nox
    from antsibull_nox.sessions import prepare_collections
except ImportError:
    print("You need to install antsibull-nox in the same Python environment as nox (make venv-nox).")
    sys.exit(1)

antsibull_nox.load_antsibull_nox_toml()

REPO = Path(__file__).resolve().parent

# Per ansible-core minor version: the controller Python its sanity tests run on, and the release
# installed (pinned like every tool here; 2.19 and 2.21 as in requirements-test.txt and
# requirements-test-newest.txt, where the unit and module tests run on them). 2.19 on the Python
# of .venv and build/venv-nox (3.11), the later ones on 3.13 (PYTHON_NEWEST in the Makefile,
# linked into build/nox-bin). A version requires_ansible admits but this table lacks stops nox:
# widening requires_ansible needs a line here, and thereby sanity tests on that version.
SANITY = {
    "2.19": ("3.11", "2.19.14"),
    "2.20": ("3.13", "2.20.10"),
    "2.21": ("3.13", "2.21.5"),
}


def claimed_core_versions() -> list[str]:
    """The ansible-core minor versions meta/runtime.yml's requires_ansible admits."""
    claim = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())["requires_ansible"]
    spec = SpecifierSet(claim)
    claimed = [
        f"2.{minor}" for minor in range(9, 40) if spec.contains(Version(f"2.{minor}.999"), prereleases=True)
    ]
    if not claimed:
        sys.exit(f"noxfile: requires_ansible {claim!r} admits no ansible-core 2.x version")
    missing = [core for core in claimed if core not in SANITY]
    if missing:
        sys.exit(
            f"noxfile: requires_ansible {claim!r} admits ansible-core {', '.join(missing)}, which "
            "SANITY in noxfile.py lacks: add it there, so that it is tested"
        )
    return claimed


def add_sanity_session(core: str) -> str:
    python, release = SANITY[core]
    if not release.startswith(f"{core}."):
        sys.exit(f"noxfile: SANITY[{core!r}] pins ansible-core {release}")
    name = f"ansible-test-sanity-{core}"

    @nox.session(name=name, python=python, default=False)
    def sanity(session: nox.Session) -> None:
        ignores = sorted(p.name for p in (REPO / "tests" / "sanity").glob("ignore-*.txt"))
        if ignores:
            session.error(f"tests/sanity/{', '.join(ignores)}: this collection runs sanity without ignore files")
        session.install(f"ansible-core=={release}")
        session.run("python", str(REPO / "scripts" / "ansible_test_offline_pip.py"))
        # a copy of the checkout's files (git: tracked and untracked, not ignored) in a temporary
        # ansible_collections/chat_callback/mtls outside the checkout, as ansible-test needs
        collections = prepare_collections(session, install_in_site_packages=False, install_out_of_tree=True)
        if collections is None:
            session.error("antsibull-nox prepared no collection tree")
        with session.chdir(collections.current_path):
            session.run("ansible-test", "sanity", "--venv", "--python", python, "--color", "no", *session.posargs)

    sanity.__doc__ = f"ansible-test sanity --venv from ansible-core {release} on Python {python} (offline)"
    return name


SANITY_SESSIONS = [add_sanity_session(core) for core in claimed_core_versions()]


@nox.session(name="ansible-test-sanity", requires=SANITY_SESSIONS, python=False, default=True)
def ansible_test_sanity(session: nox.Session) -> None:
    """ansible-test sanity on every ansible-core version requires_ansible admits."""


if __name__ == "__main__":
    nox.main()
