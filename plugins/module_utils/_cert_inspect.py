# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Loading a certificate, and the parts of it cryptography only reads when first asked.

``x509.load_pem_x509_certificate`` checks the outer structure only: the subject and issuer names
are parsed on first access, the extensions on the first access to ``extensions`` and the public
key on ``public_key()``, and each raises then (a malformed subjectAltName, an extension given
twice, an EC key on a custom curve). Each certificate is inspected once, right after loading, so
that such a certificate becomes a problem with a sentence. One whose names do not parse (OpenSSL
would not load it at all) is dropped as unparsable; for the others the checks read the other
parts through :func:`extensions_or_none` and ``_cert_keys.public_key_or_none`` and skip what is
unreadable.

cryptography also emits a ``CryptographyDeprecationWarning`` for a serial number of zero or below,
on loading and on every ``serial_number``. Python prints it to stderr, which ansible-core turns
into "WorkerProcess ... errantly sent data directly to stderr" when the checks run in-process; it
is silenced here and the serial becomes a warning of the module.
"""

from __future__ import absolute_import, division, print_function  # noqa: UP010

__metaclass__ = type  # noqa: UP001

import contextlib
import re
import warnings as py_warnings

# cert_checks.HAS_CRYPTOGRAPHY reports a missing cryptography; nothing here runs then.
with contextlib.suppress(ImportError):
    from cryptography import x509

from ansible_collections.chat_callback.mtls.plugins.module_utils._cert_keys import SPKI_ALGORITHMS, spki_algorithm

# cryptography's parser names the failing extension by its field name in its error text
_EXTENSION_FIELD_RE = re.compile(r'location: \["([a-z_]+)"')
_EXTENSION_NAMES = {
    "subject_alternative_name": "subjectAltName",
    "issuer_alternative_name": "issuerAltName",
    "basic_constraints": "basicConstraints",
    "key_usage": "keyUsage",
    "extended_key_usage": "extendedKeyUsage",
    "subject_key_identifier": "subjectKeyIdentifier",
    "authority_key_identifier": "authorityKeyIdentifier",
    "name_constraints": "nameConstraints",
    "crl_distribution_points": "cRLDistributionPoints",
    "authority_information_access": "authorityInfoAccess",
    "certificate_policies": "certificatePolicies",
}


def load_pem_certificate(raw):
    """``x509.load_pem_x509_certificate`` without cryptography's warnings (see the module docstring)."""
    with py_warnings.catch_warnings():
        py_warnings.simplefilter("ignore")
        return x509.load_pem_x509_certificate(raw)


def load_der_certificate(raw):
    with py_warnings.catch_warnings():
        py_warnings.simplefilter("ignore")
        return x509.load_der_x509_certificate(raw)


def serial_number(cert):
    with py_warnings.catch_warnings():
        py_warnings.simplefilter("ignore")
        return cert.serial_number


def extensions_or_none(cert):
    """The certificate's extensions, or None when they do not parse (reported by :func:`inspect`)."""
    try:
        return cert.extensions
    except Exception:  # ValueError, x509.DuplicateExtension
        return None


def extension_value(cert, extension_class):
    """The value of one extension, or None when it is absent or the extensions do not parse."""
    extensions = extensions_or_none(cert)
    if extensions is None:
        return None
    try:
        return extensions.get_extension_for_class(extension_class).value
    except x509.ExtensionNotFound:
        return None


def check_names(cert):
    """``(error, notes)`` of the subject and issuer names, parsed here for the first time.

    ``error``: ``"its subject name: ValueError: ..."`` when one does not parse, else None.
    ``notes``: what cryptography warned about while parsing them (a countryName that is not two
    letters long), for warnings of the module; cryptography keeps the parsed names, so it warns
    only on this first access.
    """
    notes = []
    with py_warnings.catch_warnings(record=True) as caught:
        py_warnings.simplefilter("always")
        for part in ("subject", "issuer"):
            try:
                getattr(cert, part)
            except Exception as exc:  # ValueError from the Rust parser
                return f"its {part} name: {exc.__class__.__name__}: {exc}", []
            notes.extend(f"its {part} name: {w.message}" for w in caught[len(notes):])
    return None, notes


def _oid_name(oid):
    return getattr(oid, "_name", None) or oid.dotted_string


def inspect(cert, name):
    """``(problems, warnings)`` of one freshly loaded certificate; ``name`` starts each sentence.

    Problems are ``(code, message)`` tuples.
    """
    problems, warnings = [], []
    try:
        len(cert.extensions)  # parses them
    except x509.DuplicateExtension as exc:
        problems.append((
            "cert_extension_invalid",
            f"{name} holds the {_oid_name(exc.oid)} extension more than once; RFC 5280 allows each extension once, "
            f"and OpenSSL marks such a certificate invalid and does not verify it. Have it reissued.",
        ))
    except Exception as exc:  # ValueError from the extension parser, or an unsupported critical extension
        field = _EXTENSION_FIELD_RE.search(str(exc))
        what = f"its {_EXTENSION_NAMES.get(field.group(1), field.group(1))} extension" if field else "an extension"
        problems.append((
            "cert_extension_invalid",
            f"{name}: {what} does not parse ({exc}); OpenSSL marks such a certificate invalid and does not verify "
            f"it. Have it reissued.",
        ))
    oid, params_tag = spki_algorithm(cert)
    if SPKI_ALGORITHMS.get(oid) == "EC" and params_tag == 0x30:
        # OpenSSL 3.0 fails any chain holding one, client CAs included (openssl verify: error 94)
        problems.append((
            "ec_explicit_curve",
            f"{name}: its EC key spells out the curve parameters instead of naming the curve; RFC 5480 allows only "
            f"named curves in certificates, and OpenSSL refuses such a certificate ('Certificate public key has "
            f"explicit ECC parameters'). Have it reissued for a key on a named curve (P-256 or P-384).",
        ))
    else:
        try:
            with py_warnings.catch_warnings():
                py_warnings.simplefilter("ignore")  # the FFDH deprecation of a DH key
                cert.public_key()
        except Exception as exc:  # UnsupportedAlgorithm, ValueError
            algorithm = SPKI_ALGORITHMS.get(oid) or oid or "unknown"
            problems.append((
                "cert_key_unreadable",
                f"{name}: its public key ({algorithm}) cannot be read ({exc.__class__.__name__}: {exc}). Have it "
                f"reissued for an ECDSA (P-256 or P-384) or RSA key.",
            ))
    serial = serial_number(cert)
    if serial <= 0:
        shown = "0" if serial == 0 else f"-{abs(serial):X}"
        warnings.append(
            f"{name} has the serial number {shown}; RFC 5280 requires a positive serial. OpenSSL (nginx) still "
            f"accepts it, but cryptography, which cert_check runs on, warns that it will refuse to load such "
            f"certificates: have it reissued."
        )
    return problems, warnings
