# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What all the modules of the role bench share: names, ports and images, logging, running a command.

The other modules import these from here, never from bench_role.py: that runs as ``__main__``, and
importing it by name would load a second copy, with a BenchError main() would not catch and an
IMAGES that --debian had not set.
"""

from __future__ import annotations

import datetime
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

# The test-host image and the bench's own with nginx installed; --debian 13 switches both (main()
# changes this dict in place, so that every module that imported it sees the switch).
IMAGES = {
    "base": "localhost/chat-callback-mtls-host:debian-12",
    "nginx": "localhost/chat-callback-mtls-host:debian-12-nginx",
}
BASE_LABEL = "org.chat-callback-mtls.bench-base"
PREFIX = "mtls-bench-"
SINGLE = PREFIX + "1"
PORT_MTLS = 18490  # -> 443, the role's site
PORT_PLAIN = 18491  # -> 8443, bench-only server block without ssl_verify_client
SERVER_NAME = "www.example.com"
CONF_DIR = "/etc/nginx"
T0 = time.monotonic()  # the bench's start: log() and --budget-minutes count from it


class BenchError(Exception):
    """A step failed: the message says which and what to do."""


def log(msg: str) -> None:
    now = datetime.datetime.now().strftime("%H:%M:%S")
    print(f"[bench {now} +{time.monotonic() - T0:5.0f}s] {msg}", file=sys.stderr, flush=True)


def load() -> str:
    return "{:.2f} / {:.2f} / {:.2f}".format(*os.getloadavg())


def load1() -> float:
    return os.getloadavg()[0]


def run(cmd, *, timeout: float = 120, check: bool = True, input_data=None, env=None) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(
            [str(c) for c in cmd], input=input_data, capture_output=True, text=True, timeout=timeout, env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"timed out after {timeout:g} s: {' '.join(map(str, cmd))}") from exc
    if check and proc.returncode != 0:
        raise BenchError(
            f"failed (rc {proc.returncode}): {' '.join(map(str, cmd))}\n{(proc.stdout + proc.stderr)[-3000:]}"
        )
    return proc


def median(values):
    return statistics.median(values) if values else float("nan")


def fmt_s(value) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.1f}"
