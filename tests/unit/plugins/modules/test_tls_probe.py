# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of ``chat_callback.mtls.tls_probe`` against real TLS servers on 127.0.0.1.

``MiniTLSServer`` mimics nginx with ``ssl_verify_client on`` as far as the client can see it:
no client certificate -> handshake completes, then HTTP 400 "No required SSL certificate was
sent"; a client certificate from the configured CA -> HTTP 200. Unlike nginx, Python's ``ssl``
cannot complete a handshake with an unverifiable client certificate, so a certificate from
another CA gets a TLS alert (unknown_ca): during the handshake with TLS 1.2, on the first
read with TLS 1.3. The tests pin both outcomes.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import re
import socket
import ssl
import threading
import warnings
from types import SimpleNamespace
from unittest import mock

import pki
import pytest
import yaml
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args
from ansible_collections.chat_callback.mtls.plugins.module_utils import _sockets
from ansible_collections.chat_callback.mtls.plugins.module_utils.fingerprint import sha256_fingerprint
from ansible_collections.chat_callback.mtls.plugins.modules import tls_probe

SERVER_NAME = "www.example.com"
CLIENT_CN = "tencent-chat-callback-client"
NGINX_400_NO_CERT = (
    "<html>\r\n<head><title>400 No required SSL certificate was sent</title></head>\r\n<body>\r\n"
    "<center><h1>400 Bad Request</h1></center>\r\n<center>No required SSL certificate was sent</center>\r\n"
    "<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
)
FINGERPRINT_RE = re.compile(r"^([0-9A-F]{2}:){31}[0-9A-F]{2}$")


# --------------------------------------------------------------------------- test PKI


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory):
    """Server chain/key, trusted client CA with a client, and a rogue CA with a client (EC keys: fast)."""
    out = tmp_path_factory.mktemp("tls_probe_pki")
    server_ca = pki.make_ca("tls_probe Test Server CA", key_type="ec")
    server = pki.make_leaf(server_ca, SERVER_NAME, sans=[SERVER_NAME], key_type="ec")
    client_ca = pki.make_ca("tls_probe Test Client CA", key_type="ec")
    client = pki.make_leaf(client_ca, CLIENT_CN, key_type="ec", eku=("clientAuth",))
    rogue_ca = pki.make_ca("tls_probe Rogue Client CA", key_type="ec")
    rogue = pki.make_leaf(rogue_ca, "rogue-client", key_type="ec", eku=("clientAuth",))

    def write(name, data, mode=0o644):
        path = out / name
        path.write_bytes(data)
        path.chmod(mode)
        return str(path)

    return SimpleNamespace(
        server_der=server.cert_der(),
        server_chain=write("server.crt", server.cert_pem() + server_ca.cert_pem()),
        server_key=write("server.key", server.key_pem(), 0o600),
        client_ca=write("client-ca.crt", client_ca.cert_pem()),
        client_cert=write("client.crt", client.cert_pem()),
        client_key=write("client.key", client.key_pem(), 0o600),
        client_key_encrypted=write("client-enc.key", client.key_pem(passphrase=b"secret"), 0o600),
        rogue_cert=write("rogue.crt", rogue.cert_pem()),
        rogue_key=write("rogue.key", rogue.key_pem(), 0o600),
        missing=str(out / "does-not-exist.key"),
    )


# --------------------------------------------------------------------------- test server


