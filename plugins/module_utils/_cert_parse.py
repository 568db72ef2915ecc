# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The PEM blocks of an input, turned into certificates and the private key.

Each block is parsed on its own so that one broken certificate is reported by its number and the
others are still checked; a private key found where certificates belong, or the wrong number of
keys, is a problem of its own. Texts of the key parser's exceptions never reach a message: they
may quote the key.
"""

from __future__ import absolute_import, division, print_function  # noqa: UP010

__metaclass__ = type  # noqa: UP001

import contextlib
import re

# cert_checks.HAS_CRYPTOGRAPHY reports a missing cryptography; nothing here runs then.
with contextlib.suppress(ImportError):
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization

from ansible_collections.chat_callback.mtls.plugins.module_utils import _cert_inspect
from ansible_collections.chat_callback.mtls.plugins.module_utils._cert_common import (
    CRYPTOGRAPHY_VERSION,
    Problem,
    describe_cert,
)

_PEM_BLOCK_RE = re.compile(
    br"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----",
    re.DOTALL,
)
_PRIVATE_KEY_TYPES = (
    b"PRIVATE KEY",
    b"ENCRYPTED PRIVATE KEY",
    b"RSA PRIVATE KEY",
    b"EC PRIVATE KEY",
    b"DSA PRIVATE KEY",
    b"OPENSSH PRIVATE KEY",
    b"ANY PRIVATE KEY",
)


class PemBlock:
    """One ``-----BEGIN X-----`` block: its type, index in the file and its exact bytes."""

    def __init__(self, kind, index, raw):
        self.kind = kind
        self.index = index
        self.raw = raw

    def __repr__(self):
        return f"PemBlock({self.kind!r}, #{self.index})"


def pem_blocks(data):
    """All PEM blocks of ``data`` in file order."""
    return [PemBlock(m.group(1).decode("ascii"), i, m.group(0)) for i, m in enumerate(_PEM_BLOCK_RE.finditer(data))]


def parse_certificates(source, kind="certificate", warnings=None):
    """Parse every CERTIFICATE block of ``source``; returns (certs, problems).

    A private key inside a certificate file is a problem of its own (``private_key_in_file``):
    the certificate text is returned and deployed as public data. A certificate whose extensions
    or public key do not parse is returned too, with its problem (see ``_cert_inspect``); a serial
    number of zero or below and a name cryptography warns about are appended to ``warnings``
    when a list is given.
    """
    problems = []
    certs = []
    blocks = pem_blocks(source.data)
    key_blocks = [b for b in blocks if b.kind.encode("ascii") in _PRIVATE_KEY_TYPES]
    if key_blocks:
        problems.append(Problem(
            "private_key_in_file",
            f"{source.label} contains a private key ({key_blocks[0].kind} block); it must hold certificates only "
            f"(it is deployed and reported as public data). Keep the key in its own file.",
        ))
    cert_blocks = [b for b in blocks if b.kind in ("CERTIFICATE", "X509 CERTIFICATE", "TRUSTED CERTIFICATE")]
    if not cert_blocks:
        found = ", ".join(sorted({b.kind for b in blocks})) or "no complete PEM block"
        problems.append(Problem("no_certificate", f"{source.label} holds no '-----BEGIN CERTIFICATE-----' block "
                                                  f"(found: {found}); expected a PEM {kind}."))
        return certs, problems
    for number, block in enumerate(cert_blocks, 1):
        if block.kind == "TRUSTED CERTIFICATE":
            problems.append(Problem("cert_parse_error", f"{source.label}: certificate #{number} is an OpenSSL "
                                                        f"'TRUSTED CERTIFICATE'; convert it with "
                                                        f"'openssl x509 -in FILE -out FILE.pem'."))
            continue
        try:
            cert = _cert_inspect.load_pem_certificate(block.raw.replace(b"X509 CERTIFICATE", b"CERTIFICATE"))
        except Exception as exc:  # ValueError, or anything the Rust parser raises
            problems.append(Problem("cert_parse_error", f"{source.label}: certificate #{number} does not parse as "
                                                        f"an X.509 certificate ({exc.__class__.__name__}: {exc})."))
            continue
        broken, odd_names = _cert_inspect.check_names(cert)
        if broken:
            problems.append(Problem("cert_parse_error", f"{source.label}: certificate #{number} does not parse as "
                                                        f"an X.509 certificate ({broken})."))
            continue
        name = f"{source.label}: certificate #{number} ({describe_cert(cert)})"
        found, noted = _cert_inspect.inspect(cert, name)
        problems.extend(Problem(*problem) for problem in found)
        if warnings is not None:
            warnings.extend(f"{name}: {note}. OpenSSL accepts such a name, but cryptography (which cert_check "
                            f"runs on) warns that it breaks the rules of X.520." for note in odd_names)
            warnings.extend(noted)
        certs.append(cert)
    return certs, problems


def _is_encrypted_key_block(block):
    return block.kind == "ENCRYPTED PRIVATE KEY" or b"Proc-Type: 4,ENCRYPTED" in block.raw


def load_private_key(source, passphrase=None, warnings=None):
    """Load the private key of ``source``; returns (key or None, encrypted: bool, problems).

    Exception texts of the key parser are deliberately not copied into messages.
    """
    blocks = pem_blocks(source.data)
    key_blocks = [b for b in blocks if b.kind.encode("ascii") in _PRIVATE_KEY_TYPES]
    if not key_blocks:
        found = ", ".join(sorted({b.kind for b in blocks})) or "no complete PEM block"
        return None, False, [Problem("no_private_key", f"{source.label} holds no PEM private key block (found: "
                                                       f"{found}); expected '-----BEGIN PRIVATE KEY-----', "
                                                       f"'-----BEGIN RSA PRIVATE KEY-----' or "
                                                       f"'-----BEGIN EC PRIVATE KEY-----'.")]
    if len(key_blocks) > 1:
        return None, False, [Problem("multiple_private_keys", f"{source.label} holds {len(key_blocks)} private "
                                                              f"keys; it must hold exactly one.")]
    block = key_blocks[0]
    if block.kind == "OPENSSH PRIVATE KEY":
        return None, False, [Problem("key_parse_error", f"{source.label} is an OpenSSH private key; nginx needs a "
                                                        f"PEM key: convert a copy with "
                                                        f"'ssh-keygen -p -m PEM -f COPY'.")]
    encrypted = _is_encrypted_key_block(block)
    password = None
    if passphrase is not None and passphrase != "":
        password = passphrase.encode("utf-8") if not isinstance(passphrase, bytes) else passphrase
    if encrypted and password is None:
        return None, True, [Problem("passphrase_required", f"{source.label} is encrypted; set "
                                                           f"private_key_passphrase.")]
    if not encrypted and password is not None:
        if warnings is not None:
            warnings.append(f"{source.label} is not encrypted; private_key_passphrase is ignored.")
        password = None
    kwargs = {}
    if CRYPTOGRAPHY_VERSION >= (39, 0):
        # OpenSSL's RSA consistency check costs ~40 ms for RSA-2048; check_key_match()
        # proves the key instead with a test signature verified by the certificate.
        kwargs["unsafe_skip_rsa_key_validation"] = True
    try:
        key = serialization.load_pem_private_key(block.raw, password=password, **kwargs)
    except TypeError:
        # encryption state other than what the PEM headers suggested
        if password is None:
            return None, True, [Problem("passphrase_required", f"{source.label} is encrypted; set "
                                                               f"private_key_passphrase.")]
        return None, False, [Problem("key_parse_error", f"{source.label} does not parse as a private key.")]
    except UnsupportedAlgorithm:
        return None, encrypted, [Problem("key_parse_error", f"{source.label}: unsupported private key type or "
                                                            f"encryption algorithm.")]
    except ValueError:
        if encrypted:
            return None, True, [Problem("passphrase_wrong", f"{source.label} cannot be decrypted: "
                                                            f"private_key_passphrase is wrong (or the key is "
                                                            f"corrupt).")]
        return None, False, [Problem("key_parse_error", f"{source.label} does not parse as a PEM private key "
                                                        f"(corrupt or unsupported format).")]
    except Exception as exc:
        return None, encrypted, [Problem("key_parse_error", f"{source.label} does not parse as a private key "
                                                            f"({exc.__class__.__name__}).")]
    return key, encrypted, []
