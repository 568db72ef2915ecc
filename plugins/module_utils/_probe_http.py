# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The HTTP side of ``tls_probe`` (private): one ``GET`` over the TLS stream, its status, header and body.

Standard library only: ``tls_probe`` runs on any web host with a plain ``python3``.
"""

from __future__ import absolute_import, division, print_function  # noqa: UP010

__metaclass__ = type  # noqa: UP001

import codecs
import http.client
import re
import ssl

from ansible_collections.chat_callback.mtls.plugins.module_utils._probe_tls import stream_error

USER_AGENT = "chat_callback.mtls.tls_probe"


def host_header(server_name, port):
    """The ``Host`` header for server_name (its A-label) and port, as HTTP clients write it."""
    try:
        name = server_name.encode("ascii").decode("ascii")
    except UnicodeError:
        name = server_name.encode("idna").decode("ascii")  # same A-label the SNI uses
    if ":" in name:
        name = f"[{name}]"  # IPv6 literal
    return name if port == 443 else f"{name}:{port}"


def _decode(body, content_type):
    """Decode with the charset from Content-Type (UTF-8 if none or unknown), replacing bad bytes."""
    match = re.search(r"charset\s*=\s*\"?([A-Za-z0-9._:-]+)", content_type or "", re.IGNORECASE)
    if match:
        try:
            return body.decode(codecs.lookup(match.group(1)).name, "replace")
        except (LookupError, TypeError, ValueError):
            pass  # unknown charset or not a text encoding (e.g. rot13)
    return body.decode("utf-8", "replace")


def _read_body(response, max_body):
    """Read at most max_body bytes of the body; return (bytes, error text or "")."""
    chunks = []
    remaining = max_body
    read = getattr(response, "read1", None) or response.read
    try:
        while remaining > 0:
            chunk = read(remaining)
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return b"".join(chunks), stream_error("reading the response body", exc)
    return b"".join(chunks), ""


def build_request(path, host, headers):
    """The bytes of the ``GET`` request for path, with the ``Host`` header host and the extra headers."""
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    return (
        f"GET {path} HTTP/1.1\r\n"
        f"Host: {host}\r\n"
        f"User-Agent: {USER_AGENT}\r\n"
        "Accept: */*\r\n"
        f"{extra}"
        "Connection: close\r\n"
        "\r\n"
    ).encode("ascii")


def http_exchange(tls_sock, request, max_body, result):
    """Send request and read the response into result's ``status``, ``server_header``, ``body`` and ``error``."""
    send_error = None
    try:
        tls_sock.sendall(request)
    except OSError as exc:
        # The server may already have sent an alert and closed; the read below usually tells why.
        send_error = exc

    response = http.client.HTTPResponse(tls_sock, method="GET")
    try:
        response.begin()
    except (OSError, http.client.HTTPException) as exc:
        if send_error is not None and not isinstance(exc, ssl.SSLError):
            result["error"] = stream_error("sending the request", send_error)
        else:
            result["error"] = stream_error("reading the response", exc)
        return
    try:
        result["status"] = response.status
        result["server_header"] = response.getheader("Server")
        body, error = _read_body(response, max_body)
        result["body"] = _decode(body, response.getheader("Content-Type"))
        result["error"] = error
    finally:
        response.close()