class MiniTLSServer:
    """Threaded TLS server on 127.0.0.1 that answers one HTTP/1.1 request per connection like nginx.

    Every connection, successful or not, is recorded in ``self.connections`` (a queue of dicts with
    ``sni``, ``protocol``, ``client_cn``, ``request_line``, ``headers``, ``error``).
    Paths: ``/big`` (10000 bytes body), ``/chunked`` (chunked encoding), ``/close`` (closes without
    answering); everything else echoes client CN, path and Host.
    """

    def __init__(self, chain, key, *, client_ca=None, min_version=None, max_version=None, ciphers=None,
                 address=("127.0.0.1", 0)):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            if min_version is not None:
                ctx.minimum_version = min_version
            if max_version is not None:
                ctx.maximum_version = max_version
        if ciphers:
            ctx.set_ciphers(ciphers)
        ctx.load_cert_chain(chain, key)
        if client_ca:
            ctx.load_verify_locations(client_ca)
            ctx.verify_mode = ssl.CERT_OPTIONAL  # nginx "ssl_verify_client on" answers 400 itself
        ctx.sni_callback = self._sni
        # No TLS 1.3 session tickets: the server's handshake then ends with reading the client's Finished, so
        # a client that closes right after the handshake (http: false) does not turn it into a write error.
        ctx.num_tickets = 0
        self.context = ctx
        self.connections = queue.Queue()
        self._active = 0
        self._idle = threading.Condition()
        self._stop = threading.Event()
        self._sock = socket.create_server(address)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @staticmethod
    def _sni(ssl_sock, server_name, _ctx):
        ssl_sock.sni_seen = server_name

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _peer = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with self._idle:
                self._active += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn):
        try:
            self._handle_connection(conn)
        finally:
            with self._idle:
                self._active -= 1
                self._idle.notify_all()

    def _handle_connection(self, conn):
        record = {"sni": None, "protocol": None, "client_cn": None, "request_line": None, "headers": {}, "error": None}
        conn.settimeout(5)
        try:
            tls = self.context.wrap_socket(conn, server_side=True)
        except (OSError, ValueError) as exc:
            record["error"] = str(exc)
            conn.close()
            self.connections.put(record)
            return
        try:
            record["sni"] = getattr(tls, "sni_seen", None)
            record["protocol"] = tls.version()
            peer = tls.getpeercert() or {}
            for rdn in peer.get("subject", ()):
                for key, value in rdn:
                    if key == "commonName":
                        record["client_cn"] = value
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = tls.recv(4096)
                if not chunk:
                    break
                data += chunk
            if b"\r\n\r\n" in data:
                head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
                record["request_line"] = head[0]
                record["headers"] = dict(line.split(": ", 1) for line in head[1:])
                self._respond(tls, record)
        except OSError as exc:
            record["error"] = str(exc)
        finally:
            tls.close()
            self.connections.put(record)

    @staticmethod
    def _respond(tls, record):
        path = record["request_line"].split(" ")[1]
        if path == "/close":
            return
        headers = "Server: nginx\r\nContent-Type: text/html\r\nConnection: close\r\n"
        if record["client_cn"] is None:
            status, body = "400 Bad Request", NGINX_400_NO_CERT.encode()
        elif path == "/big":
            status, body = "200 OK", b"x" * 10000
        elif path == "/chunked":
            payload = "chunk-one|chunk-two|caf\u00e9".encode("iso-8859-1")
            body = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in (payload[:10], payload[10:])) + b"0\r\n\r\n"
            tls.sendall(
                b"HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/plain; charset=ISO-8859-1\r\n"
                b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + body
            )
            return
        else:
            status = "200 OK"
            body = f"hello {record['client_cn']}\npath={path}\nhost={record['headers'].get('Host')}\n".encode()
        tls.sendall(f"HTTP/1.1 {status}\r\n{headers}Content-Length: {len(body)}\r\n\r\n".encode() + body)

    def next_connection(self, timeout=5):
        return self.connections.get(timeout=timeout)

    def drain(self):
        """Forget the records of earlier tests' connections (waiting for those still being handled)."""
        with self._idle:
            self._idle.wait_for(lambda: self._active == 0, timeout=5)
        while True:
            try:
                self.connections.get_nowait()
            except queue.Empty:
                return

    def close(self):
        self._stop.set()
        self._sock.close()
        self._thread.join(5)


@pytest.fixture(scope="session")
def server(tls_files):
    """Like nginx with ssl_verify_client on: TLS 1.2-1.3, client certificate optional at TLS level."""
    srv = MiniTLSServer(tls_files.server_chain, tls_files.server_key, client_ca=tls_files.client_ca)
    yield srv
    srv.close()


@pytest.fixture(scope="session")
def server_tls12(tls_files):
    """Same, but limited to TLS 1.2."""
    srv = MiniTLSServer(
        tls_files.server_chain, tls_files.server_key, client_ca=tls_files.client_ca,
        max_version=ssl.TLSVersion.TLSv1_2,
    )
    yield srv
    srv.close()


