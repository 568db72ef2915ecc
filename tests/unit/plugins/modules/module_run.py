# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run a module's main() in the test process and keep what it would have printed."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args


def run_module(main, args, check_mode=False, diff=False):
    """The module's result as JSON would carry it, with ``failed`` telling exit_json from fail_json."""
    results = {}

    def capture(failed):
        def _capture(_module, msg=None, **kwargs):
            results.update(kwargs, failed=failed)
            if msg is not None:
                results["msg"] = msg
            raise SystemExit(1 if failed else 0)

        return _capture

    args = dict(args, _ansible_check_mode=check_mode, _ansible_diff=diff)
    patched = mock.patch.multiple(basic.AnsibleModule, exit_json=capture(False), fail_json=capture(True))
    with patched, patch_module_args(args), pytest.raises(SystemExit):
        main()
    return json.loads(json.dumps(results))
