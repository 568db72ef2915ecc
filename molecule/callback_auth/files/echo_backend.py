# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The callback backend of the callback_auth scenario: records every request it gets, answers 200.

    echo_backend.py ADDRESS PORT RECORD_FILE

One JSON line per request (method, path with its query string, SHA-256 of the body) is appended
to RECORD_FILE before the answer goes out, so that a client holding the answer finds its record.
"""

from __future__ import annotations

import hashlib
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

LOCK = threading.Lock()


class Recorder(BaseHTTPRequestHandler):
    def _record_and_answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        record = {"method": self.command, "path": self.path, "body_sha256": hashlib.sha256(body).hexdigest()}
        with LOCK, open(self.server.record_file, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")
        answer = b'{"ActionStatus": "OK", "ErrorCode": 0, "ErrorInfo": ""}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    do_GET = do_POST = _record_and_answer  # noqa: N815 (http.server's naming)

    def log_message(self, format, *args):  # noqa: A002 (http.server's signature)
        # The journal must not get the query strings (they hold the Sign): the record file has them.
        return


def main() -> None:
    server = ThreadingHTTPServer((sys.argv[1], int(sys.argv[2])), Recorder)
    server.record_file = sys.argv[3]
    server.serve_forever()


if __name__ == "__main__":
    main()