@pytest.fixture(scope="session")
def server_legacy(tls_files):
    """Like the role's legacy profile: TLS 1.1 accepted (OpenSSL 3 needs security level 0 for it)."""
    try:
        srv = MiniTLSServer(
            tls_files.server_chain, tls_files.server_key, client_ca=tls_files.client_ca,
            min_version=ssl.TLSVersion.TLSv1_1, ciphers="DEFAULT:@SECLEVEL=0",
        )
    except (ssl.SSLError, ValueError) as exc:  # pragma: no cover - OpenSSL built without TLS 1.1
        pytest.skip(f"this OpenSSL cannot serve TLS 1.1: {exc}")
    yield srv
    srv.close()


@pytest.fixture
def closed_port():
    """A port that refuses connections: bound (so nobody else gets it) but not listening."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


@pytest.fixture
def silent_port():
    """A port that accepts TCP (kernel backlog) but never speaks TLS."""
    sock = socket.create_server(("127.0.0.1", 0))
    yield sock.getsockname()[1]
    sock.close()


def probe(srv_or_port, **kwargs):
    port = srv_or_port if isinstance(srv_or_port, int) else srv_or_port.port
    kwargs.setdefault("timeout", 5.0)
    return tls_probe.run_probe(SERVER_NAME, host="127.0.0.1", port=port, **kwargs)


def with_client(tls_files, **kwargs):
    return dict(client_cert=tls_files.client_cert, client_key=tls_files.client_key, **kwargs)


# --------------------------------------------------------------------------- handshake and certificate


def test_fingerprint_is_the_served_leaf(server, tls_files):
    server.drain()
    result = probe(server)
    assert result["tls_established"] is True
    assert result["error"] == ""
    assert FINGERPRINT_RE.match(result["sha256_fingerprint"])
    assert result["sha256_fingerprint"] == sha256_fingerprint(tls_files.server_der)
    independent = hashlib.sha256(tls_files.server_der).hexdigest().upper()
    assert result["sha256_fingerprint"].replace(":", "") == independent
    assert result["protocol"] == "TLSv1.3"
    assert result["cipher"].startswith("TLS_")
    seen = server.next_connection()
    assert seen["sni"] == SERVER_NAME
    assert seen["headers"]["Host"] == f"{SERVER_NAME}:{server.port}"
    assert seen["request_line"] == "GET / HTTP/1.1"


def test_result_has_exactly_the_documented_keys(server):
    result = probe(server, http=False)
    assert set(result) == {
        "tls_established", "error", "protocol", "cipher", "sha256_fingerprint", "status", "body", "server_header",
    }


def test_http_false_only_does_the_handshake(server, tls_files):
    server.drain()
    result = probe(server, http=False, client_cert=tls_files.client_cert, client_key=tls_files.client_key)
    assert result["tls_established"] is True
    assert result["sha256_fingerprint"] == sha256_fingerprint(tls_files.server_der)
    assert result["error"] == ""
    assert result["status"] is None
    assert result["body"] == ""
    assert result["server_header"] is None
    seen = server.next_connection()
    assert seen["client_cn"] == CLIENT_CN
    assert seen["request_line"] is None  # no request was sent


def test_tls12_server_reports_protocol_and_cipher(server_tls12, tls_files):
    result = probe(server_tls12, **with_client(tls_files))
    assert result["tls_established"] is True
    assert result["protocol"] == "TLSv1.2"
    assert result["cipher"].startswith("ECDHE-ECDSA-")
    assert result["status"] == 200


# --------------------------------------------------------------------------- mutual TLS outcomes


def test_without_client_cert_nginx_answers_400(server):
    result = probe(server)
    assert result["tls_established"] is True
    assert result["status"] == 400
    assert result["error"] == ""
    assert result["server_header"] == "nginx"
    assert "No required SSL certificate was sent" in result["body"]
    assert result["body"] == NGINX_400_NO_CERT


def test_with_client_cert_gets_200_and_body(server, tls_files):
    server.drain()
    result = probe(server, path="/callback?SdkAppid=1400000000", **with_client(tls_files))
    assert result["tls_established"] is True
    assert result["error"] == ""
    assert result["status"] == 200
    assert result["server_header"] == "nginx"
    assert result["body"] == (
        f"hello {CLIENT_CN}\npath=/callback?SdkAppid=1400000000\nhost={SERVER_NAME}:{server.port}\n"
    )
    assert server.next_connection()["client_cn"] == CLIENT_CN


def test_extra_headers_are_sent(server, tls_files):
    server.drain()
    result = probe(server, headers={"X-SSL-Client-Verify": "FORGED", "X-Trace": 7}, **with_client(tls_files))
    assert result["status"] == 200
    headers = server.next_connection()["headers"]
    assert headers["X-SSL-Client-Verify"] == "FORGED"
    assert headers["X-Trace"] == "7"


def test_client_cert_from_other_ca_tls13_alert_on_first_read(server, tls_files):
    """TLS 1.3: the client finishes the handshake; the server's unknown_ca alert comes with the first read."""
    result = probe(server, client_cert=tls_files.rogue_cert, client_key=tls_files.rogue_key)
    assert result["tls_established"] is True
    assert result["protocol"] == "TLSv1.3"
    assert result["sha256_fingerprint"] == sha256_fingerprint(tls_files.server_der)
    assert result["status"] is None
    assert "TLSV1_ALERT_UNKNOWN_CA" in result["error"]
    assert result["body"] == ""


