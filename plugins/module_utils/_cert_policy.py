# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The server certificate held to what TLS clients accept: validity dates, the server name,
extendedKeyUsage, key type and size, signature hash; and whether the private key is its key.

Also the certificate's facts returned by the module. These checks look at the leaf alone; how it
links to the rest of the chain is ``_cert_chains``' part.
"""

from __future__ import absolute_import, division, print_function  # noqa: UP010

__metaclass__ = type  # noqa: UP001

import contextlib
import datetime

# cert_checks.HAS_CRYPTOGRAPHY reports a missing cryptography; nothing here runs then.
with contextlib.suppress(ImportError):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID

from ansible_collections.chat_callback.mtls.plugins.module_utils import _cert_inspect, _cert_keys, _server_names
from ansible_collections.chat_callback.mtls.plugins.module_utils._cert_common import (
    Problem,
    cert_fingerprint,
    days_between,
    describe_cert,
    iso_utc,
    not_valid_after,
    not_valid_before,
    plural,
    serial_hex,
    signature_algorithm_name,
    signature_hash_name,
)
from ansible_collections.chat_callback.mtls.plugins.module_utils._cert_keys import key_type_and_size
from ansible_collections.chat_callback.mtls.plugins.module_utils._cert_names import certificate_sans, name_matches_cert

WEAK_SIGNATURE_HASHES = ("md5", "sha1")

ANY_EXTENDED_KEY_USAGE_OID = "2.5.29.37.0"


def certificate_facts(leaf, chain_length, now):
    dns_names, ips = certificate_sans(leaf)
    key_type, key_size = _cert_keys.certificate_key_type(leaf)
    return {
        "subject": leaf.subject.rfc4514_string(),
        "issuer": leaf.issuer.rfc4514_string(),
        "serial": serial_hex(_cert_inspect.serial_number(leaf)),
        "not_before": iso_utc(not_valid_before(leaf)),
        "not_after": iso_utc(not_valid_after(leaf)),
        "days_remaining": days_between(now, not_valid_after(leaf)),
        "sans": list(dns_names or []) + [str(ip) for ip in (ips or [])],
        "sha256_fingerprint": cert_fingerprint(leaf),
        "key_type": key_type,
        "key_size": key_size,
        "chain_length": chain_length,
        "signature_hash": signature_hash_name(leaf),
        "signature_algorithm": signature_algorithm_name(leaf),
    }


def check_validity(cert, label, now, *, min_days_valid, warn_days, warnings=None, min_days_label="min_days_valid"):
    problems = []
    not_before, not_after = not_valid_before(cert), not_valid_after(cert)
    if now < not_before:
        problems.append(Problem(
            "not_yet_valid",
            f"{label}: the certificate is not valid yet: valid from {iso_utc(not_before)} "
            f"(now is {iso_utc(now)}); check the clock or wait.",
        ))
    if now > not_after:
        ago = days_between(not_after, now)
        problems.append(Problem(
            "expired",
            f"{label}: the certificate expired on {iso_utc(not_after)} ({plural(ago, 'day')} ago); renew it.",
        ))
        return problems
    remaining = not_after - now
    days = days_between(now, not_after)
    if min_days_valid and remaining < datetime.timedelta(days=min_days_valid):
        problems.append(Problem(
            "expires_soon",
            f"{label}: the certificate expires on {iso_utc(not_after)}, in {plural(days, 'day')}, fewer than "
            f"{min_days_label}={min_days_valid}; renew it.",
        ))
    elif warnings is not None and warn_days and remaining < datetime.timedelta(days=warn_days):
        warnings.append(f"{label}: the certificate expires on {iso_utc(not_after)}, in {plural(days, 'day')} "
                        f"(warn_days={warn_days}); renew it soon.")
    return problems


def check_leaf(leaf, label, server_name, min_rsa_bits, warnings=None):
    problems = []
    # Unreadable extensions were reported when the certificate was parsed; the checks of their
    # content are skipped rather than reporting "no subjectAltName" on top.
    readable = _cert_inspect.extensions_or_none(leaf) is not None
    # name
    idna_message = None if server_name is None else _server_names.missing_idna_message(server_name)
    if idna_message:
        problems.append(Problem("idna_unavailable", idna_message))
    elif server_name is not None and readable:
        dns_names, ips = certificate_sans(leaf)
        if dns_names is None:
            problems.append(Problem(
                "name_mismatch",
                f"{label}: the certificate has no subjectAltName extension, so it covers no name; "
                f"server_name '{server_name}' must be listed there (the subject {describe_cert(leaf)} "
                f"is not used by TLS clients).",
            ))
        elif not name_matches_cert(leaf, server_name):
            listed = ", ".join([f"DNS:{n}" for n in dns_names] + [f"IP:{ip}" for ip in ips]) or "nothing"
            problems.append(Problem(
                "name_mismatch",
                f"{label}: the certificate does not cover server_name '{server_name}'; its subjectAltName lists "
                f"{listed} (the subject CN is not used).",
            ))
    # extended key usage
    eku = _cert_inspect.extension_value(leaf, x509.ExtendedKeyUsage)
    if eku is not None:
        oids = [u.dotted_string for u in eku]
        if ExtendedKeyUsageOID.SERVER_AUTH.dotted_string not in oids and ANY_EXTENDED_KEY_USAGE_OID not in oids:
            allowed = ", ".join(getattr(u, "_name", None) or u.dotted_string for u in eku) or "nothing"
            problems.append(Problem(
                "eku_no_server_auth",
                f"{label}: the certificate's extendedKeyUsage does not include serverAuth (it allows only: "
                f"{allowed}); TLS clients refuse it as a server certificate. Reissue it for TLS server use.",
            ))
    # key type and strength
    key_type, key_size = _cert_keys.certificate_key_type(leaf)
    if key_type in ("RSA", "RSA-PSS") and key_size is not None and key_size < min_rsa_bits:
        problems.append(Problem(
            "rsa_key_too_small",
            f"{label}: the certificate has an {key_type} key of {key_size} bits, fewer than "
            f"min_rsa_bits={min_rsa_bits}.",
        ))
    elif key_type == "DSA":
        problems.append(Problem(
            "dsa_key",
            f"{label}: the certificate has a DSA key; TLS clients no longer accept DSA. Use RSA (2048+ bits) "
            f"or ECDSA.",
        ))
    found, noted = _cert_keys.server_key_findings(leaf, label)
    problems.extend(Problem(*problem) for problem in found)
    if warnings is not None:
        warnings.extend(noted)
    # signature
    hash_name = signature_hash_name(leaf)
    if hash_name in WEAK_SIGNATURE_HASHES:
        problems.append(Problem(
            "weak_signature_hash",
            f"{label}: the certificate is signed with {hash_name.upper()} ({signature_algorithm_name(leaf)}); TLS "
            f"clients reject MD5 and SHA-1 signatures. Reissue it with SHA-256.",
        ))
    return problems


def same_public_key(cert_key, private_key):
    """Public key equality (cryptography's ``==``; SPKI bytes as fallback for old releases)."""
    public_key = private_key.public_key()
    if cert_key == public_key:
        return True
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    try:
        return cert_key.public_bytes(*spki) == public_key.public_bytes(*spki)
    except (TypeError, ValueError):
        return False


def signature_proof(private_key, public_key):
    """Sign a fixed message with ``private_key`` and verify it with ``public_key``."""
    message = b"chat_callback.mtls cert_check key proof"
    try:
        if isinstance(private_key, rsa.RSAPrivateKey):
            signature = private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
            public_key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(private_key, ec.EllipticCurvePrivateKey):
            signature = private_key.sign(message, ec.ECDSA(hashes.SHA256()))
            public_key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        elif isinstance(private_key, dsa.DSAPrivateKey):
            signature = private_key.sign(message, hashes.SHA256())
            public_key.verify(signature, message, hashes.SHA256())
        elif isinstance(private_key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
            public_key.verify(private_key.sign(message), message)
        else:
            # X25519/X448 cannot sign; None for anything else: check_leaf refuses a certificate
            # with such a key (key_type_unsupported), so no bundle passes on equality alone
            return _cert_keys.exchange_proof(private_key, public_key)
    except Exception:  # InvalidSignature, or OpenSSL refusing inconsistent key parameters
        return False
    return True


def check_key_match(leaf, key, cert_label, key_label):
    cert_key = _cert_keys.public_key_or_none(leaf)
    if cert_key is None:
        return []  # the unreadable certificate key was reported when the certificate was parsed
    if same_public_key(cert_key, key):
        if signature_proof(key, cert_key) is not False:
            return []
        return [Problem(
            "key_corrupt",
            f"{key_label} has the certificate's public key but its private part is inconsistent: a test "
            f"signature made with it does not verify. The key file is corrupt.",
        )]
    cert_type, cert_size = _cert_keys.certificate_key_type(leaf)
    key_type, key_size = key_type_and_size(key)
    detail = ""
    # a private key does not tell RSA-PSS from RSA: only the certificate's algorithm does
    if (cert_type.replace("RSA-PSS", "RSA"), cert_size) != (key_type, key_size):
        detail = f" (certificate: {cert_type} {cert_size}, key: {key_type} {key_size})"
    return [Problem(
        "key_mismatch",
        f"{key_label} does not belong to the certificate in {cert_label}: their public keys differ{detail}. "
        f"Use the key the certificate was requested with.",
    )]
