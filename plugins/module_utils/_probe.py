# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One ``tls_probe`` run against one address, and its expectations (private).

The TLS side is in ``_probe_tls``, the HTTP side in ``_probe_http``. Standard library only:
``tls_probe`` runs on any web host with a plain ``python3``.
"""

from __future__ import absolute_import, division, print_function  # noqa: UP010

__metaclass__ = type  # noqa: UP001

import re

from ansible_collections.chat_callback.mtls.plugins.module_utils._probe_http import (
    build_request,
    host_header,
    http_exchange,
)
from ansible_collections.chat_callback.mtls.plugins.module_utils._probe_tls import (
    ProbeParameterError,
    build_context,
    tls_connection,
)

_BAD_TARGET = re.compile(r"[\x00-\x20\x7f]")
_BAD_HEADER_NAME = re.compile(r"[\x00-\x20\x7f():,;<=>?@\[\]{}\\\"/]")
_BAD_HEADER_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def run_probe(
    server_name,
    *,
    host="127.0.0.1",
    port=443,
    path="/",
    client_cert=None,
    client_key=None,
    tls_version_min=None,
    tls_version_max=None,
    ciphers=None,
    timeout=5.0,
    http=True,
    headers=None,
    max_body=4096,
):
    """Probe host:port and return the module's result values (without ``changed``).

    Network, TLS and HTTP problems are reported in the result; ProbeParameterError is raised only for
    invalid parameters or an unusable client certificate/key.
    """
    if not server_name or _BAD_TARGET.search(server_name):
        raise ProbeParameterError("server_name must be a non-empty host name without whitespace")
    if not 0 < port < 65536:
        raise ProbeParameterError(f"port must be between 1 and 65535, got {port}")
    if timeout is None or timeout <= 0:
        raise ProbeParameterError(f"timeout must be a positive number of seconds, got {timeout}")
    if max_body is None or max_body < 0:
        raise ProbeParameterError(f"max_body must not be negative, got {max_body}")
    if http and (not path or not path.startswith("/") or _BAD_TARGET.search(path) or not path.isascii()):
        raise ProbeParameterError(
            f"path must start with / and contain only printable ASCII (percent-encode the rest): {path!r}"
        )
    headers = {str(name): str(value) for name, value in (headers or {}).items()}
    for name, value in headers.items():
        if not name or _BAD_HEADER_NAME.search(name) or _BAD_HEADER_VALUE.search(value) or not (name + value).isascii():
            raise ProbeParameterError(f"headers: {name!r} must be a token name with a printable ASCII value")
    context = build_context(client_cert, client_key, tls_version_min, tls_version_max, ciphers)

    result = {
        "tls_established": False,
        "error": "",
        "protocol": None,
        "cipher": None,
        "sha256_fingerprint": None,
        "status": None,
        "body": "",
        "server_header": None,
    }
    with tls_connection(context, host, port, server_name, timeout=timeout, result=result) as tls_sock:
        if tls_sock is not None and http:
            http_exchange(tls_sock, build_request(path, host_header(server_name, port), headers), max_body, result)
    return result


def _normal_fingerprint(value):
    return (value or "").replace(":", "").upper()


def unmet_expectations(result, expect_sha256_fingerprint=None, expect_status=None):
    """Sentences describing each expectation the probe result does not meet."""
    unmet = []
    if expect_sha256_fingerprint and _normal_fingerprint(result["sha256_fingerprint"]) != _normal_fingerprint(
        expect_sha256_fingerprint
    ):
        if result["tls_established"]:
            unmet.append(f"serves certificate {result['sha256_fingerprint']}, expected {expect_sha256_fingerprint}")
        else:
            unmet.append(f"no TLS handshake ({result['error']}), expected certificate {expect_sha256_fingerprint}")
    if expect_status is not None and result["status"] != expect_status:
        got = result["status"] if result["status"] is not None else f"no HTTP answer ({result['error']})"
        unmet.append(f"HTTP status {got}, expected {expect_status}")
    return unmet
