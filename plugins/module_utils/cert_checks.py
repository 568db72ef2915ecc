# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of an nginx mutual-TLS bundle: server certificate (chain), its key, the client CA.

Plain functions on ``cryptography`` objects, free of Ansible: the ``cert_check`` module and
action plugin (through ``cert_check_task``), the unit tests and the benchmark all call
:func:`check_params` / :func:`check_bundle`.

Every check appends :class:`Problem` tuples (a stable ``code`` plus an operator-readable
``message`` naming the file or option concerned) instead of stopping at the first one.
Messages never contain private key material or the passphrase.
"""

from __future__ import absolute_import, division, print_function  # noqa: UP010

__metaclass__ = type  # noqa: UP001

import binascii
import collections
import datetime
import io
import ipaddress
import os
import re
import ssl
import traceback
import warnings as py_warnings
import zipfile

try:
    import cryptography
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, padding, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID
except ImportError:
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
    try:
        CRYPTOGRAPHY_VERSION = tuple(int(part) for part in cryptography.__version__.split(".")[:2])
    except ValueError:  # pragma: no cover - odd local builds
        CRYPTOGRAPHY_VERSION = (0, 0)

try:
    from cryptography.x509 import verification as x509_verification
except ImportError:
    HAS_X509_VERIFICATION = False
    X509_VERIFICATION_IMPORT_ERROR = traceback.format_exc()
else:
    HAS_X509_VERIFICATION = True
    X509_VERIFICATION_IMPORT_ERROR = None

from ansible_collections.chat_callback.mtls.plugins.module_utils import _cert_inspect, _cert_keys, _server_names
from ansible_collections.chat_callback.mtls.plugins.module_utils._cert_keys import key_type_and_size
from ansible_collections.chat_callback.mtls.plugins.module_utils.fingerprint import sha256_fingerprint

#: Largest accepted input (file or content), in bytes.
MAX_INPUT_SIZE = 1024 * 1024

#: OS trust store used for ``server_ca: system`` when present.
SYSTEM_CA_FILE = "/etc/ssl/certs/ca-certificates.crt"

#: Member names taken from a client CA ZIP archive.
ZIP_CERT_SUFFIXES = (".crt", ".pem", ".cer")

WEAK_SIGNATURE_HASHES = ("md5", "sha1")

ANY_EXTENDED_KEY_USAGE_OID = "2.5.29.37.0"

Problem = collections.namedtuple("Problem", ["code", "message"])

_PEM_BLOCK_RE = re.compile(
    br"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)-----END \1-----",
    re.DOTALL,
)
_PEM_BEGIN_RE = re.compile(br"-----BEGIN [A-Z0-9 ]+-----")
_PRIVATE_KEY_TYPES = (
    b"PRIVATE KEY",
    b"ENCRYPTED PRIVATE KEY",
    b"RSA PRIVATE KEY",
    b"EC PRIVATE KEY",
    b"DSA PRIVATE KEY",
    b"OPENSSH PRIVATE KEY",
    b"ANY PRIVATE KEY",
)
_HEX64_RE = re.compile(r"^[0-9A-F]{64}$")

_UTC = datetime.timezone.utc


class PemSource:
    """Raw bytes of one input plus the label used in messages (never key data)."""

    def __init__(self, option, data, path=None, member=None):
        self.option = option
        self.data = data
        self.path = path
        self.member = member

    @property
    def label(self):
        if self.path is None:
            return self.option
        if self.member is not None:
            return f"{self.option} ({self.path}, member {self.member})"
        return f"{self.option} ({self.path})"

    def text(self):
        return self.data.decode("utf-8")

    def __repr__(self):
        # Never show the data: it may be a private key.
        return f"PemSource({self.label!r}, {len(self.data)} bytes)"


class PemBlock:
    """One ``-----BEGIN X-----`` block: its type, index in the file and its exact bytes."""

    def __init__(self, kind, index, raw):
        self.kind = kind
        self.index = index
        self.raw = raw

    def __repr__(self):
        return f"PemBlock({self.kind!r}, #{self.index})"


# ---------------------------------------------------------------------------
# small helpers
# ---------------------------------------------------------------------------

def utcnow():
    return datetime.datetime.now(_UTC)


def _not_before(cert):
    try:
        return cert.not_valid_before_utc
    except AttributeError:  # cryptography < 42
        return cert.not_valid_before.replace(tzinfo=_UTC)


def _not_after(cert):
    try:
        return cert.not_valid_after_utc
    except AttributeError:  # cryptography < 42
        return cert.not_valid_after.replace(tzinfo=_UTC)


def iso_utc(value):
    """``2027-11-26T20:11:00Z``."""
    return value.astimezone(_UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def days_between(start, end):
    """Whole days from ``start`` to ``end``, rounded down (negative when ``end`` is in the past)."""
    return int((end - start).total_seconds() // 86400)


def _plural(count, word):
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


# ---------------------------------------------------------------------------
# input loading: files, contents, ZIP, PEM sanity
# ---------------------------------------------------------------------------

def _der_length_matches(data):
    """True when ``data`` is one complete DER SEQUENCE (typical of a DER certificate or key)."""
    if len(data) < 2 or data[0:1] != b"\x30":
        return False
    first = bytearray(data[1:2])[0]
    if first < 0x80:
        return 2 + first == len(data)
    count = first & 0x7F
    if count == 0 or count > 4 or len(data) < 2 + count:
        return False
    length = int(binascii.hexlify(data[2:2 + count]), 16)
    return 2 + count + length == len(data)


def _looks_like_base64_der(data):
    compact = re.sub(br"\s", b"", data)
    if len(compact) < 64 or not re.match(br"^[A-Za-z0-9+/]+={0,2}$", compact):
        return False
    try:
        return _der_length_matches(binascii.a2b_base64(compact))
    except (binascii.Error, ValueError):
        return False


def _der_hint(kind, source):
    if source.member is not None:
        where = source.member
        prefix = "extract it from the ZIP archive, then "
    else:
        where = source.path or "FILE.der"
        prefix = ""
    if kind == "private key":
        return (
            f"convert it with: openssl pkey -inform der -in {where} -out {os.path.basename(where)}.pem "
            "(keep the result mode 0600)"
        )
    return f"{prefix}convert it with: openssl x509 -inform der -in {where} -out {os.path.basename(where)}.pem"


def check_pem_text(source, kind):
    """Empty / DER / not-PEM checks of loaded bytes; returns a list of problems."""
    data = source.data
    if not data.strip():
        return [Problem("empty", f"{source.label} is empty: expected a PEM {kind}.")]
    if _PEM_BEGIN_RE.search(data):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return [Problem("not_pem", f"{source.label} contains bytes that are not text (not UTF-8/ASCII); "
                                       f"expected a PEM {kind}.")]
        return []
    if data.startswith(b"PK\x03\x04"):
        return [Problem("not_pem", f"{source.label} is a ZIP archive, not a PEM {kind}: extract it first.")]
    if _der_length_matches(data):
        if kind == "private key":
            what = "a binary DER (ASN.1) private key"
        else:
            what = "a binary DER (ASN.1) certificate"
            try:
                _cert_inspect.load_der_certificate(data)
            except Exception:
                what = "binary DER/ASN.1 data (a DER certificate or a PKCS#12/PFX bundle?)"
        return [Problem("der_not_pem", f"{source.label} is {what}, not PEM text; nginx needs PEM: "
                                       f"{_der_hint(kind, source)}.")]
    if _looks_like_base64_der(data):
        return [Problem("not_pem", f"{source.label} looks like bare base64 without the '-----BEGIN ...-----' / "
                                   f"'-----END ...-----' lines; expected a PEM {kind}.")]
    return [Problem("not_pem", f"{source.label} is not PEM: no '-----BEGIN ...-----' line found "
                               f"(expected a PEM {kind}).")]


def _read_zip_member(source, max_size, kind):
    """Return (PemSource of the single certificate member, problems)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(source.data))
    except (zipfile.BadZipfile, ValueError, OSError) as exc:
        return None, [Problem("zip_invalid", f"{source.label} is not a readable ZIP archive ({exc}).")]
    with archive:
        names = []
        for info in archive.infolist():
            base = info.filename.rsplit("/", 1)[-1]
            if info.filename.endswith("/") or info.filename.startswith("__MACOSX/") or base.startswith("._"):
                continue
            if base.lower().endswith(ZIP_CERT_SUFFIXES):
                names.append(info)
        if not names:
            listed = ", ".join(i.filename for i in archive.infolist()) or "nothing"
            return None, [Problem(
                "zip_no_certificate",
                f"{source.label}: the ZIP archive holds no certificate file (*.crt, *.pem, *.cer); it holds: {listed}.",
            )]
        if len(names) > 1:
            listed = ", ".join(i.filename for i in names)
            return None, [Problem(
                "zip_multiple_certificates",
                f"{source.label}: the ZIP archive holds {len(names)} certificate files ({listed}); expected exactly "
                f"one. Extract the right one and pass it as a file.",
            )]
        info = names[0]
        member = PemSource(source.option, b"", path=source.path, member=info.filename)
        if info.file_size > max_size:
            return None, [Problem("too_large", f"{member.label} is {info.file_size} bytes, larger than the "
                                               f"{max_size} bytes accepted for a {kind}.")]
        try:
            with archive.open(info) as handle:
                data = handle.read(max_size + 1)
        except (zipfile.BadZipfile, RuntimeError, NotImplementedError, OSError, ValueError) as exc:
            return None, [Problem("zip_invalid", f"{member.label} cannot be extracted ({exc}).")]
        if len(data) > max_size:
            return None, [Problem("too_large", f"{member.label} is larger than the {max_size} bytes accepted "
                                               f"for a {kind}.")]
        member.data = data
        return member, []


