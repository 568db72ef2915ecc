# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The TLS side of ``tls_probe`` (private): client context, connection, handshake, served certificate.

Standard library only: ``tls_probe`` runs on any web host with a plain ``python3``.
"""

from __future__ import absolute_import, division, print_function  # noqa: UP010

__metaclass__ = type  # noqa: UP001

import contextlib
import http.client
import socket
import ssl
import warnings

from ansible_collections.chat_callback.mtls.plugins.module_utils.fingerprint import sha256_fingerprint

TLS_VERSIONS = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"]
LEGACY_VERSIONS = ("TLSv1", "TLSv1.1")
LEGACY_CIPHERS = "DEFAULT:@SECLEVEL=0"


class ProbeParameterError(Exception):
    """Invalid parameters or unusable client certificate/key: the only cases in which the module fails."""


def _tls_version(name):
    attr = {"TLSv1": "TLSv1", "TLSv1.1": "TLSv1_1", "TLSv1.2": "TLSv1_2", "TLSv1.3": "TLSv1_3"}[name]
    return getattr(ssl.TLSVersion, attr)


def _read_pem(option, path, what, markers):
    """Read a PEM file, failing with a message that names the file (and never echoes its content)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ProbeParameterError(f"cannot read {option} file {path}: {exc.strerror or exc}") from exc
    if not any(marker in data for marker in markers):
        raise ProbeParameterError(f"{option} file {path} does not contain a PEM {what}")
    return data


def _no_passphrase():
    raise ProbeParameterError("encrypted")


def _load_client_cert(context, client_cert, client_key):
    _read_pem("client_cert", client_cert, "certificate", [b"-----BEGIN CERTIFICATE-----"])
    key = _read_pem("client_key", client_key, "private key", [b"PRIVATE KEY-----"])
    if b"-----BEGIN ENCRYPTED PRIVATE KEY-----" in key or b"Proc-Type: 4,ENCRYPTED" in key:
        raise ProbeParameterError(f"client_key file {client_key} is encrypted; only unencrypted keys are supported")
    try:
        context.load_cert_chain(client_cert, client_key, password=_no_passphrase)
    except ProbeParameterError as exc:
        raise ProbeParameterError(
            f"client_key file {client_key} is encrypted; only unencrypted keys are supported"
        ) from exc
    except ssl.SSLError as exc:
        if "KEY_VALUES_MISMATCH" in str(exc) or "key values mismatch" in str(exc):
            msg = f"client_key file {client_key} does not belong to client_cert file {client_cert}"
        else:
            msg = f"cannot load client_cert file {client_cert} with client_key file {client_key}: {exc}"
        raise ProbeParameterError(msg) from exc


def build_context(client_cert=None, client_key=None, tls_version_min=None, tls_version_max=None, ciphers=None):
    """Return the client SSLContext for the probe. Raises ProbeParameterError for bad parameters."""
    if bool(client_cert) != bool(client_key):
        raise ProbeParameterError("client_cert and client_key must be given together")
    for option, value in (("tls_version_min", tls_version_min), ("tls_version_max", tls_version_max)):
        if value is not None and value not in TLS_VERSIONS:
            raise ProbeParameterError(f"{option} must be one of {', '.join(TLS_VERSIONS)}, got {value}")
    if tls_version_min and tls_version_max and TLS_VERSIONS.index(tls_version_min) > TLS_VERSIONS.index(
        tls_version_max
    ):
        raise ProbeParameterError(
            f"tls_version_min ({tls_version_min}) must not be higher than tls_version_max ({tls_version_max})"
        )

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # The caller compares fingerprints; any certificate the server presents is accepted here.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        # Python 3.10+ warns that TLS 1.0/1.1 are deprecated; testing them is the point.
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            if tls_version_min:
                context.minimum_version = _tls_version(tls_version_min)
            if tls_version_max:
                context.maximum_version = _tls_version(tls_version_max)
        except (ValueError, ssl.SSLError) as exc:
            raise ProbeParameterError(f"this Python/OpenSSL cannot restrict the TLS versions as asked: {exc}") from exc

    if not ciphers and tls_version_max in LEGACY_VERSIONS:
        ciphers = LEGACY_CIPHERS
    if ciphers:
        try:
            context.set_ciphers(ciphers)
        except ssl.SSLError as exc:
            raise ProbeParameterError(f"invalid ciphers {ciphers!r}: {exc}") from exc

    if client_cert:
        _load_client_cert(context, client_cert, client_key)
    return context


def _connect_error(exc, host, port):
    where = f"{host}:{port}"
    if isinstance(exc, ConnectionRefusedError):
        return f"connection refused by {where}"
    if isinstance(exc, socket.timeout):
        return f"timed out connecting to {where}"
    if isinstance(exc, socket.gaierror):
        return f"cannot resolve {host}: {exc.strerror or exc}"
    return f"cannot connect to {where}: {exc.strerror or exc}"


def stream_error(what, exc):
    """The ``error`` text for a failure of the handshake or of the HTTP exchange on the TLS stream."""
    if isinstance(exc, ssl.SSLError):
        return str(exc)  # "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] ..." — the text the caller asserts on
    if isinstance(exc, socket.timeout):
        return f"timed out {what}"
    if isinstance(exc, http.client.RemoteDisconnected):
        return f"no HTTP response: {exc}"
    if isinstance(exc, http.client.HTTPException):
        return f"no valid HTTP response: {exc.__class__.__name__}: {exc}"
    return f"{what} failed: {getattr(exc, 'strerror', None) or exc}"


@contextlib.contextmanager
def tls_connection(context, host, port, server_name, *, timeout, result):
    """Connect to host:port and do the handshake with server_name as SNI; close the connection on exit.

    Yields the TLS socket, with ``tls_established``, ``protocol``, ``cipher`` and ``sha256_fingerprint``
    set in result, or None when the connection or the handshake failed (``error`` in result tells why).
    """
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        result["error"] = _connect_error(exc, host, port)
        yield None
        return

    try:
        try:
            tls_sock = context.wrap_socket(sock, server_hostname=server_name)
        except (OSError, ValueError) as exc:
            result["error"] = stream_error("during the TLS handshake", exc)
            tls_sock = None
        if tls_sock is not None:
            sock = tls_sock  # closed below; wrap_socket detached the original
            result["tls_established"] = True
            result["protocol"] = tls_sock.version()
            cipher = tls_sock.cipher()
            result["cipher"] = cipher[0] if cipher else None
            der = tls_sock.getpeercert(binary_form=True)
            result["sha256_fingerprint"] = sha256_fingerprint(der) if der else None
        yield tls_sock
    finally:
        sock.close()
