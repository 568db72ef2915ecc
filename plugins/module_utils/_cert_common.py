# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every part of cert_check shares: whether cryptography is there, the problem tuple, dates,
and how a certificate is named and fingerprinted in messages and facts.

cryptography is optional on a managed host: the ``cert_check`` module must still import without
it and say what is missing (``HAS_CRYPTOGRAPHY`` and ``CRYPTOGRAPHY_IMPORT_ERROR``, which
``cert_checks`` hands on). This module owns that flag; the other ``_cert_*`` modules import
cryptography guarded and are never called without it.
"""

from __future__ import absolute_import, division, print_function  # noqa: UP010

__metaclass__ = type  # noqa: UP001

import collections
import datetime
import re
import traceback

try:
    import cryptography
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
except ImportError:
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()
    # set either way: _cert_parse imports it, and it must import for the module to report what is missing
    CRYPTOGRAPHY_VERSION = (0, 0)
else:
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
    try:
        CRYPTOGRAPHY_VERSION = tuple(int(part) for part in cryptography.__version__.split(".")[:2])
    except ValueError:  # pragma: no cover - odd local builds
        CRYPTOGRAPHY_VERSION = (0, 0)

from ansible_collections.chat_callback.mtls.plugins.module_utils.fingerprint import sha256_fingerprint

#: What every check returns: a stable ``code`` and a message naming the input concerned.
Problem = collections.namedtuple("Problem", ["code", "message"])

_HEX64_RE = re.compile(r"^[0-9A-F]{64}$")

_UTC = datetime.timezone.utc


def utcnow():
    return datetime.datetime.now(_UTC)


def not_valid_before(cert):
    try:
        return cert.not_valid_before_utc
    except AttributeError:  # cryptography < 42
        return cert.not_valid_before.replace(tzinfo=_UTC)


def not_valid_after(cert):
    try:
        return cert.not_valid_after_utc
    except AttributeError:  # cryptography < 42
        return cert.not_valid_after.replace(tzinfo=_UTC)


ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"


def iso_utc(value):
    """``2027-11-26T20:11:00Z``."""
    return value.astimezone(_UTC).strftime(ISO_UTC)


def parse_iso_utc(text):
    """The aware datetime of an :func:`iso_utc` string (the dates cert_check returns)."""
    return datetime.datetime.strptime(text, ISO_UTC).replace(tzinfo=_UTC)


def days_between(start, end):
    """Whole days from ``start`` to ``end``, rounded down (negative when ``end`` is in the past)."""
    return int((end - start).total_seconds() // 86400)


def plural(count, word):
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def cert_der(cert):
    return cert.public_bytes(serialization.Encoding.DER)


def cert_fingerprint(cert):
    return sha256_fingerprint(cert_der(cert))


def describe_cert(cert):
    """Short subject for messages: ``CN=www.example.com`` or the full RFC 4514 subject."""
    try:
        cns = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
        if cns:
            return f"CN={cns[0].value}"
        return cert.subject.rfc4514_string() or "(empty subject)"
    except Exception:  # pragma: no cover - odd encodings
        return "(unreadable subject)"


def serial_hex(serial):
    digits = format(abs(serial), "X")
    if len(digits) % 2:
        digits = "0" + digits
    return ("-" if serial < 0 else "") + digits


def signature_hash_name(cert):
    """Lower-case hash name (``sha256``, ``sha1``, ``md5``) or, for Ed25519/Ed448, the algorithm name."""
    try:
        alg = cert.signature_hash_algorithm
    except Exception:  # UnsupportedAlgorithm, or ValueError for malformed RSA-PSS parameters
        alg = None
    if alg is not None:
        return alg.name.lower()
    oid_name = getattr(cert.signature_algorithm_oid, "_name", None) or cert.signature_algorithm_oid.dotted_string
    return oid_name.lower()


def signature_algorithm_name(cert):
    oid = cert.signature_algorithm_oid
    return getattr(oid, "_name", None) or oid.dotted_string


def normalize_fingerprint(value):
    """``ab:CD...`` / ``abcd...`` / ``AB CD ...`` -> ``AB:CD:...``; None when it is not 32 bytes of hex."""
    compact = re.sub(r"[\s:]", "", str(value)).upper()
    if not _HEX64_RE.match(compact):
        return None
    return ":".join(compact[i:i + 2] for i in range(0, 64, 2))
