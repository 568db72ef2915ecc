# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lookup chat_callback.mtls.working_dir: where ansible-playbook runs, not where the playbook is."""

from __future__ import annotations

import json
import subprocess

import pytest
from test_cert_check_ansible import ANSIBLE_PLAYBOOK, ansible_env

pytestmark = pytest.mark.ansible

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  vars:
    as_play_var: "{{ lookup('chat_callback.mtls.working_dir') }}"
  tasks:
    - ansible.builtin.debug:
        msg: "{{ [as_play_var, lookup('chat_callback.mtls.working_dir'), lookup('ansible.builtin.pipe', 'pwd')] }}"
"""


def test_the_lookup_gives_the_directory_ansible_playbook_runs_in(tmp_path):
    playbooks, project = tmp_path / "collection" / "playbooks", tmp_path / "project"
    playbooks.mkdir(parents=True)
    project.mkdir()
    (playbooks / "site.yml").write_text(PLAYBOOK)
    env = ansible_env(tmp_path)
    env["PWD"] = str(tmp_path)  # stale, as a wrapper that changed directory leaves it
    proc = subprocess.run([str(ANSIBLE_PLAYBOOK), "-i", "localhost,", "-c", "local", str(playbooks / "site.yml")],
                          cwd=str(project), env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    task = json.loads(proc.stdout)["plays"][0]["tasks"][0]
    play_var, in_task, pipe_pwd = task["hosts"]["localhost"]["msg"]
    assert play_var == in_task == str(project)
    assert pipe_pwd == str(playbooks)  # why the playbooks do not use it
