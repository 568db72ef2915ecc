# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Send webhook callbacks as Tencent Cloud Chat does, one per case, and say what came back.

    callback_client.py DIR PORT RECORD_FILE < REQUEST_JSON

Stdlib only (it runs on the hosts' own python3). The token comes on stdin and nowhere else (no
argument, no file), with the cases: {"token": T, "sdkappid": A, "cases": [CASE, ...]}. A case:

    name        the request goes to /im/callback/<name> (how the access log line is found)
    path        another path instead
    set         the certificate set under DIR (www or api): DIR/<set>/client.crt, client.key and
                server-root-ca.crt; the server name is <set>.example.com
    method      POST (a JSON body, as a callback) or GET
    cert        send the client certificate (default true)
    source      loopback (connect to 127.0.0.1) or external (to the host's own address on its
                default route, so that nginx sees a source address outside 127.0.0.0/8)
    sign        valid | wrong (another token's) | other_time (for RequestTime - 1) | garbled | missing | none
    time        seconds added to the clock for RequestTime (0 = now), or "garbled", or "missing"
    sdkappid    "configured", "missing" or another value

Prints one JSON object: "vector_ok" (the signing matches the documented test vector) and
"results", per case: status, the Sign sent (none when none), the path and query sent, the
address connected to and from, and the records the backend wrote while the request ran.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import ssl
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

# The platform's documented example: Token xxxxyyyy, RequestTime 1669872112.
VECTOR = ("xxxxyyyy", "1669872112", "17773bc39a671d7b9aa835458704d2a6db81360a5940292b587d6d760d484061")


def sign(token: str, request_time: str) -> str:
    """Sign = hex(sha256(Token + RequestTime)), as the platform computes it."""
    return hashlib.sha256((token + request_time).encode()).hexdigest()


def external_address() -> str:
    """The host's address on its default route (a UDP connect sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect(("192.0.2.1", 9))
        return probe.getsockname()[0]


def records(path: str) -> list:
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []


def query(case: dict, token: str, sdkappid: str) -> tuple:
    """The query string of the case and the Sign in it (None when it has none)."""
    now = int(time.time())
    offset = case.get("time", 0)
    request_time = {"garbled": "yesterday", "missing": None}.get(
        offset, str(now + offset) if isinstance(offset, int) else None)
    app = {"configured": sdkappid, "missing": None}.get(case.get("sdkappid", "configured"), case.get("sdkappid"))
    kind = case.get("sign", "valid")
    signed = {
        "valid": lambda: sign(token, request_time or ""),
        "wrong": lambda: sign("not-the-" + token, request_time or ""),
        "other_time": lambda: sign(token, str(int(request_time) - 1)),
        "garbled": lambda: "not-a-sign",
        "missing": lambda: None,
        "none": lambda: None,
    }[kind]()
    args = [("SdkAppid", app), ("CallbackCommand", "Group.CallbackAfterSendMsg"), ("contenttype", "json"),
            ("ClientIP", "203.0.113.7"), ("OptPlatform", "RESTAPI"), ("RequestTime", request_time), ("Sign", signed)]
    if kind == "none":
        args = []
    return urlencode([(k, v) for k, v in args if v is not None]), signed


def call(case: dict, directory: Path, port: int, request: dict, record_file: str) -> dict:
    files = directory / case.get("set", "www")
    server_name = case.get("set", "www") + ".example.com"
    context = ssl.create_default_context(cafile=str(files / "server-root-ca.crt"))
    if case.get("cert", True):
        context.load_cert_chain(str(files / "client.crt"), str(files / "client.key"))
    address = external_address() if case.get("source", "loopback") == "external" else "127.0.0.1"
    # Early in a second: a RequestTime 61 s ahead must not reach nginx 60 s ahead of its clock.
    fraction = time.time() % 1
    if fraction > 0.5:
        time.sleep(1.02 - fraction)
    qs, signed = query(case, request["token"], request["sdkappid"])
    path = case.get("path", f"/im/callback/{case['name']}") + (f"?{qs}" if qs else "")
    body = None
    if case.get("method", "POST") == "POST":
        body = json.dumps({"CallbackCommand": "Group.CallbackAfterSendMsg", "GroupId": "@TGS#2J4SZEAEL",
                           "From_Account": "callback_auth_test",
                           "MsgBody": [{"MsgType": "TIMTextElem", "MsgContent": {"Text": case["name"]}}]}).encode()
    before = len(records(record_file))
    raw = socket.create_connection((address, port), timeout=10)
    source = raw.getsockname()[0]
    try:
        tls = context.wrap_socket(raw, server_hostname=server_name)
    except (ssl.SSLError, OSError) as error:
        raw.close()
        return {"name": case["name"], "status": None, "error": f"handshake: {error}", "sign": signed,
                "path": path, "address": address, "source": source, "backend_records": []}
    connection = http.client.HTTPConnection(server_name, port, timeout=10)
    connection.sock = tls
    headers = {"Content-Type": "application/json; charset=utf-8"} if body is not None else {}
    try:
        connection.request(case.get("method", "POST"), path, body=body, headers=headers)
        response = connection.getresponse()
        status, answer, error = response.status, response.read().decode(errors="replace")[:300], None
    except (http.client.HTTPException, OSError) as failure:
        status, answer, error = None, "", f"request: {failure}"
    finally:
        connection.close()
    return {"name": case["name"], "status": status, "answer": answer, "error": error, "sign": signed,
            "path": path, "address": address, "source": source,
            "body_sha256": hashlib.sha256(body).hexdigest() if body is not None else None,
            "backend_records": [json.loads(line) for line in records(record_file)[before:]]}


def main() -> int:
    directory, port, record_file = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    request = json.load(sys.stdin)
    vector_ok = sign(VECTOR[0], VECTOR[1]) == VECTOR[2]
    results = [call(case, directory, port, request, record_file) for case in request["cases"]] if vector_ok else []
    json.dump({"vector_ok": vector_ok, "results": results}, sys.stdout)
    return 0 if vector_ok else 1


if __name__ == "__main__":
    sys.exit(main())
