# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``AnsibleModule`` every module of this collection is built on.

``AnsibleModule`` writes each run's parameters to the host's journal (syslog without systemd)
before the module does anything. It masks a parameter marked ``no_log`` only as a whole: for
any other parameter it masks the secret values inside the parameter's *string form*. A list or
dict is stringified with ``repr``, which escapes a PEM key's newlines and a passphrase's
backslashes and quotes, so a ``no_log`` suboption (``site_files``' ``secret_files[].content``)
no longer matches and was logged whole (0.2.0). Here the parameters are masked as data, before
they are turned into a string: every value that equals a ``no_log`` value is replaced by
``VALUE_SPECIFIED_IN_NO_LOG_PARAMETER`` and every other string has the secrets cut out, as in the
module's result.
"""

from __future__ import absolute_import, division, print_function  # noqa: UP010

__metaclass__ = type  # noqa: UP001

from ansible.module_utils import basic
from ansible.module_utils.common.parameters import remove_values


class AnsibleModule(basic.AnsibleModule):
    """``AnsibleModule`` whose logged invocation never holds a ``no_log`` value, nested or not."""

    def _log_invocation(self):
        params = self.params
        self.params = remove_values(params, self.no_log_values)
        try:
            super()._log_invocation()
        finally:
            self.params = params