def read_file(path, max_size):
    """The first ``max_size`` bytes of the file at ``path`` (how a module reads its inputs).

    The action plugin passes its own reader instead, which decrypts Ansible Vault files. A reader
    raises ``OSError`` whose ``strerror`` says why the file cannot be read.
    """
    with open(path, "rb") as handle:
        return handle.read(max_size)


def load_pem_input(option, path=None, content=None, kind="certificate", *, allow_zip=False,
                   max_size=MAX_INPUT_SIZE, content_option=None, basedir=None, reader=read_file):
    """Read one input from ``path`` or ``content`` and run the file-level checks.

    ``option`` names the path option (``certificate``), ``content_option`` the content one
    (default ``<option>_content``). With ``allow_zip`` a ZIP archive (detected by its
    magic bytes) must hold exactly one ``.crt``/``.pem``/``.cer`` member, which is used.
    A relative ``path`` is read from ``basedir`` when given (else from the working directory),
    with ``reader`` (see :func:`read_file`). Returns ``(PemSource or None, [Problem, ...])``.
    """
    content_option = content_option or f"{option}_content"
    if path is not None:
        # Messages name the path as the operator wrote it, even when it is read from basedir.
        source = PemSource(option, b"", path=path)
        where = path if basedir is None else os.path.join(basedir, path)
        if not os.path.exists(where):
            return None, [Problem("file_missing", f"{source.label}: file not found.")]
        if os.path.isdir(where):
            return None, [Problem("file_unreadable", f"{source.label} is a directory, not a file.")]
        try:
            data = reader(where, max_size + 1)
        except OSError as exc:
            reason = exc.strerror or exc.__class__.__name__
            return None, [Problem("file_unreadable", f"{source.label} cannot be read: {reason}.")]
        if len(data) > max_size:
            return None, [Problem("too_large", f"{source.label} is larger than {max_size} bytes (1 MiB): not a "
                                               f"{kind} file.")]
        source.data = data
        if allow_zip and data.startswith(b"PK\x03\x04"):
            return _read_zip_member(source, max_size, kind)
        if allow_zip and path.lower().endswith(".zip"):
            return None, [Problem("zip_invalid", f"{source.label} is named .zip but is not a ZIP archive.")]
    elif content is not None:
        data = content if isinstance(content, bytes) else str(content).encode("utf-8")
        source = PemSource(content_option, data)
        if len(data) > max_size:
            return None, [Problem("too_large", f"{source.label} is larger than {max_size} bytes (1 MiB): not a "
                                               f"{kind}.")]
    else:
        return None, [Problem("missing_input", f"one of {option} or {content_option} is required.")]
    return source, []


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


