# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Make the checkout importable as ``ansible_collections.chat_callback.mtls``.

Unit tests import the collection's code by its real package name, exactly as
Ansible does, through ``build/collections/ansible_collections/chat_callback/mtls``:
a symlink to this checkout (``make collection-link`` makes the same one).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COLLECTIONS = REPO / "build" / "collections"


def _link_collection() -> None:
    if (REPO / "galaxy.yml").is_file() and REPO.parent.parent.name == "ansible_collections":
        root = REPO.parent.parent.parent  # already checked out inside an ansible_collections tree
    else:
        link = COLLECTIONS / "ansible_collections" / "chat_callback" / "mtls"
        if not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(REPO, target_is_directory=True)
        root = COLLECTIONS
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    paths = os.environ.get("ANSIBLE_COLLECTIONS_PATH", "")
    if str(root) not in paths.split(os.pathsep):
        os.environ["ANSIBLE_COLLECTIONS_PATH"] = os.pathsep.join(p for p in (str(root), paths) if p)


_link_collection()
