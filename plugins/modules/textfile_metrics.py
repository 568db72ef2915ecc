#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Ansible module layout: py2-style boilerplate first, imports after the documentation strings.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: textfile_metrics
short_description: Write gauges for node_exporter's textfile collector, only when they changed
version_added: 0.4.0
description:
  - Writes O(samples) in the Prometheus text format to O(path), a C(.prom) file in the directory node_exporter's
    textfile collector reads, as the collector requires - to a temporary file in the same directory, then renamed
    over the old one, mode C(0644) so that the exporter's user can read it. Samples carry no timestamp (the
    collector rejects a whole file for one).
  - O(stamp) is a gauge of when the site last changed. It is set to the current time when O(refresh) is true or the
    file has none, else kept from the file, so that a run that changes nothing leaves the file as it is.
  - Uses only the Python standard library.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - chat_callback.mtls._attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
options:
  path:
    description:
      - The C(.prom) file to write. Its directory must exist (see O(skip_missing_dir)).
    type: path
    required: true
  samples:
    description:
      - The gauges, each with V(name), V(help), V(labels) (a dictionary) and V(value) (a number); samples with one
        name share its V(help).
    type: list
    elements: dict
    required: true
  stamp:
    description:
      - The gauge that holds when the site last changed, with V(name), V(help) and V(labels).
    type: dict
    required: true
  refresh:
    description:
      - Set O(stamp) to now, because the site changed in this run.
    type: bool
    default: false
  skip_missing_dir:
    description:
      - When the directory of O(path) does not exist (node_exporter is not installed), do nothing and say so in
        RV(msg) instead of failing.
    type: bool
    default: false
seealso:
  - name: node_exporter textfile collector
    description: How node_exporter reads C(*.prom) files.
    link: https://github.com/prometheus/node_exporter#textfile-collector
"""

EXAMPLES = r"""
- name: Publish the certificate's expiry
  chat_callback.mtls.textfile_metrics:
    path: /var/lib/prometheus/node-exporter/nginx_mtls_www.example.com.prom
    samples:
      - name: nginx_mtls_certificate_not_after_seconds
        help: When the certificate expires, in Unix seconds.
        labels: {server_name: www.example.com}
        value: 1798761600
    stamp:
      name: nginx_mtls_last_deploy_timestamp_seconds
      help: When the site last changed, in Unix seconds.
      labels: {server_name: www.example.com}
    refresh: "{{ site is changed }}"
"""

RETURN = r"""
written:
  description: Whether the file was (or in check mode would be) written.
  returned: always
  type: bool
  sample: true
msg:
  description: What was done.
  returned: always
  type: str
  sample: /var/lib/prometheus/node-exporter does not exist; no metrics written
"""

import os
import time

from ansible_collections.chat_callback.mtls.plugins.module_utils._file_ops import write_atomically
from ansible_collections.chat_callback.mtls.plugins.module_utils._module import AnsibleModule
from ansible_collections.chat_callback.mtls.plugins.module_utils._textfile import MetricError, plan


def main():
    module = AnsibleModule(
        argument_spec=dict(
            path=dict(type="path", required=True),
            samples=dict(type="list", elements="dict", required=True),
            stamp=dict(type="dict", required=True),
            refresh=dict(type="bool", default=False),
            skip_missing_dir=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    path = module.params["path"]
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        if module.params["skip_missing_dir"]:
            module.exit_json(changed=False, written=False, msg=f"{directory} does not exist; no metrics written")
        module.fail_json(msg=f"{directory} does not exist: install node_exporter's textfile collector or set "
                             f"nginx_mtls_metrics_textfile_dir", written=False)
    try:
        with open(path, encoding="utf-8") as handle:
            existing = handle.read()
    except FileNotFoundError:
        existing = None
    except (OSError, UnicodeDecodeError) as exc:
        module.fail_json(msg=f"{path} cannot be read: {exc}", written=False)
    try:
        text = plan(module.params["samples"], module.params["stamp"], existing, module.params["refresh"], time.time())
    except (MetricError, KeyError, TypeError, ValueError) as exc:
        module.fail_json(msg=f"a sample cannot be written: {exc}", written=False)
    if text is None:
        module.exit_json(changed=False, written=False, msg=f"{path} is up to date")
    if not module.check_mode:
        write_atomically(module, path, text.encode("utf-8"))
        module.set_fs_attributes_if_different(
            module.load_file_common_arguments({"mode": "0644"}, path=path), False, expand=False)
    module.exit_json(changed=True, written=True, msg=f"{path} written")


if __name__ == "__main__":
    main()