def test_client_cert_from_other_ca_tls12_handshake_fails(server_tls12, tls_files):
    result = probe(server_tls12, client_cert=tls_files.rogue_cert, client_key=tls_files.rogue_key)
    assert result["tls_established"] is False
    assert "TLSV1_ALERT_UNKNOWN_CA" in result["error"]
    assert result["protocol"] is None
    assert result["cipher"] is None
    assert result["sha256_fingerprint"] is None
    assert result["status"] is None


# --------------------------------------------------------------------------- protocol versions


def test_client_min_tls13_against_tls12_server_fails(server_tls12):
    result = probe(server_tls12, tls_version_min="TLSv1.3")
    assert result["tls_established"] is False
    assert "PROTOCOL_VERSION" in result["error"]
    assert result["sha256_fingerprint"] is None
    assert result["status"] is None


def test_tls11_refused_by_default_profile(server):
    result = probe(server, tls_version_min="TLSv1.1", tls_version_max="TLSv1.1", http=False)
    assert result["tls_established"] is False
    assert "PROTOCOL_VERSION" in result["error"]


def test_tls11_accepted_by_legacy_profile(server_legacy, tls_files):
    result = probe(server_legacy, tls_version_min="TLSv1.1", tls_version_max="TLSv1.1", **with_client(tls_files))
    assert result["error"] == ""
    assert result["tls_established"] is True
    assert result["protocol"] == "TLSv1.1"
    assert result["sha256_fingerprint"] == sha256_fingerprint(tls_files.server_der)
    assert result["status"] == 200


def test_tls11_without_seclevel0_is_not_even_offered(server_legacy):
    """Why tls_version_max TLSv1/TLSv1.1 defaults the cipher string to DEFAULT:@SECLEVEL=0."""
    result = probe(server_legacy, tls_version_min="TLSv1.1", tls_version_max="TLSv1.1", ciphers="DEFAULT", http=False)
    assert result["tls_established"] is False
    assert result["error"]


def test_explicit_ciphers_are_used(server_tls12):
    result = probe(server_tls12, ciphers="ECDHE-ECDSA-AES128-GCM-SHA256", http=False)
    assert result["cipher"] == "ECDHE-ECDSA-AES128-GCM-SHA256"


# --------------------------------------------------------------------------- network and HTTP errors


def test_connection_refused_is_reported(closed_port):
    result = probe(closed_port)
    assert result["tls_established"] is False
    assert result["error"] == f"connection refused by 127.0.0.1:{closed_port}"
    assert result["sha256_fingerprint"] is None
    assert result["status"] is None


def test_handshake_timeout_is_reported(silent_port):
    result = probe(silent_port, timeout=0.3)
    assert result["tls_established"] is False
    assert "timed out" in result["error"]


def test_server_closing_without_response(server, tls_files):
    result = probe(server, path="/close", **with_client(tls_files))
    assert result["tls_established"] is True
    assert result["status"] is None
    assert result["error"].startswith("no HTTP response")


