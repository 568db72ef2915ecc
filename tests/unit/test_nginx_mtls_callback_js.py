# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The role's njs module (callback signature check) passes its njs unit test, run by the njs CLI.

Debian's package njs is the same engine as nginx's libnginx-mod-http-js, so the test runs the
module as nginx would. Without the njs binary this fails rather than skips: CI installs it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODULE_DIR = ROOT / "roles" / "nginx_mtls" / "files"
TEST_JS = ROOT / "tests" / "njs" / "test_nginx_mtls_callback.js"


def njs_binary() -> str:
    found = shutil.which("njs") or (Path("/usr/bin/njs").is_file() and "/usr/bin/njs")
    assert found, "no njs binary on PATH nor at /usr/bin/njs: run `apt-get install njs` (Debian/Ubuntu package)"
    return found


def test_the_njs_module_passes_its_njs_test():
    assert (MODULE_DIR / "nginx_mtls_callback.js").is_file()
    result = subprocess.run([njs_binary(), "-p", str(MODULE_DIR), str(TEST_JS)], capture_output=True, text=True,
                            timeout=60, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    # The closing line: a test file that stopped early without throwing has not passed.
    assert re.search(r"^ok \d+ checks$", result.stdout, re.MULTILINE), output
