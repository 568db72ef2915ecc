# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Client traffic for the rotation scenario: mutual-TLS requests, round-robin over loopback ports.

Every request opens a new TCP connection and does a full TLS handshake (SNI, client certificate),
so a request lands on whatever certificate and configuration nginx serves at that moment, the way
the chat platform's callbacks do. A request fails on a connect or TLS error, a timeout, or any
status other than 200.

The loop is bounded three ways and stops by itself: the stop file appears, --max-seconds pass, or
--max-requests are sent; --interval paces it (this runs next to other tests on a small machine).
Only 127.0.0.1 is ever contacted. When done it writes a JSON summary (atomically):

    requests, failed, duration_seconds, stop_reason, ports: {port: {requests, failed,
    fingerprints: [[fingerprint, consecutive requests], ...]}}, failures: [first 20]
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import signal
import socket
import ssl
import sys
import time

TARGET_HOST = "127.0.0.1"  # the ports molecule publishes; never anything else
FAILURE_SAMPLES = 20


def fingerprint(der: bytes) -> str:
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))


def client_context(client_cert: str, client_key: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # Each server root CA of the test sets differs; which certificate is served is recorded by
    # fingerprint and judged by the caller instead.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.load_cert_chain(client_cert, client_key)
    return context


def one_request(context: ssl.SSLContext, port: int, server_name: str, timeout: float):
    """Return (fingerprint or None, error or ""): a fresh connection, handshake and GET /."""
    served = None
    try:
        raw = socket.create_connection((TARGET_HOST, port), timeout=timeout)
        with raw, context.wrap_socket(raw, server_hostname=server_name) as tls:
            der = tls.getpeercert(binary_form=True)
            served = fingerprint(der) if der else None
            request = (
                f"GET / HTTP/1.1\r\nHost: {server_name}\r\nUser-Agent: mtls-rotation-traffic\r\n"
                "Connection: close\r\n\r\n"
            ).encode("ascii")
            tls.sendall(request)
            response = http.client.HTTPResponse(tls, method="GET")
            response.begin()
            response.read()
            if response.status != 200:
                return served, f"HTTP {response.status}"
    except (OSError, http.client.HTTPException) as exc:
        return served, f"{exc.__class__.__name__}: {exc}"
    return served, ""


def record_fingerprint(runs: list, served: str | None) -> None:
    """Count consecutive requests per served certificate: [[A, 120], [B, 300]] shows one switch."""
    if runs and runs[-1][0] == served:
        runs[-1][1] += 1
    else:
        runs.append([served, 1])


def write_json(path: str, data: dict) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
    os.replace(tmp, path)


def run(args: argparse.Namespace) -> dict:
    context = client_context(args.client_cert, args.client_key)
    stop = {"signal": None}

    def on_signal(signum, _frame):
        stop["signal"] = signal.Signals(signum).name

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    ports = {port: {"requests": 0, "failed": 0, "fingerprints": []} for port in args.ports}
    failures: list = []
    sent = failed = 0
    started = time.monotonic()
    deadline = started + args.max_seconds
    next_slot = started
    stop_reason = ""
    while not stop_reason:
        if stop["signal"]:
            stop_reason = f"signal {stop['signal']}"
        elif os.path.exists(args.stop_file):
            stop_reason = "stop file"
        elif time.monotonic() >= deadline:
            stop_reason = "max seconds"
        elif sent >= args.max_requests:
            stop_reason = "max requests"
        if stop_reason:
            break
        port = args.ports[sent % len(args.ports)]
        served, error = one_request(context, port, args.server_name, args.timeout)
        sent += 1
        ports[port]["requests"] += 1
        record_fingerprint(ports[port]["fingerprints"], served)
        if error:
            failed += 1
            ports[port]["failed"] += 1
            if len(failures) < FAILURE_SAMPLES:
                failures.append({"second": round(time.monotonic() - started, 3), "port": port, "error": error})
        if sent == 1 and args.ready_file:
            # The caller starts the rotation only once traffic really flows.
            write_json(args.ready_file, {"first_request_error": error})
        next_slot += args.interval
        pause = next_slot - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        else:
            next_slot = time.monotonic()  # running late: do not burst to catch up
    return {
        "requests": sent,
        "failed": failed,
        "duration_seconds": round(time.monotonic() - started, 1),
        "stop_reason": stop_reason,
        "ports": {str(port): stats for port, stats in ports.items()},
        "failures": failures,
    }


def port_list(text: str) -> list:
    ports = [int(port) for port in text.split(",")]
    if not ports or not all(0 < port < 65536 for port in ports):
        raise argparse.ArgumentTypeError(f"not a list of ports: {text!r}")
    return ports


def parse_args(argv: list | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--ports", type=port_list, required=True, help="published ports on 127.0.0.1, comma-separated")
    parser.add_argument("--server-name", required=True, help="SNI and Host header")
    parser.add_argument("--client-cert", required=True)
    parser.add_argument("--client-key", required=True)
    parser.add_argument("--stop-file", required=True, help="stop as soon as this file exists")
    parser.add_argument("--summary", required=True, help="JSON summary written when the loop ends")
    parser.add_argument("--ready-file", default="", help="written after the first request")
    parser.add_argument("--max-seconds", type=float, default=180.0)
    parser.add_argument("--max-requests", type=int, default=20000)
    parser.add_argument("--interval", type=float, default=0.02, help="seconds between request starts")
    parser.add_argument("--timeout", type=float, default=5.0, help="per connect and per read, seconds")
    args = parser.parse_args(argv)
    if not 0 < args.max_seconds <= 600 or not 0 < args.max_requests <= 100000:
        parser.error("--max-seconds must be in (0, 600] and --max-requests in (0, 100000]")
    return args


def main(argv: list | None = None) -> int:
    args = parse_args(argv)
    summary = run(args)
    write_json(args.summary, summary)
    print(json.dumps({key: summary[key] for key in ("requests", "failed", "duration_seconds", "stop_reason")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