# ---------------------------------------------------------------------------
# name matching (RFC 6125)
# ---------------------------------------------------------------------------

def parse_ip(name):
    """``ipaddress`` object for an IPv4/IPv6 literal (``[::1]`` accepted), else None."""
    candidate = name.strip()
    if candidate.startswith("[") and candidate.endswith("]"):
        candidate = candidate[1:-1]
    try:
        return ipaddress.ip_address(candidate)
    except ValueError:
        return None


def normalize_dns_name(name):
    """Lower-case, no trailing dot; non-ASCII labels converted to their A-label (IDNA 2008, UTS #46).

    A name that does not convert is returned as it is, and so matches no certificate name.
    """
    name = name.strip().rstrip(".")
    if _server_names.is_ascii(name):
        return name.lower()
    try:
        return _server_names.to_a_labels(name)
    except (UnicodeError, _server_names.IdnaUnavailable):
        return name.lower()


def dns_name_matches(pattern, hostname):
    """RFC 6125 section 6.4: exact match, or ``*`` as the whole left-most label matching one label."""
    pattern = normalize_dns_name(pattern)
    hostname = normalize_dns_name(hostname)
    if not pattern or not hostname:
        return False
    if pattern == hostname:
        return True
    p_labels = pattern.split(".")
    h_labels = hostname.split(".")
    if p_labels[0] != "*" or "*" in ".".join(p_labels[1:]):
        return False
    # "*.com" is never accepted; the wildcard stands for exactly one non-empty label
    if len(p_labels) < 3 or len(h_labels) != len(p_labels):
        return False
    if not h_labels[0] or h_labels[0] == "*":
        return False
    return h_labels[1:] == p_labels[1:]


