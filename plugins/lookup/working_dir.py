# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function  # noqa: UP010

__metaclass__ = type  # noqa: UP001

DOCUMENTATION = r"""
name: working_dir
version_added: 0.4.0
short_description: The directory ansible-playbook was started in
description:
  - Returns the working directory of the controller's Ansible process, where C(ansible-playbook) was started.
  - Not the same as C(lookup('ansible.builtin.pipe', 'pwd')), which runs in the playbook's directory (inside the
    installed collection for C(chat_callback.mtls.deploy)), nor as C(lookup('ansible.builtin.env', 'PWD')), which a
    wrapper that starts C(ansible-playbook) in another directory leaves stale.
  - The shipped playbooks resolve a relative C(_src) path and C(nginx_mtls_audit_report) against it.
options: {}
"""

EXAMPLES = r"""
- name: Write a report next to where the operator ran ansible-playbook
  ansible.builtin.copy:
    content: "{{ report }}"
    dest: "{{ lookup('chat_callback.mtls.working_dir') }}/report.json"
    mode: "0644"
  delegate_to: localhost
"""

RETURN = r"""
_raw:
  description: One element, the absolute path of the directory.
  type: list
  elements: str
"""

import os

from ansible.plugins.lookup import LookupBase


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        return [os.getcwd()]
