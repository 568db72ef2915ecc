# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The options of ``cert_check``: the one place their types and defaults are written.

The module and the action plugin validate with :func:`argument_spec`; the checks fill what a
caller left out from :data:`DEFAULTS`; a unit test holds the role's defaults and the module's
documentation to them.
"""

from __future__ import absolute_import, division, print_function  # noqa: UP010

__metaclass__ = type  # noqa: UP001

#: Keys of the ``labels`` option: the inputs given as text and the limits problems name.
LABELLED = ("certificate_content", "client_ca_content", "min_days_valid")

#: Keyword arguments of ``AnsibleModule`` / ``ArgumentSpecValidator`` besides the argument spec.
ARGUMENT_CONSTRAINTS = dict(
    mutually_exclusive=[
        ("certificate", "certificate_content"),
        ("private_key", "private_key_content"),
        ("client_ca", "client_ca_content"),
        ("server_ca", "server_ca_content"),
    ],
    # Without a private key the key checks are skipped, without a client CA the CA checks: an
    # audit reads what a host has deployed, which may be a certificate alone.
    required_one_of=[
        ("certificate", "certificate_content"),
    ],
)


def argument_spec():
    return dict(
        certificate=dict(type="path"),
        certificate_content=dict(type="str"),
        private_key=dict(type="path", no_log=False),
        private_key_content=dict(type="str", no_log=True),
        private_key_passphrase=dict(type="str", no_log=True),
        client_ca=dict(type="path"),
        client_ca_content=dict(type="str"),
        server_name=dict(type="str", required=True),
        client_ca_sha256=dict(type="list", elements="str"),
        min_days_valid=dict(type="int", default=0),
        warn_days=dict(type="int", default=30),
        min_rsa_bits=dict(type="int", default=2048),
        server_ca=dict(type="path"),
        server_ca_content=dict(type="str"),
        labels=dict(type="dict", default={}),
    )


#: Every option's default (``None`` when it has none).
DEFAULTS = {name: spec.get("default") for name, spec in argument_spec().items()}
