# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading one input of cert_check, before anything is parsed: a file, an inline content or a ZIP
archive, and the checks of its bytes (empty, too large, DER, bare base64, not PEM).

Kept apart from the parsing (``_cert_parse``): this part only decides whether the bytes can be
PEM at all and names the input in messages, through :class:`PemSource`, for everything after it.
"""

from __future__ import absolute_import, division, print_function  # noqa: UP010

__metaclass__ = type  # noqa: UP001

import binascii
import io
import os
import re
import zipfile

from ansible_collections.chat_callback.mtls.plugins.module_utils import _cert_inspect
from ansible_collections.chat_callback.mtls.plugins.module_utils._cert_common import Problem

#: Largest accepted input (file or content), in bytes.
MAX_INPUT_SIZE = 1024 * 1024

#: Member names taken from a client CA ZIP archive.
ZIP_CERT_SUFFIXES = (".crt", ".pem", ".cer")

_PEM_BEGIN_RE = re.compile(br"-----BEGIN [A-Z0-9 ]+-----")


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
