# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one test PKI of the project: throw-away CAs, server and client certificates.

Used by the unit tests, the Ansible tests, molecule and the demo. Nothing made here
is ever committed: every key is generated at run time.

Library use (``tests/`` on ``sys.path``)::

    import pki
    root = pki.make_ca("Test Root CA")
    inter = pki.make_ca("Test Intermediate CA", issuer=root, path_length=0)
    leaf = pki.make_leaf(inter, "www.example.com", sans=["www.example.com"])
    leaf.cert_pem() + inter.cert_pem(); leaf.key_pem()

Certificates no builder makes (version 1, a serial of zero or below, a duplicated extension,
explicit EC curve parameters, an RSA-PSS key) are made by editing the DER fields of a built
certificate's TBSCertificate and signing it again: see :func:`rewrite_tbs`.

Script use::

    python tests/pki.py demo OUT_DIR [--server-name NAME] [--days-valid N] [--key-passphrase P]
    python tests/pki.py secret-lines DIR [--passphrase P ...]

``demo`` writes the files an operator gets (``<name>.crt`` chain, ``<name>.key``, the vendor's
``TencentQQAuthCA.crt`` and ``TencentQQAuthCA.crt.zip``) plus a server root CA and a
good, another and a rogue client certificate to exercise nginx. ``secret-lines`` prints what a
test searches a host for to prove that no key leaked: see :func:`secret_lines`.
"""

from __future__ import annotations

import argparse
import datetime
import ipaddress
import os
import sys
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa, x448, x25519
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "Issued",
    "PrivateKeyTypes",
    "cached_key",
    "der_content",
    "der_encode",
    "der_items",
    "explicit_ec_spki",
    "make_ca",
    "make_leaf",
    "new_key",
    "rewrite_tbs",
    "rsa_pss_spki",
    "secret_fragments",
    "write_demo",
]

CURVES = {
    "secp256r1": ec.SECP256R1,
    "prime256v1": ec.SECP256R1,
    "p-256": ec.SECP256R1,
    "secp384r1": ec.SECP384R1,
    "p-384": ec.SECP384R1,
    "secp521r1": ec.SECP521R1,
    "p-521": ec.SECP521R1,
}

EKUS = {
    "serverAuth": ExtendedKeyUsageOID.SERVER_AUTH,
    "clientAuth": ExtendedKeyUsageOID.CLIENT_AUTH,
    "codeSigning": ExtendedKeyUsageOID.CODE_SIGNING,
    "emailProtection": ExtendedKeyUsageOID.EMAIL_PROTECTION,
    "timeStamping": ExtendedKeyUsageOID.TIME_STAMPING,
    "OCSPSigning": ExtendedKeyUsageOID.OCSP_SIGNING,
}

# sha256WithRSAEncryption AlgorithmIdentifier (with NULL parameters) and the legacy
# ones of the same encoded length: cryptography >= 45 refuses to *sign* with SHA-1 or
# MD5, so such certificates are made by signing with SHA-256, patching the OID and
# re-signing the TBSCertificate with the legacy hash (RSA signatures keep their size).
_RSA_SHA256_ALGID = bytes.fromhex("300d06092a864886f70d01010b0500")
_RSA_LEGACY_ALGID = {
    "sha1": (bytes.fromhex("300d06092a864886f70d0101050500"), hashes.SHA1),
    "md5": (bytes.fromhex("300d06092a864886f70d0101040500"), hashes.MD5),
}
_HASHES = {
    "sha224": hashes.SHA224,
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


@dataclass
class Issued:
    """A certificate and its private key."""

    cert: x509.Certificate
    key: PrivateKeyTypes

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def cert_der(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.DER)

    def key_pem(self, passphrase: bytes | None = None, fmt: str = "pkcs8") -> bytes:
        """PEM of the private key.

        ``fmt``: ``pkcs8`` (``BEGIN [ENCRYPTED] PRIVATE KEY``) or ``pkcs1`` (OpenSSL's
        traditional format: ``BEGIN RSA PRIVATE KEY`` for RSA, SEC1 ``BEGIN EC PRIVATE
        KEY`` for EC; not available for Ed25519/Ed448).
        """
        if fmt == "pkcs8":
            private_format = serialization.PrivateFormat.PKCS8
        elif fmt in ("pkcs1", "traditional", "sec1"):
            if isinstance(self.key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey,
                                     x25519.X25519PrivateKey, x448.X448PrivateKey)):
                raise ValueError("Ed25519/Ed448/X25519/X448 keys only exist in PKCS#8 format")
            private_format = serialization.PrivateFormat.TraditionalOpenSSL
        else:
            raise ValueError(f"fmt must be 'pkcs8' or 'pkcs1', not {fmt!r}")
        if passphrase is None:
            encryption: serialization.KeySerializationEncryption = serialization.NoEncryption()
        else:
            encryption = serialization.BestAvailableEncryption(passphrase)
        return self.key.private_bytes(serialization.Encoding.PEM, private_format, encryption)

    def key_der(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )


def new_key(key_type: str = "rsa", key_size: int = 2048, curve: str = "secp256r1") -> PrivateKeyTypes:
    """Generate a private key: ``rsa`` (key_size), ``ec`` (curve), ``ed25519``, ``ed448``, ``dsa`` (key_size).

    ``x25519`` and ``x448`` (key agreement only) make certificates no TLS server can use.
    """
    kt = key_type.lower()
    if kt == "rsa":
        return rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    if kt in ("ec", "ecdsa"):
        try:
            curve_cls = CURVES[curve.lower()]
        except KeyError:
            raise ValueError(f"unknown curve {curve!r} (one of {', '.join(sorted(CURVES))})") from None
        return ec.generate_private_key(curve_cls())
    if kt == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if kt == "ed448":
        return ed448.Ed448PrivateKey.generate()
    if kt == "dsa":
        return dsa.generate_private_key(key_size=key_size)
    if kt == "x25519":
        return x25519.X25519PrivateKey.generate()
    if kt == "x448":
        return x448.X448PrivateKey.generate()
    raise ValueError(f"unknown key_type {key_type!r} (rsa, ec, ed25519, ed448, dsa, x25519, x448)")


_KEY_CACHE: dict = {}


def cached_key(slot: str = "default", key_type: str = "rsa", key_size: int = 2048,
               curve: str = "secp256r1") -> PrivateKeyTypes:
    """Like :func:`new_key`, but one key per (slot, type, size, curve) for the whole process.

    RSA generation is slow: tests that only need *a* key (or distinct keys, with distinct
    slots) share them through this cache. Never use it for anything but tests.
    """
    index = (slot, key_type.lower(), key_size, curve.lower())
    if index not in _KEY_CACHE:
        _KEY_CACHE[index] = new_key(key_type, key_size, curve)
    return _KEY_CACHE[index]


def secret_fragments(key_pem: bytes, *public: bytes, size: int = 16, step: int = 4) -> list:
    """Pieces of ``key_pem``'s base64 body to search for in output that must not leak the key.

    Returns every ``size``-character window (at offsets that are multiples of ``step``) of
    each base64 line, so a leak of ``size + step`` or more contiguous characters is found
    even when cut differently. A PKCS#8/PKCS#1 key also carries the public modulus/point,
    which can legitimately show up in the certificate's PEM with the same base64
    alignment: windows found in any of the ``public`` texts (certificates) are left out.
    """
    public_text = "".join(b.decode("ascii", "replace") for b in public).replace("\n", "").replace("\r", "")
    out = []
    for raw in key_pem.decode("ascii").splitlines():
        line = raw.strip()
        if not line or line.startswith("-----") or ":" in line:
            continue
        for start in range(0, max(len(line) - size, 0) + 1, step):
            window = line[start:start + size]
            if len(window) == size and window not in public_text:
                out.append(window)
    return out


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def _validity(not_before_days: float, days_valid: float):
    now = _now()
    not_before = now + datetime.timedelta(days=not_before_days)
    not_after = now + datetime.timedelta(days=days_valid)
    if not_after <= not_before:
        # e.g. days_valid=-1 with the default not_before_days=-1: keep a sane window
        not_before = not_after - datetime.timedelta(days=1)
    return not_before, not_after


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "chat_callback.mtls test PKI"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _der_tlv(data: bytes, pos: int):
    """Return (header_length, content_length) of the DER TLV at ``pos``."""
    first = data[pos + 1]
    if first < 0x80:
        return 2, first
    n = first & 0x7F
    return 2 + n, int.from_bytes(data[pos + 2:pos + 2 + n], "big")


def _sign(builder: x509.CertificateBuilder, issuer_key: PrivateKeyTypes, hash_alg: str | None) -> x509.Certificate:
    if isinstance(issuer_key, (ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        return builder.sign(issuer_key, None)
    alg = (hash_alg or "sha256").lower()
    if alg in _HASHES:
        return builder.sign(issuer_key, _HASHES[alg]())
    if alg not in _RSA_LEGACY_ALGID:
        raise ValueError(f"unknown hash_alg {hash_alg!r}")
    if not isinstance(issuer_key, rsa.RSAPrivateKey):
        raise ValueError(f"hash_alg {hash_alg!r} is only supported with an RSA issuer key")
    legacy_algid, legacy_hash = _RSA_LEGACY_ALGID[alg]
    der = builder.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    if der.count(_RSA_SHA256_ALGID) != 2:
        raise RuntimeError(f"unexpected certificate layout while building a {alg} certificate")
    der = der.replace(_RSA_SHA256_ALGID, legacy_algid)
    outer_hdr, _ignored = _der_tlv(der, 0)
    tbs_hdr, tbs_len = _der_tlv(der, outer_hdr)
    tbs = der[outer_hdr:outer_hdr + tbs_hdr + tbs_len]
    signature = issuer_key.sign(tbs, padding.PKCS1v15(), legacy_hash())
    der = der[: len(der) - len(signature)] + signature
    return x509.load_der_x509_certificate(der)


def der_encode(tag: int, content: bytes) -> bytes:
    """One DER TLV: ``tag`` (a single byte, e.g. 0x30 for SEQUENCE) around ``content``."""
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    length = size.to_bytes((size.bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(length)]) + length + content


def der_items(data: bytes) -> list:
    """The TLVs (each with its header) of ``data``, a concatenation of DER elements."""
    items, pos = [], 0
    while pos < len(data):
        header, size = _der_tlv(data, pos)
        items.append(data[pos:pos + header + size])
        pos += header + size
    return items


def der_content(tlv: bytes) -> bytes:
    """The content of the DER element ``tlv``, without its tag and length."""
    header, size = _der_tlv(tlv, 0)
    return tlv[header:header + size]


def _der_integer(value: int) -> bytes:
    # minimal two's complement: the parser refuses padded integers
    size = ((value if value >= 0 else ~value).bit_length() + 8) // 8
    return der_encode(0x02, value.to_bytes(size, "big", signed=True))


def _der_oid(dotted: str) -> bytes:
    first, second, *rest = (int(arc) for arc in dotted.split("."))
    body = bytearray([40 * first + second])
    for arc in rest:
        chunk = [arc & 0x7F]
        high = arc >> 7
        while high:
            chunk.append(0x80 | (high & 0x7F))
            high >>= 7
        body += bytes(reversed(chunk))
    return der_encode(0x06, bytes(body))


def rewrite_tbs(cert: x509.Certificate, signer_key: PrivateKeyTypes, edit) -> x509.Certificate:
    """``cert`` with its TBSCertificate fields edited, signed again by ``signer_key``.

    ``edit`` gets the list of DER fields of the TBSCertificate (``[0]`` version, serial,
    signature, issuer, validity, subject, subjectPublicKeyInfo, ``[3]`` extensions; a version 1
    certificate has neither ``[0]`` nor ``[3]``) and returns the new list. The signature keeps
    the certificate's algorithm (RSA PKCS#1 v1.5, ECDSA or EdDSA).
    """
    tbs, algid, _signature = der_items(der_content(cert.public_bytes(serialization.Encoding.DER)))
    tbs = der_encode(0x30, b"".join(edit(der_items(der_content(tbs)))))
    hash_alg = cert.signature_hash_algorithm
    if isinstance(signer_key, rsa.RSAPrivateKey):
        signature = signer_key.sign(tbs, padding.PKCS1v15(), hash_alg)
    elif isinstance(signer_key, ec.EllipticCurvePrivateKey):
        signature = signer_key.sign(tbs, ec.ECDSA(hash_alg))
    else:
        signature = signer_key.sign(tbs)
    der = der_encode(0x30, tbs + algid + der_encode(0x03, b"\x00" + signature))
    with warnings.catch_warnings():
        # what these certificates are made for: cryptography warns about a serial of zero or below
        warnings.simplefilter("ignore")
        return x509.load_der_x509_certificate(der)


# NIST P-256 (SEC 2 secp256r1): for certificates that spell the curve out instead of naming it
_P256 = {
    "p": 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF,
    "b": 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B,
    "gx": 0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    "gy": 0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
    "n": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
}


def explicit_ec_spki(public_key: ec.EllipticCurvePublicKey, custom: bool = False) -> bytes:
    """SubjectPublicKeyInfo of a P-256 ``public_key`` with explicit curve parameters.

    ``custom=True`` names 2G as the base point: the same curve, but a description OpenSSL
    cannot map to a named curve.
    """
    p, gx, gy = _P256["p"], _P256["gx"], _P256["gy"]
    if custom:  # point doubling on y^2 = x^3 - 3x + b
        slope = (3 * gx * gx - 3) * pow(2 * gy, -1, p) % p
        x2 = (slope * slope - 2 * gx) % p
        gx, gy = x2, (slope * (gx - x2) - gy) % p

    def field(value):
        return der_encode(0x04, value.to_bytes(32, "big"))

    parameters = der_encode(0x30, _der_integer(1)
                            + der_encode(0x30, _der_oid("1.2.840.10045.1.1") + _der_integer(p))
                            + der_encode(0x30, field(p - 3) + field(_P256["b"]))
                            + der_encode(0x04, b"\x04" + gx.to_bytes(32, "big") + gy.to_bytes(32, "big"))
                            + _der_integer(_P256["n"]) + _der_integer(1))
    point = public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return der_encode(0x30, der_encode(0x30, _der_oid("1.2.840.10045.2.1") + parameters)
                      + der_encode(0x03, b"\x00" + point))


def rsa_pss_spki(public_key: rsa.RSAPublicKey) -> bytes:
    """SubjectPublicKeyInfo of ``public_key`` as an RSASSA-PSS key (no parameters: any PSS hash)."""
    spki = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    _algorithm, bits = der_items(der_content(spki))
    return der_encode(0x30, der_encode(0x30, _der_oid("1.2.840.113549.1.1.10")) + bits)


def with_spki(issued: Issued, issuer: Issued, spki: bytes) -> Issued:
    """``issued`` with the subjectPublicKeyInfo ``spki`` (same key, other encoding), signed by ``issuer``."""
    def edit(fields):
        index = 6 if fields[0][0] == 0xA0 else 5
        return fields[:index] + [spki] + fields[index + 1:]
    return Issued(cert=rewrite_tbs(issued.cert, issuer.key, edit), key=issued.key)


def _ski_aki(builder, public_key, issuer: Issued | None):
    ski = x509.SubjectKeyIdentifier.from_public_key(public_key)
    builder = builder.add_extension(ski, critical=False)
    if issuer is None:
        aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)
    else:
        try:
            issuer_ski = issuer.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
            aki = x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski)
        except x509.ExtensionNotFound:
            aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key())
    return builder.add_extension(aki, critical=False)


def make_ca(
    common_name: str,
    *,
    issuer: Issued | None = None,
    key_type: str = "rsa",
    key_size: int = 2048,
    days_valid: float = 3650,
    not_before_days: float = -1,
    path_length: int | None = None,
    hash_alg: str = "sha256",
    is_ca: bool = True,
    curve: str = "secp256r1",
    key: PrivateKeyTypes | None = None,
    version: int = 3,
    serial: int | None = None,
) -> Issued:
    """A CA certificate: self-signed when ``issuer`` is None, else signed by ``issuer``.

    Extensions are the ones RFC 5280 / webpki expect, so that
    ``cryptography.x509.verification`` accepts chains built from them. ``is_ca=False``
    gives a certificate with ``basicConstraints CA:FALSE`` (to test "not a CA").
    ``key`` reuses an existing key (RSA generation is slow). ``version=1`` makes an X.509
    version 1 certificate (no extensions at all, as old roots are). ``serial`` sets the serial
    number, zero and negative ones too.
    """
    if key is None:
        key = new_key(key_type, key_size, curve)
    subject = _name(common_name)
    not_before, not_after = _validity(not_before_days, days_valid)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject if issuer is None else issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number() if serial is None or serial <= 0 else serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    signer = key if issuer is None else issuer.key
    if version == 1:
        cert = rewrite_tbs(_sign(builder, signer, hash_alg), signer,
                           lambda fields: [f for f in fields if f[0] not in (0xA0, 0xA3)])
        return Issued(cert=_with_serial(cert, signer, serial), key=key)
    if version != 3:
        raise ValueError(f"version must be 1 or 3, not {version!r}")
    if is_ca:
        builder = builder.add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        key_usage = x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
        )
    else:
        builder = builder.add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        key_usage = x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
            key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
        )
    builder = builder.add_extension(key_usage, critical=True)
    builder = _ski_aki(builder, key.public_key(), issuer)
    cert = _sign(builder, signer, hash_alg)
    return Issued(cert=_with_serial(cert, signer, serial), key=key)


def _with_serial(cert: x509.Certificate, signer_key: PrivateKeyTypes, serial: int | None) -> x509.Certificate:
    """``cert`` with a serial of zero or below, which the builder refuses; else ``cert`` itself."""
    if serial is None or serial > 0:
        return cert
    # the serial follows the [0] version field, which version 1 certificates leave out
    return rewrite_tbs(cert, signer_key, lambda fields: (
        fields[:1] + [_der_integer(serial)] + fields[2:] if fields[0][0] == 0xA0
        else [_der_integer(serial)] + fields[1:]))


def make_leaf(
    issuer: Issued,
    common_name: str,
    *,
    sans: Iterable[str] = (),
    ip_sans: Iterable[str] = (),
    key_type: str = "rsa",
    key_size: int = 2048,
    curve: str = "secp256r1",
    days_valid: float = 365,
    not_before_days: float = -1,
    hash_alg: str = "sha256",
    eku: Iterable[str] | None = ("serverAuth",),
    key: PrivateKeyTypes | None = None,
    serial: int | None = None,
) -> Issued:
    """An end-entity certificate signed by ``issuer``.

    ``sans``: DNS names, ``ip_sans``: IPv4/IPv6 addresses (no SAN extension when both
    are empty). ``eku``: names like ``serverAuth``/``clientAuth`` or dotted OIDs; None
    leaves the extendedKeyUsage extension out. Days are relative to now and may be
    negative (expired: ``days_valid=-1``; not yet valid: ``not_before_days=2``). ``serial``
    as in :func:`make_ca`.
    """
    if key is None:
        key = new_key(key_type, key_size, curve)
    not_before, not_after = _validity(not_before_days, days_valid)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number() if serial is None or serial <= 0 else serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    general_names = [x509.DNSName(n) for n in sans]
    general_names += [x509.IPAddress(ipaddress.ip_address(a)) for a in ip_sans]
    if general_names:
        builder = builder.add_extension(x509.SubjectAlternativeName(general_names), critical=False)
    builder = builder.add_extension(
        x509.KeyUsage(
            digital_signature=True, content_commitment=False,
            key_encipherment=isinstance(key, rsa.RSAPrivateKey), data_encipherment=False,
            key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
        ),
        critical=True,
    )
    if eku is not None:
        usages = [EKUS[u] if u in EKUS else x509.ObjectIdentifier(u) for u in eku]
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    builder = _ski_aki(builder, key.public_key(), issuer)
    return Issued(cert=_with_serial(_sign(builder, issuer.key, hash_alg), issuer.key, serial), key=key)


def make_crl(issuer: Issued, next_update_days: float = 30, revoked: Iterable[int] = ()) -> bytes:
    """A PEM CRL signed by ``issuer``, issued now, revoking the serials ``revoked``."""
    now = _now()
    builder = (x509.CertificateRevocationListBuilder()
               .issuer_name(issuer.cert.subject)
               .last_update(now - datetime.timedelta(hours=1))
               .next_update(now + datetime.timedelta(days=next_update_days)))
    for serial in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now).build())
    return builder.sign(issuer.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _write(path: Path, data: bytes, private: bool = False) -> Path:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(str(tmp), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(str(tmp), 0o600 if private else 0o644)
    os.replace(str(tmp), str(path))
    return path


def write_demo(out_dir, server_name: str = "www.example.com", days_valid: float = 365,
               key_passphrase: str | None = None) -> dict:
    """Write the demo/test file set to ``out_dir`` (overwriting) and return the paths.

    With ``key_passphrase``, the server's private key is written encrypted with it (PKCS#8).

    Keys: certificate, private_key, server_ca, client_ca, client_ca_zip, crl, client_cert,
    client_key, other_client_cert, other_client_key (same client CA, another subject),
    rogue_client_cert, rogue_client_key (another CA).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    try:
        ipaddress.ip_address(server_name)
        sans, ip_sans = (), (server_name,)
    except ValueError:
        sans, ip_sans = (server_name,), ()

    root = make_ca("chat_callback.mtls Demo Server Root CA")
    inter = make_ca("chat_callback.mtls Demo Server Intermediate CA", issuer=root, path_length=0, days_valid=1825)
    leaf = make_leaf(inter, server_name, sans=sans, ip_sans=ip_sans, days_valid=days_valid)
    client_ca = make_ca("TencentQQAuthCA (chat_callback.mtls test stand-in)")
    # client certificates carry a SAN too, so that webpki-style client verifiers accept them
    client = make_leaf(client_ca, "tencent-chat-callback-client", sans=("tencent-chat-callback-client.invalid",),
                       eku=("clientAuth",))
    # Verified by the client CA but not the vendor's client: for nginx_mtls_allowed_client_dns.
    other = make_leaf(client_ca, "other-chat-client", sans=("other-chat-client.invalid",), eku=("clientAuth",))
    rogue_ca = make_ca("Rogue Client CA (not trusted)")
    rogue = make_leaf(rogue_ca, "rogue-client", sans=("rogue-client.invalid",), eku=("clientAuth",))

    paths = {
        "certificate": _write(out / (f"{server_name}.crt"), leaf.cert_pem() + inter.cert_pem()),
        "private_key": _write(out / (f"{server_name}.key"),
                              leaf.key_pem(key_passphrase.encode() if key_passphrase else None), private=True),
        "server_ca": _write(out / "server-root-ca.crt", root.cert_pem()),
        "client_ca": _write(out / "TencentQQAuthCA.crt", client_ca.cert_pem()),
        "client_ca_zip": out / "TencentQQAuthCA.crt.zip",
        # the client CA's CRL, revoking nothing, due for renewal in 30 days
        "crl": _write(out / "TencentQQAuthCA.crl", make_crl(client_ca)),
        "client_cert": _write(out / "client.crt", client.cert_pem()),
        "client_key": _write(out / "client.key", client.key_pem(), private=True),
        "other_client_cert": _write(out / "other-client.crt", other.cert_pem()),
        "other_client_key": _write(out / "other-client.key", other.key_pem(), private=True),
        "rogue_client_cert": _write(out / "rogue-client.crt", rogue.cert_pem()),
        "rogue_client_key": _write(out / "rogue-client.key", rogue.key_pem(), private=True),
    }
    tmp_zip = out / "TencentQQAuthCA.crt.zip.tmp"
    with zipfile.ZipFile(str(tmp_zip), "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("TencentQQAuthCA.crt", client_ca.cert_pem())
    os.replace(str(tmp_zip), str(paths["client_ca_zip"]))
    return paths


def secret_lines(directory, passphrases: Iterable[str] = ()) -> list:
    """Lines that identify a secret of the PKI in ``directory``: search a host for them.

    Every base64 line of every ``*.key`` file under ``directory``; of an encrypted key also the
    lines of its decrypted PKCS#8 and traditional forms (which must never leave the controller);
    and each passphrase. Lines shorter than 16 characters (the tail of a PEM body) would match
    by chance in binary files, and a line also found in a certificate there is public: both are
    left out.
    """
    root = Path(directory)
    public = "".join(p.read_text("ascii", "replace") for p in root.rglob("*.crt")).replace("\n", "")
    texts = []
    for path in sorted(root.rglob("*.key")):
        data = path.read_bytes()
        texts.append(data)
        if b"ENCRYPTED" in data:
            for passphrase in passphrases:
                try:
                    key = serialization.load_pem_private_key(data, passphrase.encode())
                except (ValueError, TypeError):
                    continue
                texts += [Issued(cert=None, key=key).key_pem(fmt=fmt) for fmt in ("pkcs8", "pkcs1")]
    lines = [line.strip() for text in texts for line in text.decode("ascii").splitlines()]
    found = [line for line in lines if len(line) >= 16 and ":" not in line and not line.startswith("-----")
             and line not in public]
    return list(dict.fromkeys(found + list(passphrases)))


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pki.py", description="chat_callback.mtls throw-away test PKI")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="write a demo certificate set (server chain, key, client CA, zip, clients)")
    demo.add_argument("out_dir", type=Path)
    demo.add_argument("--server-name", default="www.example.com")
    demo.add_argument("--days-valid", type=float, default=365,
                      help="validity of the server certificate from now, in days (negative: already expired)")
    demo.add_argument("--key-passphrase", help="write the server's private key encrypted with this passphrase")
    lines = sub.add_parser("secret-lines", help="print the lines that identify the keys under DIR (see secret_lines)")
    lines.add_argument("directory", type=Path)
    lines.add_argument("--passphrase", action="append", default=[], help="a passphrase in use (repeatable)")
    args = parser.parse_args(argv)
    if args.command == "demo":
        paths = write_demo(args.out_dir, server_name=args.server_name, days_valid=args.days_valid,
                           key_passphrase=args.key_passphrase)
        for name, path in paths.items():
            print(f"{name:<18} {path}")
    else:
        print("\n".join(secret_lines(args.directory, args.passphrase)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