def test_body_is_truncated_to_max_body(server, tls_files):
    result = probe(server, path="/big", max_body=100, **with_client(tls_files))
    assert result["status"] == 200
    assert result["body"] == "x" * 100
    assert result["error"] == ""
    result = probe(server, path="/big", max_body=0, **with_client(tls_files))
    assert result["status"] == 200
    assert result["body"] == ""


def test_chunked_body_and_charset(server, tls_files):
    result = probe(server, path="/chunked", **with_client(tls_files))
    assert result["status"] == 200
    assert result["body"] == "chunk-one|chunk-two|caf\u00e9"


# --------------------------------------------------------------------------- parameter errors


def test_missing_client_key_is_a_failure(tls_files):
    with pytest.raises(tls_probe.ProbeParameterError, match=re.escape(tls_files.missing)) as excinfo:
        tls_probe.run_probe(SERVER_NAME, port=1, client_cert=tls_files.client_cert, client_key=tls_files.missing)
    assert "client_key" in str(excinfo.value)
    assert "No such file" in str(excinfo.value)


def test_key_not_matching_cert_is_a_failure(tls_files):
    with pytest.raises(tls_probe.ProbeParameterError, match="does not belong to client_cert"):
        tls_probe.run_probe(SERVER_NAME, port=1, client_cert=tls_files.client_cert, client_key=tls_files.rogue_key)


def test_encrypted_key_is_a_failure(tls_files):
    with pytest.raises(tls_probe.ProbeParameterError, match="is encrypted"):
        tls_probe.run_probe(
            SERVER_NAME, port=1, client_cert=tls_files.client_cert, client_key=tls_files.client_key_encrypted
        )


def test_cert_file_without_certificate_is_a_failure(tls_files):
    with pytest.raises(tls_probe.ProbeParameterError, match=r"client_cert file .* does not contain a PEM certificate"):
        tls_probe.run_probe(SERVER_NAME, port=1, client_cert=tls_files.client_key, client_key=tls_files.client_key)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tls_version_min": "TLSv1.3", "tls_version_max": "TLSv1.2"}, "must not be higher"),
        ({"tls_version_max": "SSLv3"}, "tls_version_max must be one of"),
        ({"path": "no-slash"}, "path must start with /"),
        ({"path": "/a b"}, "path must start with /"),
        ({"path": "/x\r\nX-Injected: 1"}, "path must start with /"),
        ({"ciphers": "NO-SUCH-CIPHER"}, "invalid ciphers"),
        ({"timeout": 0}, "timeout must be"),
        ({"max_body": -1}, "max_body must not be negative"),
        ({"port": 70000}, "port must be between"),
        ({"headers": {"X-A": "1\r\nX-Injected: 1"}}, "headers: 'X-A' must be"),
        ({"headers": {"Bad Name": "1"}}, "headers: 'Bad Name' must be"),
        ({"client_cert": "/x.crt"}, "must be given together"),
    ],
)
def test_bad_parameters(kwargs, message):
    with pytest.raises(tls_probe.ProbeParameterError, match=message):
        tls_probe.run_probe(SERVER_NAME, **kwargs)


# --------------------------------------------------------------------------- AnsibleModule wrapper


class AnsibleExitJson(Exception):
    pass


class AnsibleFailJson(Exception):
    pass


def _exit_json(self, **kwargs):
    raise AnsibleExitJson(kwargs)


def _fail_json(self, **kwargs):
    kwargs["failed"] = True
    raise AnsibleFailJson(kwargs)


def run_module(args):
    with mock.patch.multiple(basic.AnsibleModule, exit_json=_exit_json, fail_json=_fail_json), patch_module_args(args):
        tls_probe.main()
    raise AssertionError("module neither exited nor failed")  # pragma: no cover


def test_module_success_in_check_mode(server, tls_files):
    with pytest.raises(AnsibleExitJson) as excinfo:
        run_module({"server_name": SERVER_NAME, "port": server.port, "_ansible_check_mode": True})
    result = excinfo.value.args[0]
    assert result["changed"] is False
    assert result["tls_established"] is True
    assert result["status"] == 400
    assert result["sha256_fingerprint"] == sha256_fingerprint(tls_files.server_der)
    json.dumps(result)  # plain JSON types only