def certificate_sans(cert):
    """(dns_names, ip_addresses) of the subjectAltName, or (None, None) without a readable extension."""
    ext = _cert_inspect.extension_value(cert, x509.SubjectAlternativeName)
    if ext is None:
        return None, None
    return ext.get_values_for_type(x509.DNSName), ext.get_values_for_type(x509.IPAddress)


def name_matches_cert(cert, server_name):
    dns_names, ips = certificate_sans(cert)
    if dns_names is None:
        return False
    ip = parse_ip(server_name)
    if ip is not None:
        return any(ip == candidate for candidate in ips)
    return any(dns_name_matches(pattern, server_name) for pattern in dns_names)


# ---------------------------------------------------------------------------
# chain links
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
# certificate facts and checks
# ---------------------------------------------------------------------------

def certificate_facts(leaf, chain_length, now):
    dns_names, ips = certificate_sans(leaf)
    key_type, key_size = _cert_keys.certificate_key_type(leaf)
    return {
        "subject": leaf.subject.rfc4514_string(),
        "issuer": leaf.issuer.rfc4514_string(),
        "serial": serial_hex(_cert_inspect.serial_number(leaf)),
        "not_before": iso_utc(_not_before(leaf)),
        "not_after": iso_utc(_not_after(leaf)),
        "days_remaining": days_between(now, _not_after(leaf)),
        "sans": list(dns_names or []) + [str(ip) for ip in (ips or [])],
        "sha256_fingerprint": cert_fingerprint(leaf),
        "key_type": key_type,
        "key_size": key_size,
        "chain_length": chain_length,
        "signature_hash": signature_hash_name(leaf),
        "signature_algorithm": signature_algorithm_name(leaf),
    }


