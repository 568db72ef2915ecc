# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of an nginx mutual-TLS bundle: server certificate (chain), its key, the client CA.

Plain functions on ``cryptography`` objects, free of Ansible: the ``cert_check`` module and
action plugin (through ``cert_check_task``), the unit tests and the benchmark all call
:func:`check_params` / :func:`check_bundle`.

Every check appends ``Problem`` tuples (a stable ``code`` plus an operator-readable
``message`` naming the file or option concerned) instead of stopping at the first one.
Messages never contain private key material or the passphrase.

This is the public entry point only: it hands on the names its importers use. The checks live
in private modules, one concern each, so that each can be read on its own:

* ``_cert_common``: whether cryptography is there, ``Problem``, dates, naming a certificate;
* ``_cert_input``: reading a file, a content or a ZIP archive, and checking that it can be PEM;
* ``_cert_parse``: PEM blocks to certificates and the private key;
* ``_cert_names``: whether a certificate covers the server name (RFC 6125);
* ``_cert_chains``: the order of the server chain, the client CA bundle and its pins;
* ``_cert_policy``: the server certificate's facts, validity, name, EKU, key and signature, and
  whether the private key is its key;
* ``_cert_verify``: the server chain verified against ``server_ca``;
* ``_cert_bundle``: :func:`check_bundle`, :func:`check_params` and :func:`summarize`, which run them.

Like this module, every one of them imports without cryptography: the ``cert_check`` module
then reports it missing through ``HAS_CRYPTOGRAPHY`` and ``CRYPTOGRAPHY_IMPORT_ERROR``.
"""

from __future__ import absolute_import, division, print_function  # noqa: UP010

__metaclass__ = type  # noqa: UP001

import contextlib

# The benchmark reports the release it measured as cert_checks.cryptography.__version__.
with contextlib.suppress(ImportError):
    import cryptography

from ansible_collections.chat_callback.mtls.plugins.module_utils._cert_bundle import (
    check_bundle,
    check_params,
    summarize,
)
from ansible_collections.chat_callback.mtls.plugins.module_utils._cert_common import (
    CRYPTOGRAPHY_IMPORT_ERROR,
    HAS_CRYPTOGRAPHY,
    cert_fingerprint,
    serial_hex,
)
from ansible_collections.chat_callback.mtls.plugins.module_utils._cert_input import MAX_INPUT_SIZE, read_file
from ansible_collections.chat_callback.mtls.plugins.module_utils._cert_names import (
    dns_name_matches,
    normalize_dns_name,
)
from ansible_collections.chat_callback.mtls.plugins.module_utils._cert_policy import signature_proof
from ansible_collections.chat_callback.mtls.plugins.module_utils._cert_verify import system_ca_file

__all__ = [
    "CRYPTOGRAPHY_IMPORT_ERROR",
    "HAS_CRYPTOGRAPHY",
    "MAX_INPUT_SIZE",
    "cert_fingerprint",
    "check_bundle",
    "check_params",
    "cryptography",
    "dns_name_matches",
    "normalize_dns_name",
    "read_file",
    "serial_hex",
    "signature_proof",
    "summarize",
    "system_ca_file",
]
