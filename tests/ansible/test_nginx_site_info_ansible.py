# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""chat_callback.mtls.nginx_site_info through ansible, under its old name too."""

from __future__ import annotations

import subprocess
import sys

import pytest
from test_cert_check_ansible import ANSIBLE, ansible_env

pytestmark = pytest.mark.ansible


@pytest.mark.parametrize("name", ["nginx_site_info", "nginx_site_facts"])
def test_the_module_answers_under_its_name_and_its_old_deprecated_one(tmp_path, name):
    env = ansible_env(tmp_path)
    env.update(ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default", ANSIBLE_DEPRECATION_WARNINGS="1")
    proc = subprocess.run(
        [str(ANSIBLE), "localhost", "-i", "localhost,", "-c", "local", "-m", f"chat_callback.mtls.{name}",
         "-a", f"binary={tmp_path}/no-nginx", "-e", f"ansible_python_interpreter={sys.executable}"],
        cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert '"installed": false' in proc.stdout
    deprecated = "nginx_site_facts has been deprecated" in " ".join((proc.stdout + proc.stderr).split())
    assert deprecated is (name == "nginx_site_facts"), proc.stderr