def test_module_with_client_cert_never_returns_key(server, tls_files):
    with pytest.raises(AnsibleExitJson) as excinfo:
        run_module({"server_name": SERVER_NAME, "port": server.port, **with_client(tls_files)})
    result = excinfo.value.args[0]
    assert result["status"] == 200
    assert "PRIVATE KEY" not in json.dumps(result)


def test_module_refused_handshake_is_not_a_failure(closed_port):
    with pytest.raises(AnsibleExitJson) as excinfo:
        run_module({"server_name": SERVER_NAME, "port": closed_port})
    assert excinfo.value.args[0]["tls_established"] is False
    assert "failed" not in excinfo.value.args[0]


def test_module_fails_for_missing_client_key(tls_files):
    with pytest.raises(AnsibleFailJson) as excinfo:
        run_module({"server_name": SERVER_NAME, "client_cert": tls_files.client_cert, "client_key": tls_files.missing})
    result = excinfo.value.args[0]
    assert result["failed"] is True
    assert result["changed"] is False
    assert f"cannot read client_key file {tls_files.missing}" in result["msg"]


def test_module_requires_cert_and_key_together(tls_files):
    with pytest.raises(AnsibleFailJson) as excinfo:
        run_module({"server_name": SERVER_NAME, "client_cert": tls_files.client_cert})
    assert "client_cert" in excinfo.value.args[0]["msg"]
    assert "client_key" in excinfo.value.args[0]["msg"]


def test_module_rejects_unknown_tls_version():
    with pytest.raises(AnsibleFailJson) as excinfo:
        run_module({"server_name": SERVER_NAME, "tls_version_min": "SSLv3"})
    assert "tls_version_min" in excinfo.value.args[0]["msg"]


def test_documentation_matches_argument_spec():
    doc = yaml.safe_load(tls_probe.DOCUMENTATION)
    returns = yaml.safe_load(tls_probe.RETURN)
    assert isinstance(yaml.safe_load(tls_probe.EXAMPLES), list)
    module_spec = dict(tls_probe.ARGUMENT_SPEC, **tls_probe.ADDRESSES_SPEC, **tls_probe.EXPECT_SPEC)
    assert set(doc["options"]) == set(module_spec)
    for name, spec in module_spec.items():
        documented = doc["options"][name]
        assert documented["type"] == spec["type"], name
        assert documented.get("default") == spec.get("default"), name
        assert documented.get("choices") == spec.get("choices"), name
        assert documented.get("required", False) == spec.get("required", False), name
    assert set(returns) == {
        "tls_established", "error", "protocol", "cipher", "sha256_fingerprint", "status", "body", "server_header",
        "expectation_failed", "addresses", "port_held_by_another",
    }


def test_a_port_another_program_holds_is_said_first():
    """Not "no TLS handshake (WRONG_VERSION_NUMBER)": who holds the port (#22)."""
    plain = socket.socket()
    plain.bind(("127.0.0.1", 0))
    plain.listen(1)
    closed_port = plain.getsockname()[1]
    try:
        with pytest.raises(AnsibleFailJson) as excinfo:
            run_module({"server_name": SERVER_NAME, "port": closed_port, "expect_status": 400, "timeout": 1})
    finally:
        plain.close()
    result = excinfo.value.args[0]
    assert result["port_held_by_another"] is True
    assert re.match(rf"port {closed_port} is held by another program: \S+ \(pid {os.getpid()}\) on 127\.0\.0\.1; "
                    rf"nginx cannot listen there\. 127\.0\.0\.1:{closed_port} \(SNI ", result["msg"]), result["msg"]


def test_listeners_reads_proc_for_both_families():
    sockets = [socket.socket(family) for family in (socket.AF_INET, socket.AF_INET6)]
    try:
        sockets[0].bind(("127.0.0.1", 0))
        port = sockets[0].getsockname()[1]
        sockets[1].bind(("::1", port))
        for s in sockets:
            s.listen(1)
        found = _sockets.listeners(port)
    finally:
        for s in sockets:
            s.close()
    assert [(s["address"], s["pid"]) for s in found] == [("127.0.0.1", os.getpid()), ("::1", os.getpid())]
    assert _sockets.held_by_another(port) == ""  # nobody listens any more


