# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which certificate issued which: the order of the server chain file, and the client CA bundle
(each entry a usable CA, every chain in it ending in a self-signed root, the pinned fingerprints).

Both come down to :func:`issued_by`, which also verifies SHA-1 and MD5 signatures (cryptography's
own check refuses them), so that an old but intact chain is not reported as unlinked.
"""

from __future__ import absolute_import, division, print_function  # noqa: UP010

__metaclass__ = type  # noqa: UP001

import contextlib

# cert_checks.HAS_CRYPTOGRAPHY reports a missing cryptography; nothing here runs then.
with contextlib.suppress(ImportError):
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa

from ansible_collections.chat_callback.mtls.plugins.module_utils import _cert_inspect, _cert_keys
from ansible_collections.chat_callback.mtls.plugins.module_utils._cert_common import (
    Problem,
    cert_fingerprint,
    describe_cert,
    iso_utc,
    normalize_fingerprint,
    not_valid_after,
    not_valid_before,
)


# ---------------------------------------------------------------------------
# server chain: links and order
# ---------------------------------------------------------------------------


def _verify_signature_manually(cert, issuer):
    """Signature check for algorithms ``verify_directly_issued_by`` refuses (SHA-1, MD5)."""
    public_key = issuer.public_key()
    hash_alg = cert.signature_hash_algorithm
    if isinstance(public_key, rsa.RSAPublicKey):
        public_key.verify(cert.signature, cert.tbs_certificate_bytes, padding.PKCS1v15(), hash_alg)
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        public_key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hash_alg))
    elif isinstance(public_key, dsa.DSAPublicKey):
        public_key.verify(cert.signature, cert.tbs_certificate_bytes, hash_alg)
    elif isinstance(public_key, (ed25519.Ed25519PublicKey, ed448.Ed448PublicKey)):
        public_key.verify(cert.signature, cert.tbs_certificate_bytes)
    else:
        raise UnsupportedAlgorithm("unsupported issuer key type")


def issued_by(cert, issuer):
    """True when ``issuer`` issued ``cert``: names chain and the signature verifies."""
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
        return True
    except (InvalidSignature, TypeError):
        return False
    except (ValueError, AttributeError, UnsupportedAlgorithm):
        # old cryptography, or a signature algorithm it refuses to verify (SHA-1/MD5)
        pass
    try:
        _verify_signature_manually(cert, issuer)
        return True
    except Exception:
        return False


def _find_order(certs):
    """A leaf-first order of all ``certs`` in which each one is issued by the next, or None."""
    count = len(certs)
    if count > 12:
        return None
    links = {(i, j): issued_by(certs[i], certs[j]) for i in range(count) for j in range(count) if i != j}

    def extend(order):
        if len(order) == count:
            return order
        last = order[-1]
        for j in range(count):
            if j not in order and links[(last, j)]:
                found = extend(order + [j])
                if found:
                    return found
        return None

    for start in range(count):
        found = extend([start])
        if found:
            return found
    return None


def check_chain(certs, label):
    """Check that each certificate of the file is issued by the next one.

    Returns ``(problems, leaf_index)``: when the certificates only need reordering,
    ``leaf_index`` points at the real server certificate (else it is 0).
    """
    problems = []
    if len(certs) < 2:
        return problems, 0
    broken = [i for i in range(len(certs) - 1) if not issued_by(certs[i], certs[i + 1])]
    if not broken:
        return problems, 0
    order = _find_order(certs)
    if order is not None:
        expected = ", ".join(f"#{i + 1} {describe_cert(certs[i])}" for i in order)
        problems.append(Problem(
            "chain_order",
            f"{label}: the certificates are out of order; nginx sends them as stored and needs the server "
            f"certificate first, then each issuer. Expected order: {expected}.",
        ))
        return problems, order[0]
    for i in broken:
        child, parent = certs[i], certs[i + 1]
        if child.issuer == parent.subject and _cert_keys.public_key_or_none(parent) is None:
            continue  # no signature can be checked with that key; reported when the file was parsed
        if child.issuer != parent.subject:
            why = f"it was issued by '{child.issuer.rfc4514_string()}'"
        else:
            why = "the issuer name matches but the signature does not verify"
        problems.append(Problem(
            "chain_unlinked",
            f"{label}: certificate #{i + 2} ({describe_cert(parent)}) did not issue certificate #{i + 1} "
            f"({describe_cert(child)}): {why}. The file holds a certificate that does not belong to this chain.",
        ))
    return problems, 0


# ---------------------------------------------------------------------------
# client CA bundle
# ---------------------------------------------------------------------------


def _self_issued(cert):
    """OpenSSL's "self-signed" (EXFLAG_SS): subject = issuer and the key identifiers do not contradict it.

    OpenSSL does not check a trust anchor's own signature, so neither is it checked here.
    """
    if cert.subject != cert.issuer:
        return False
    aki = _cert_inspect.extension_value(cert, x509.AuthorityKeyIdentifier)
    ski = _cert_inspect.extension_value(cert, x509.SubjectKeyIdentifier)
    return aki is None or ski is None or aki.key_identifier in (None, ski.digest)


def _is_v1_root(cert):
    try:
        return cert.version == x509.Version.v1 and _self_issued(cert)
    except Exception:  # x509.InvalidVersion
        return False


def check_client_cas(cas, label, now, warnings=None):
    problems = []
    not_cas = set()
    for number, ca in enumerate(cas, 1):
        name = f"{label}: certificate #{number} ({describe_cert(ca)})"
        if _cert_inspect.extensions_or_none(ca) is None:
            not_cas.add(number - 1)  # reported when it was parsed
        else:
            basic = _cert_inspect.extension_value(ca, x509.BasicConstraints)
            usage = _cert_inspect.extension_value(ca, x509.KeyUsage)
            if basic is None and _is_v1_root(ca):
                # OpenSSL's check_ca() takes a self-signed version 1 certificate for a CA, and nginx verifies with it
                if warnings is not None:
                    warnings.append(
                        f"{name} is an X.509 version 1 certificate: without extensions nothing marks it as a CA. "
                        f"OpenSSL (nginx) accepts a self-signed version 1 certificate as a root CA and verifies "
                        f"client certificates with it, but RFC 5280 and stricter verifiers do not; ask the vendor "
                        f"for a version 3 CA certificate."
                    )
            elif basic is None or not basic.ca:
                not_cas.add(number - 1)
                reason = "has no basicConstraints extension" if basic is None else "has basicConstraints CA:FALSE"
                problems.append(Problem(
                    "client_ca_not_ca",
                    f"{name} is not a CA certificate: it {reason}; nginx's ssl_client_certificate needs the CA "
                    f"that issued the client certificates, not a client or server certificate.",
                ))
            elif usage is not None and not usage.key_cert_sign:
                not_cas.add(number - 1)
                problems.append(Problem(
                    "client_ca_not_ca",
                    f"{name} is not usable as a CA: its keyUsage lacks keyCertSign.",
                ))
        if now > not_valid_after(ca):
            problems.append(Problem(
                "client_ca_expired",
                f"{name} expired on {iso_utc(not_valid_after(ca))}; client certificates can no longer be verified "
                f"with it. Get the current CA from the vendor.",
            ))
        elif now < not_valid_before(ca):
            problems.append(Problem(
                "client_ca_not_yet_valid",
                f"{name} is not valid before {iso_utc(not_valid_before(ca))}.",
            ))
    problems.extend(check_client_ca_roots(cas, label, skip=not_cas))
    return problems


def check_client_ca_roots(cas, label, skip=()):
    """A problem for each CA of the bundle whose chain in the bundle does not end in a self-signed root.

    nginx verifies client certificates without X509_V_FLAG_PARTIAL_CHAIN: OpenSSL trusts a chain
    only when it ends in a self-signed certificate of ssl_client_certificate. With an intermediate
    CA alone every client certificate fails with "unable to get issuer certificate" and nginx
    answers 400. ``skip``: indexes of certificates already reported as no CA.
    """
    count = len(cas)
    parents = {i: [j for j in range(count) if j != i and issued_by(cas[i], cas[j])] for i in range(count)}
    rooted = {i for i in range(count) if _self_issued(cas[i])}
    grown = True
    while grown:
        grown = False
        for i in range(count):
            if i not in rooted and any(j in rooted for j in parents[i]):
                rooted.add(i)
                grown = True
    problems = []
    for i in range(count):
        if i in rooted or i in skip:
            continue
        top, seen = i, {i}
        while parents[top] and parents[top][0] not in seen:
            top = parents[top][0]
            seen.add(top)
        issuer = cas[top].issuer.rfc4514_string()
        if top == i:
            where = f"the bundle holds no certificate that issued it ('{issuer}')"
        else:
            where = (f"its chain in the bundle ends at certificate #{top + 1} ({describe_cert(cas[top])}), whose "
                     f"issuer ('{issuer}') is not in the bundle")
        problems.append(Problem(
            "client_ca_no_root",
            f"{label}: certificate #{i + 1} ({describe_cert(cas[i])}) is not a self-signed root CA and {where}. "
            f"nginx (OpenSSL) accepts a client certificate only when its chain ends in a self-signed root CA of "
            f"ssl_client_certificate, so it refuses every client certificate issued under this CA (HTTP 400, 'The "
            f"SSL certificate error'). Add the issuer's certificate, and the CA certificates above it up to the "
            f"self-signed root, to the bundle.",
        ))
    return problems


def check_pins(cas, pins, label):
    problems = []
    wanted = {}
    for pin in pins:
        normal = normalize_fingerprint(pin)
        if normal is None:
            problems.append(Problem(
                "invalid_fingerprint",
                f"client_ca_sha256: '{pin}' is not a SHA-256 fingerprint (64 hex digits, colons optional).",
            ))
        else:
            wanted[normal] = pin
    if problems:
        return problems
    present = {}
    for ca in cas:
        present.setdefault(cert_fingerprint(ca), ca)
    missing = [fp for fp in wanted if fp not in present]
    unexpected = [fp for fp in present if fp not in wanted]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append("missing pinned " + "; ".join(missing))
        if unexpected:
            parts.append("unexpected " + "; ".join(f"{fp} ({describe_cert(present[fp])})" for fp in unexpected))
        problems.append(Problem(
            "client_ca_pin_mismatch",
            f"{label} does not hold exactly the certificates pinned in client_ca_sha256: " + ", ".join(parts) + ".",
        ))
    return problems


def client_ca_facts(cas):
    return [
        {
            "subject": ca.subject.rfc4514_string(),
            "not_after": iso_utc(not_valid_after(ca)),
            "sha256_fingerprint": cert_fingerprint(ca),
        }
        for ca in cas
    ]
