# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Key types of certificates and private keys, and which of them a TLS server certificate can have.

cryptography hands out one Python class per key type; the module reports a stable name for each
(:data:`KEY_TYPES`, documented in the module's RETURN). What OpenSSL's libssl (nginx) can serve is
narrower than what cryptography parses, and was checked against nginx 1.22 / OpenSSL 3.0 (Debian 12):

* X25519, X448 and Diffie-Hellman keys only agree on keys, they cannot sign:
  ``SSL_CTX_use_certificate`` fails with "unknown certificate type" and ``nginx -t`` fails.
* EC keys under 224 bits fail with "ee key too small" at the default security level 2.
* An EC key that spells out its curve parameters instead of naming the curve loads, but OpenSSL
  fails verification with "Certificate public key has explicit ECC parameters" (RFC 5480 allows
  only named curves in certificates); ``_cert_inspect`` reports it for every certificate.
* Named curves other than P-256/P-384/P-521 (brainpool, secp256k1, secp224r1) load, but TLS 1.3
  has no signature algorithm for them and OpenSSL's client does not offer them: the handshake
  fails unless the client asks for that curve.
* Ed25519/Ed448 keys work with OpenSSL clients, but not with browsers and many HTTP libraries.
* ML-DSA (cryptography 50 builds such certificates) needs OpenSSL 3.5 and TLS 1.3 clients that
  offer it: OpenSSL 3.0 fails with "decode error ... ee key too small". ML-KEM keys cannot sign.

No Ansible here; messages are returned as ``(code, message)`` tuples for ``cert_checks``.
"""

from __future__ import absolute_import, division, print_function  # noqa: UP010

__metaclass__ = type  # noqa: UP001

import contextlib
import functools
import re
import warnings as py_warnings

# cert_checks.HAS_CRYPTOGRAPHY reports a missing cryptography; nothing here runs then.
with contextlib.suppress(ImportError):
    # not dh: recent cryptography warns on every use of that module (FFDH is deprecated)
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519

#: Every ``key_type`` the module returns.
KEY_TYPES = ("RSA", "RSA-PSS", "EC", "Ed25519", "Ed448", "DSA", "X25519", "X448", "DH", "ML-DSA-44", "ML-DSA-65",
             "ML-DSA-87", "ML-KEM-512", "ML-KEM-768", "ML-KEM-1024", "unknown")

#: subjectPublicKeyInfo algorithm OIDs, for keys cryptography cannot load and to tell RSA-PSS apart.
SPKI_ALGORITHMS = {
    "1.2.840.113549.1.1.1": "RSA",
    "1.2.840.113549.1.1.10": "RSA-PSS",
    "1.2.840.10045.2.1": "EC",
    "1.3.101.112": "Ed25519",
    "1.3.101.113": "Ed448",
    "1.3.101.110": "X25519",
    "1.3.101.111": "X448",
    "1.2.840.10040.4.1": "DSA",
    "1.2.840.10046.2.1": "DH",
    "1.2.840.113549.1.3.1": "DH",
    "2.16.840.1.101.3.4.3.17": "ML-DSA-44",
    "2.16.840.1.101.3.4.3.18": "ML-DSA-65",
    "2.16.840.1.101.3.4.3.19": "ML-DSA-87",
    "2.16.840.1.101.3.4.4.1": "ML-KEM-512",
    "2.16.840.1.101.3.4.4.2": "ML-KEM-768",
    "2.16.840.1.101.3.4.4.3": "ML-KEM-1024",
}
# cryptography's class names of the post-quantum keys (MLDSA65PublicKey), for private keys
_PQ_CLASS_RE = re.compile(r"^ML(DSA|KEM)(\d+)P")

#: The curves TLS 1.3 defines ECDSA signatures for, and the ones clients offer by default.
TLS_CURVES = ("secp256r1", "secp384r1", "secp521r1")

#: OpenSSL's default security level 2 (Debian 12) asks for 112-bit security: 224-bit curves.
MIN_EC_BITS = 224

_CANNOT_SIGN = ("OpenSSL (nginx) cannot use it for a TLS server ('unknown certificate type': nginx -t fails)")
_UNUSABLE = {
    "X25519": f"an X25519 key, which only agrees on keys and cannot sign; {_CANNOT_SIGN}",
    "X448": f"an X448 key, which only agrees on keys and cannot sign; {_CANNOT_SIGN}",
    "DH": f"a Diffie-Hellman key, which only agrees on keys and cannot sign; {_CANNOT_SIGN}",
    "ML-KEM": f"an {{key_type}} key, which only encapsulates keys and cannot sign; {_CANNOT_SIGN}",
    "ML-DSA": ("an {key_type} key; OpenSSL before 3.5 (nginx on Debian 12) cannot use it for TLS, and later versions "
               "only with TLS 1.3 clients that offer ML-DSA signatures, which few do"),
    "unknown": "a public key of a type OpenSSL cannot use for TLS",
}
_USE_INSTEAD = "Have it reissued for an ECDSA (P-256 or P-384) or RSA (2048 bits or more) key."


def _der_header(data, pos):
    """(tag, start of content, end of element) of the DER element at ``pos``."""
    if pos + 2 > len(data):
        raise ValueError("truncated DER")
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first < 0x80:
        size = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > len(data):
            raise ValueError("bad DER length")
        size = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    if pos + size > len(data):
        raise ValueError("truncated DER")
    return tag, pos, pos + size


def _der_children(data, start, end):
    children = []
    while start < end:
        tag, content, after = _der_header(data, start)
        children.append((tag, content, after))
        start = after
    return children


def _oid_text(raw):
    arcs, value = [], 0
    for byte in raw:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    if not arcs:
        raise ValueError("empty OID")
    first = min(arcs[0] // 40, 2)
    return ".".join(str(arc) for arc in [first, arcs[0] - 40 * first] + arcs[1:])


@functools.lru_cache(maxsize=64)
def spki_algorithm(cert):
    """(algorithm OID, DER tag of its parameters or None) of the certificate's public key, or (None, None).

    The parameters are read from the TBSCertificate, for EC keys only (the tag tells a named
    curve, 0x06, from explicit parameters, 0x30): cryptography does not expose them, and
    cryptography < 41 not even the OID. Cached: every check asks, and certificates are hashable.
    """
    oid = getattr(cert, "public_key_algorithm_oid", None)
    if oid is not None and SPKI_ALGORITHMS.get(oid.dotted_string) != "EC":
        return oid.dotted_string, None
    try:
        tbs = cert.tbs_certificate_bytes
        _tag, start, end = _der_header(tbs, 0)
        fields = _der_children(tbs, start, end)
        if fields and fields[0][0] == 0xA0:  # [0] version, absent in version 1 certificates
            fields = fields[1:]
        _tag, start, end = fields[5]  # serial, signature, issuer, validity, subject, spki
        _tag, start, end = _der_children(tbs, start, end)[0]  # AlgorithmIdentifier
        parts = _der_children(tbs, start, end)
        oid = _oid_text(tbs[parts[0][1]:parts[0][2]])
        return oid, (parts[1][0] if len(parts) > 1 else None)
    except Exception:  # the certificate parsed, so this is only a DER layout this reader does not know
        return None, None


def public_key_or_none(cert):
    """The certificate's public key, or None when cryptography cannot load it."""
    try:
        with py_warnings.catch_warnings():
            py_warnings.simplefilter("ignore")  # the FFDH deprecation of a DH key
            return cert.public_key()
    except Exception:  # UnsupportedAlgorithm (custom EC curves, unknown algorithms) or ValueError
        return None


def key_type_and_size(key, spki_oid=None):
    """(name from :data:`KEY_TYPES`, size in bits or None) of a public or private key.

    ``key`` None (a certificate key cryptography cannot load) is named after ``spki_oid``.
    Sizes: RSA, DSA and DH the modulus, EC the curve, 256/448 for the 25519/448 curves.
    """
    if key is None:
        return SPKI_ALGORITHMS.get(spki_oid, "unknown"), None
    if isinstance(key, (rsa.RSAPublicKey, rsa.RSAPrivateKey)):
        # cryptography loads an RSA-PSS key as a plain RSA key: only the certificate tells them apart
        return ("RSA-PSS" if SPKI_ALGORITHMS.get(spki_oid) == "RSA-PSS" else "RSA"), key.key_size
    if isinstance(key, (ec.EllipticCurvePublicKey, ec.EllipticCurvePrivateKey)):
        return "EC", key.curve.key_size
    if isinstance(key, (ed25519.Ed25519PublicKey, ed25519.Ed25519PrivateKey)):
        return "Ed25519", 256
    if isinstance(key, (ed448.Ed448PublicKey, ed448.Ed448PrivateKey)):
        return "Ed448", 448
    if isinstance(key, (dsa.DSAPublicKey, dsa.DSAPrivateKey)):
        return "DSA", key.key_size
    if isinstance(key, (x25519.X25519PublicKey, x25519.X25519PrivateKey)):
        return "X25519", 256
    if isinstance(key, (x448.X448PublicKey, x448.X448PrivateKey)):
        return "X448", 448
    if SPKI_ALGORITHMS.get(spki_oid) == "DH" or type(key).__name__.startswith("DH"):
        return "DH", getattr(key, "key_size", None)
    if spki_oid in SPKI_ALGORITHMS:
        return SPKI_ALGORITHMS[spki_oid], None
    match = _PQ_CLASS_RE.match(type(key).__name__)
    if match and f"ML-{match.group(1)}-{match.group(2)}" in KEY_TYPES:
        return f"ML-{match.group(1)}-{match.group(2)}", None
    return "unknown", None


def certificate_key_type(cert):
    """(key type, size) of a certificate's public key; never raises."""
    oid, _params = spki_algorithm(cert)
    return key_type_and_size(public_key_or_none(cert), oid)


def server_key_findings(cert, label):
    """Problems (``(code, message)``) and warnings about the key type of a TLS server certificate.

    RSA sizes and DSA are checked by ``_cert_policy.check_leaf``; a key cryptography cannot load
    and explicit EC parameters were reported when the certificate was parsed.
    """
    key = public_key_or_none(cert)
    if key is None:
        return [], []
    oid, _params_tag = spki_algorithm(cert)
    key_type, size = key_type_and_size(key, oid)
    family = key_type[:6] if key_type.startswith("ML-") else key_type
    if family in _UNUSABLE:
        what = _UNUSABLE[family].format(key_type=key_type)
        return [("key_type_unsupported", f"{label}: the certificate has {what}. {_USE_INSTEAD}")], []
    if key_type == "EC":
        curve = key.curve.name
        if size < MIN_EC_BITS:
            return [("ec_key_too_small",
                     f"{label}: the certificate has an EC key on {curve} ({size} bits); OpenSSL (nginx) refuses EC "
                     f"keys under {MIN_EC_BITS} bits at its default security level ('ee key too small': nginx -t "
                     f"fails). Use P-256 or P-384.")], []
        if curve not in TLS_CURVES:
            return [], [f"{label}: the certificate has an EC key on {curve}: OpenSSL (nginx) loads it, but TLS 1.3 "
                        f"has no signature algorithm for that curve and TLS 1.2 clients must offer it, which "
                        f"OpenSSL's and most other clients do not: the handshake fails with them. Prefer P-256 or "
                        f"P-384."]
    if key_type in ("Ed25519", "Ed448"):
        return [], [f"{label}: the certificate has an {key_type} key: OpenSSL (nginx) serves it, but only clients "
                    f"that offer {key_type} signatures can connect, and web browsers and many HTTP libraries do "
                    f"not. Make sure the callback's client supports it, or use ECDSA (P-256) or RSA."]
    return [], []


def exchange_proof(private_key, public_key):
    """For X25519/X448 keys, which cannot sign: True when both agree on the same secret with a fresh peer.

    None for any other key type.
    """
    if isinstance(private_key, x25519.X25519PrivateKey):
        peer = x25519.X25519PrivateKey.generate()
    elif isinstance(private_key, x448.X448PrivateKey):
        peer = x448.X448PrivateKey.generate()
    else:
        return None
    try:
        return private_key.exchange(peer.public_key()) == peer.exchange(public_key)
    except Exception:  # the public key is of another type, or not a valid point
        return False