def check_validity(cert, label, now, *, min_days_valid=0, warn_days=30, warnings=None):
    problems = []
    not_before, not_after = _not_before(cert), _not_after(cert)
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
            f"{label}: the certificate expired on {iso_utc(not_after)} ({_plural(ago, 'day')} ago); renew it.",
        ))
        return problems
    remaining = not_after - now
    days = days_between(now, not_after)
    if min_days_valid and remaining < datetime.timedelta(days=min_days_valid):
        problems.append(Problem(
            "expires_soon",
            f"{label}: the certificate expires on {iso_utc(not_after)}, in {_plural(days, 'day')}, fewer than "
            f"min_days_valid={min_days_valid}; renew it.",
        ))
    elif warnings is not None and warn_days and remaining < datetime.timedelta(days=warn_days):
        warnings.append(f"{label}: the certificate expires on {iso_utc(not_after)}, in {_plural(days, 'day')} "
                        f"(warn_days={warn_days}); renew it soon.")
    return problems


def check_leaf(leaf, label, server_name, min_rsa_bits=2048, warnings=None):
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
        if now > _not_after(ca):
            problems.append(Problem(
                "client_ca_expired",
                f"{name} expired on {iso_utc(_not_after(ca))}; client certificates can no longer be verified "
                f"with it. Get the current CA from the vendor.",
            ))
        elif now < _not_before(ca):
            problems.append(Problem(
                "client_ca_not_yet_valid",
                f"{name} is not valid before {iso_utc(_not_before(ca))}.",
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
            "not_after": iso_utc(_not_after(ca)),
            "sha256_fingerprint": cert_fingerprint(ca),
        }
        for ca in cas
    ]


# ---------------------------------------------------------------------------
# server chain verification (cryptography.x509.verification)
# ---------------------------------------------------------------------------

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


# ---------------------------------------------------------------------------
# entry points
# ---------------------------------------------------------------------------

def _as_source(value, option, kind, problems, allow_zip=False):
    """Accept a PemSource or raw bytes/str content; None stays None."""
    if value is None or isinstance(value, PemSource):
        return value
    source, found = load_pem_input(option, content=value, kind=kind, allow_zip=allow_zip, content_option=option)
    problems.extend(found)
    return source


def _read_certificates(source, kind, problems, warnings=None):
    """Parse the certificates of a PEM input, adding its problems to ``problems``.

    Returns the certificates and the input's text, or None for the text when the file also holds a
    private key: such a file's text is never returned.
    """
    found = check_pem_text(source, kind)
    problems.extend(found)
    if found:
        return [], None
    certs, found = parse_certificates(source, kind, warnings)
    problems.extend(found)
    if any(p.code == "private_key_in_file" for p in found):
        return certs, None
    return certs, source.text()


def _internal_error(exc):
    # The exception's text is left out: it may quote the input, and the input may be a private key.
    return Problem(
        "internal_error",
        f"cert_check stopped at an input it does not handle ({exc.__class__.__name__}); the checks after that "
        f"point did not run. This is a bug in cert_check: please report it, with the certificates (never the "
        f"private key).",
    )


def _guarded(run, warnings):
    """``run(facts, problems)``, turned into ``(facts, problems)`` whatever the input.

    An exception becomes the problem ``internal_error`` after the problems found so far, and a
    Python warning (printed to stderr, where ansible-core complains that the worker process
    "errantly sent data directly to stderr") becomes a warning of the module.
    """
    facts, problems = {}, []
    with py_warnings.catch_warnings(record=True) as caught:
        py_warnings.simplefilter("always")
        try:
            run(facts, problems)
        except Exception as exc:
            problems.append(_internal_error(exc))
    if warnings is not None:
        for message in dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught):
            warnings.append(f"cert_check: {message}")
    return facts, problems


