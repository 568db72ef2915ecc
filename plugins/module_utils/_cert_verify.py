# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The server chain verified against trust anchors (``server_ca``: a file, a content, or the OS
trust store), the way a TLS client would, with ``cryptography.x509.verification``.

That API appeared in cryptography 43 while the other checks run on 38 (Debian 12): it is imported
on its own, and without it only this check reports a problem.
"""

from __future__ import absolute_import, division, print_function  # noqa: UP010

__metaclass__ = type  # noqa: UP001

import contextlib
import os
import ssl
import traceback
import warnings as py_warnings

# cert_checks.HAS_CRYPTOGRAPHY reports a missing cryptography; nothing here runs then.
with contextlib.suppress(ImportError):
    from cryptography import x509

try:
    from cryptography.x509 import verification as x509_verification
except ImportError:
    HAS_X509_VERIFICATION = False
    X509_VERIFICATION_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_X509_VERIFICATION = True
    X509_VERIFICATION_IMPORT_ERROR = None

from ansible_collections.chat_callback.mtls.plugins.module_utils._cert_common import Problem
from ansible_collections.chat_callback.mtls.plugins.module_utils._cert_input import (
    MAX_INPUT_SIZE,
    check_pem_text,
    load_pem_input,
    read_file,
)
from ansible_collections.chat_callback.mtls.plugins.module_utils._cert_names import normalize_dns_name, parse_ip
from ansible_collections.chat_callback.mtls.plugins.module_utils._cert_parse import parse_certificates, pem_blocks

#: OS trust store used for ``server_ca: system`` when present.
SYSTEM_CA_FILE = "/etc/ssl/certs/ca-certificates.crt"


def system_ca_file():
    if os.path.isfile(SYSTEM_CA_FILE):
        return SYSTEM_CA_FILE
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and os.path.isfile(candidate):
            return candidate
    return None


def load_server_ca(server_ca=None, server_ca_content=None, basedir=None, reader=read_file, warnings=None):
    """Trust anchors for the server chain: ``(certs, label, problems)``; ``server_ca='system'`` = OS store.

    A relative ``server_ca`` path is read from ``basedir`` when given, see :func:`load_pem_input`.
    ``warnings`` as in :func:`parse_certificates` (not for the OS store, whose oddities are not
    the operator's).
    """
    if server_ca == "system":
        path = system_ca_file()
        if path is None:
            return [], "server_ca (system)", [Problem("server_ca_unavailable", "server_ca: system: no OS trust "
                                                                               "store found (install "
                                                                               "ca-certificates).")]
        source, problems = load_pem_input("server_ca", path=path, max_size=16 * MAX_INPUT_SIZE)
        if source is None:
            return [], "server_ca (system)", problems
        certs = []
        with py_warnings.catch_warnings():
            # some distribution roots have non-positive serial numbers: cryptography warns, we don't care
            py_warnings.simplefilter("ignore")
            for block in pem_blocks(source.data):
                if block.kind == "CERTIFICATE":
                    try:
                        certs.append(x509.load_pem_x509_certificate(block.raw))
                    except Exception:  # an odd root in the OS store is skipped, not fatal
                        continue
        if not certs:
            return [], source.label, [Problem("server_ca_unavailable", f"server_ca: system: {path} holds no "
                                                                       f"usable certificate.")]
        return certs, f"server_ca (system: {path})", []
    source, problems = load_pem_input("server_ca", path=server_ca, content=server_ca_content, basedir=basedir,
                                      reader=reader)
    if source is None:
        return [], "server_ca", problems
    problems = check_pem_text(source, "CA certificate bundle")
    if problems:
        return [], source.label, problems
    certs, problems = parse_certificates(source, "CA certificate bundle", warnings)
    return certs, source.label, problems


def verify_server_chain(chain, anchors, server_name, now, *, label, ca_label):
    """Verify leaf + intermediates against ``anchors``; returns a list of problems (empty when verified)."""
    if not HAS_X509_VERIFICATION:
        return [Problem("verification_unsupported", "server_ca needs cryptography 43 or later "
                                                    "(cryptography.x509.verification is missing).")]
    ip = parse_ip(server_name)
    try:
        if ip is not None:
            subject = x509_verification.IPAddress(ip)
        else:
            name = normalize_dns_name(server_name)
            if name.startswith("*."):
                name = "wildcard-check" + name[1:]
            subject = x509_verification.DNSName(name)
        verifier = (
            x509_verification.PolicyBuilder()
            .store(x509_verification.Store(anchors))
            .time(now)
            .build_server_verifier(subject)
        )
        verifier.verify(chain[0], chain[1:])
    except Exception as exc:  # VerificationError, or ValueError for unsupported algorithms / bad names
        reason = str(exc) or exc.__class__.__name__
        return [Problem(
            "server_chain_unverified",
            f"{label}: the certificate chain does not verify against {ca_label} for '{server_name}': {reason}",
        )]
    return []