def test_module_met_expectations_pass(server, tls_files):
    expected = sha256_fingerprint(tls_files.server_der).replace(":", "").lower()  # any spelling
    with pytest.raises(AnsibleExitJson) as excinfo:
        run_module({"server_name": SERVER_NAME, "port": server.port,
                    "expect_sha256_fingerprint": expected, "expect_status": 400})
    assert excinfo.value.args[0]["expectation_failed"] is False


@pytest.fixture
def served_by_nginx(monkeypatch):
    """The stand-in TLS servers are this Python process: as if nginx held their port."""
    monkeypatch.setattr(tls_probe, "held_by_another", lambda port: "")


@pytest.mark.usefixtures("served_by_nginx")
def test_module_unmet_expectations_fail_with_both_reasons(server, tls_files):
    with pytest.raises(AnsibleFailJson) as excinfo:
        run_module({"server_name": SERVER_NAME, "port": server.port,
                    "expect_sha256_fingerprint": "AB:CD", "expect_status": 200})
    result = excinfo.value.args[0]
    assert result["expectation_failed"] is True
    assert result["msg"] == (
        f"127.0.0.1:{server.port} (SNI {SERVER_NAME}): serves certificate "
        f"{sha256_fingerprint(tls_files.server_der)}, expected AB:CD; HTTP status 400, expected 200"
    )
    assert result["status"] == 400


def test_module_expectation_on_refused_connection(closed_port):
    with pytest.raises(AnsibleFailJson) as excinfo:
        run_module({"server_name": SERVER_NAME, "port": closed_port, "expect_sha256_fingerprint": "AB:CD"})
    assert excinfo.value.args[0]["expectation_failed"] is True
    assert "no TLS handshake (connection refused" in excinfo.value.args[0]["msg"]


@pytest.fixture()
def shadowing_server(server, tls_files):
    """Another site on 127.0.0.2, same port: what a `listen <address>:443` block of another site does."""
    srv = MiniTLSServer(tls_files.rogue_cert, tls_files.rogue_key, address=("127.0.0.2", server.port))
    yield srv
    srv.close()


@pytest.mark.usefixtures("served_by_nginx")
def test_module_probes_every_address_and_names_the_one_that_serves_another_site(server, shadowing_server, tls_files):
    expected = sha256_fingerprint(tls_files.server_der)
    with pytest.raises(AnsibleFailJson) as excinfo:
        run_module({"server_name": SERVER_NAME, "port": server.port, "addresses": ["127.0.0.1", "127.0.0.2"],
                    "expect_sha256_fingerprint": expected, "expect_status": 400})
    result = excinfo.value.args[0]
    assert result["expectation_failed"] is True
    assert result["addresses"]["127.0.0.1"]["expectation_failed"] is False
    assert result["addresses"]["127.0.0.2"]["expectation_failed"] is True
    served = result["addresses"]["127.0.0.2"]["sha256_fingerprint"]
    assert served != expected
    assert result["msg"].startswith(f"127.0.0.2:{server.port} (SNI {SERVER_NAME}): serves certificate {served}, "
                                    f"expected {expected}")
    assert "127.0.0.1:" not in result["msg"]
    # the top-level result is the first address's
    assert result["sha256_fingerprint"] == expected


def test_module_passes_when_every_address_serves_the_site(server, tls_files):
    with pytest.raises(AnsibleExitJson) as excinfo:
        run_module({"server_name": SERVER_NAME, "port": server.port, "addresses": ["127.0.0.1"],
                    "expect_sha256_fingerprint": sha256_fingerprint(tls_files.server_der), "expect_status": 400})
    assert set(excinfo.value.args[0]["addresses"]) == {"127.0.0.1"}


def test_module_names_an_ipv6_address_in_brackets(closed_port):
    with pytest.raises(AnsibleFailJson) as excinfo:
        run_module({"server_name": SERVER_NAME, "port": closed_port, "addresses": ["::1"], "expect_status": 400})
    assert excinfo.value.args[0]["msg"].startswith(f"[::1]:{closed_port} (SNI {SERVER_NAME}): ")