def check_bundle(certificate, private_key, client_ca, server_name, *, private_key_passphrase=None,
                 client_ca_sha256=None, min_days_valid=0, warn_days=30, min_rsa_bits=2048,
                 server_ca_certs=None, server_ca_label="server_ca", now=None, warnings=None,
                 input_problems=None):
    """Check a server certificate (chain), its key and the client CA bundle.

    ``certificate``, ``private_key``, ``client_ca``: :class:`PemSource` (from
    :func:`load_pem_input`) or PEM bytes/str. ``private_key`` may be None: the key
    checks are then skipped (a passphrase without a key is a problem of its own).
    ``server_ca_certs``: trust anchors (list of ``x509.Certificate``) to verify the
    server chain against, or None to skip.
    Warnings (expiry within ``warn_days``, unused passphrase) are appended to the
    ``warnings`` list when one is given. ``input_problems`` maps ``certificate`` /
    ``private_key`` / ``client_ca`` / ``server_ca`` to problems found while loading
    that input, so that the report lists problems input by input.

    Returns ``(facts, problems)``: ``facts`` holds the module's return values (the
    parts that could be computed), ``problems`` a list of :class:`Problem`; no input
    makes it raise.
    """
    def run(facts, problems):
        _check_bundle(facts, problems, certificate=certificate, private_key=private_key, client_ca=client_ca,
                      server_name=server_name, private_key_passphrase=private_key_passphrase,
                      client_ca_sha256=client_ca_sha256, min_days_valid=min_days_valid, warn_days=warn_days,
                      min_rsa_bits=min_rsa_bits, server_ca_certs=server_ca_certs, server_ca_label=server_ca_label,
                      now=now, warnings=warnings, input_problems=input_problems)
    return _guarded(run, warnings)


def _check_bundle(facts, problems, *, certificate, private_key, client_ca, server_name, private_key_passphrase,
                  client_ca_sha256, min_days_valid, warn_days, min_rsa_bits, server_ca_certs, server_ca_label, now,
                  warnings, input_problems):
    now = now or utcnow()
    input_problems = input_problems or {}
    problems.extend(input_problems.get("certificate", []))
    cert_src = _as_source(certificate, "certificate", "certificate", problems)
    key_src = _as_source(private_key, "private_key", "private key", problems)
    ca_src = _as_source(client_ca, "client_ca", "CA certificate bundle", problems)

    # server certificate (chain)
    chain = []
    if cert_src is not None:
        chain, text = _read_certificates(cert_src, "certificate", problems, warnings)
        if text is not None:
            facts["certificate_pem"] = text
    leaf = None
    if chain:
        # chain first: when the file is merely out of order, the leaf checks run on the real leaf
        # so that the one cause ("chain_order") is not buried under follow-up errors
        found, leaf_index = check_chain(chain, cert_src.label)
        leaf = chain[leaf_index]
        facts["certificate"] = certificate_facts(leaf, len(chain), now)
        problems.extend(check_validity(leaf, cert_src.label, now, min_days_valid=min_days_valid,
                                       warn_days=warn_days, warnings=warnings))
        problems.extend(check_leaf(leaf, cert_src.label, server_name, min_rsa_bits, warnings))
        problems.extend(found)
        for number, cert in enumerate(chain, 1):
            if cert is not leaf and now > _not_after(cert):
                problems.append(Problem(
                    "chain_expired",
                    f"{cert_src.label}: chain certificate #{number} ({describe_cert(cert)}) expired on "
                    f"{iso_utc(_not_after(cert))}; get the current intermediate from the certificate vendor.",
                ))

    # private key (optional: without one, the key checks are skipped)
    problems.extend(input_problems.get("private_key", []))
    if private_key is None and not input_problems.get("private_key") and private_key_passphrase:
        # A passphrase shows the caller meant to check a key: say so rather than skip the check silently.
        problems.append(Problem(
            "passphrase_without_key",
            "private_key_passphrase is set but no private key is given (private_key or private_key_content); "
            "give the key to check it against the certificate, or leave out the passphrase.",
        ))
    key = None
    if key_src is not None:
        found = check_pem_text(key_src, "private key")
        problems.extend(found)
        if not found:
            key, encrypted, found = load_private_key(key_src, private_key_passphrase, warnings)
            problems.extend(found)
            facts["private_key_encrypted"] = encrypted
    if key is not None:
        if isinstance(key, dsa.DSAPrivateKey) and not (leaf and _cert_keys.certificate_key_type(leaf)[0] == "DSA"):
            problems.append(Problem("dsa_key", f"{key_src.label} is a DSA key; TLS clients no longer accept DSA. "
                                               f"Use RSA (2048+ bits) or ECDSA."))
        if leaf is not None:
            problems.extend(check_key_match(leaf, key, cert_src.label, key_src.label))

    # client CA bundle
    problems.extend(input_problems.get("client_ca", []))
    cas = []
    if ca_src is not None:
        cas, text = _read_certificates(ca_src, "CA certificate bundle", problems, warnings)
        if text is not None:
            facts["client_ca_pem"] = text
    if cas:
        facts["client_cas"] = client_ca_facts(cas)
        problems.extend(check_client_cas(cas, ca_src.label, now, warnings))
        if client_ca_sha256:
            problems.extend(check_pins(cas, client_ca_sha256, ca_src.label))

    # server chain against a CA
    problems.extend(input_problems.get("server_ca", []))
    facts["server_chain_verified"] = False
    # a name that cannot be converted was reported by check_leaf; verifying with it would only fail again
    if server_ca_certs is not None and leaf is not None and not _server_names.missing_idna_message(server_name):
        ordered = [leaf] + [c for c in chain if c is not leaf]
        found = verify_server_chain(ordered, server_ca_certs, server_name, now, label=cert_src.label,
                                    ca_label=server_ca_label)
        problems.extend(found)
        facts["server_chain_verified"] = not found


PARAM_DEFAULTS = {
    "certificate": None,
    "certificate_content": None,
    "private_key": None,
    "private_key_content": None,
    "private_key_passphrase": None,
    "client_ca": None,
    "client_ca_content": None,
    "server_name": None,
    "client_ca_sha256": None,
    "min_days_valid": 0,
    "warn_days": 30,
    "min_rsa_bits": 2048,
    "server_ca": None,
    "server_ca_content": None,
}


def check_params(params, warnings=None, now=None, basedir=None, reader=read_file):
    """Run every check from module-style ``params`` (paths or contents); returns ``(facts, problems)``.

    Relative paths are read from ``basedir`` when given, else from the working directory; every
    file is read with ``reader`` (see :func:`read_file`). No input makes it raise.
    """
    def run(facts, problems):
        _check_params(facts, problems, params, warnings=warnings, now=now, basedir=basedir, reader=reader)
    return _guarded(run, warnings)


def _check_params(facts, problems, params, *, warnings, now, basedir, reader):
    p = dict(PARAM_DEFAULTS)
    p.update(params)
    loading = {}
    cert_src, loading["certificate"] = load_pem_input(
        "certificate", p["certificate"], p["certificate_content"], "certificate", basedir=basedir, reader=reader)
    key_src = None
    # The key is optional: an audit checks deployed certificates without ever fetching their key.
    if p["private_key"] is not None or p["private_key_content"] is not None:
        key_src, loading["private_key"] = load_pem_input(
            "private_key", p["private_key"], p["private_key_content"], "private key", basedir=basedir, reader=reader)
    ca_src, loading["client_ca"] = load_pem_input(
        "client_ca", p["client_ca"], p["client_ca_content"], "CA certificate bundle", allow_zip=True,
        basedir=basedir, reader=reader)
    anchors, anchors_label = None, "server_ca"
    if p["server_ca"] is not None or p["server_ca_content"] is not None:
        anchors, anchors_label, loading["server_ca"] = load_server_ca(
            p["server_ca"], p["server_ca_content"], basedir=basedir, reader=reader, warnings=warnings)
        if loading["server_ca"] or not anchors:
            anchors = None
    _check_bundle(
        facts, problems, certificate=cert_src, private_key=key_src, client_ca=ca_src, server_name=p["server_name"],
        private_key_passphrase=p["private_key_passphrase"],
        client_ca_sha256=p["client_ca_sha256"],
        min_days_valid=p["min_days_valid"] or 0,
        warn_days=p["warn_days"] or 0,
        min_rsa_bits=p["min_rsa_bits"],
        server_ca_certs=anchors,
        server_ca_label=anchors_label,
        now=now,
        warnings=warnings,
        input_problems=loading,
    )


def summarize(problems):
    """One ``msg`` for all problems."""
    if not problems:
        return "certificate, private key and client CA look good"
    if len(problems) == 1:
        return f"cert_check found a problem: {problems[0].message}"
    numbered = " ".join(f"({i}) {p.message}" for i, p in enumerate(problems, 1))
    return f"cert_check found {len(problems)} problems: {numbered}"
