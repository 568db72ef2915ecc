# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the scenarios' log readers share: the secrets to look for, and never showing them.

Imported by molecule/ssh/files/vvv_log.py and molecule/awx/files/runner_artifacts.py, which put
this directory on sys.path. Their common options: --pki-py/--pki-dir (every line of every private
key under DIR, as tests/pki.py secret-lines gives them to the host search), --password LABEL=FILE
(a file holding one password) and --key-file LABEL=FILE (the base64 lines of a key file).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

LINE_MAX = 400
MESSAGE_MAX = 1200


def load_pki(path: str):
    spec = importlib.util.spec_from_file_location("pki", path)
    module = importlib.util.module_from_spec(spec)
    # Its dataclasses look their module up in sys.modules.
    sys.modules["pki"] = module
    spec.loader.exec_module(module)
    return module


def labelled(value: str) -> tuple:
    label, sep, path = value.partition("=")
    if not sep or not label or not path:
        raise argparse.ArgumentTypeError(f"expected LABEL=FILE, got {value!r}")
    return label, path


def add_secret_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pki-py")
    parser.add_argument("--pki-dir")
    parser.add_argument("--password", type=labelled, action="append", default=[])
    parser.add_argument("--key-file", type=labelled, action="append", default=[])


def load_secrets(args) -> dict:
    """Kind of secret -> the strings that must not appear."""
    kinds = {}
    if args.pki_dir:
        kinds["a private key line of the test PKI"] = load_pki(args.pki_py).secret_lines(args.pki_dir)
    for label, path in args.password:
        kinds[label] = [Path(path).read_text().strip()]
    for label, path in args.key_file:
        lines = (line.strip() for line in Path(path).read_text().splitlines())
        kinds[label] = [line for line in lines if len(line) >= 16 and not line.startswith("-----")]
    for kind, patterns in kinds.items():
        if not patterns or "" in patterns:
            sys.exit(f"no usable search string for {kind}")
    return kinds


class Withholder:
    """Shows text line by line, a line that holds a secret replaced by a notice naming its kind."""

    def __init__(self, kinds: dict):
        self.kinds = kinds

    def line(self, line: str) -> str:
        for kind, patterns in self.kinds.items():
            if any(pattern in line for pattern in patterns):
                return f"[a line holding {kind} was withheld]"
        return line[:LINE_MAX] + (" [...]" if len(line) > LINE_MAX else "")

    def text(self, text) -> str:
        return "\n".join(self.line(line) for line in str(text).splitlines())

    def value(self, value):
        """A debug message (a string or a list of lines) with every secret line withheld."""
        if isinstance(value, list):
            return [self.value(item) for item in value]
        return self.text(value) if isinstance(value, str) else self.text(json.dumps(value))


def failure_message(result: dict) -> str:
    """The useful part of a failed task's result."""
    parts = [str(result.get("msg", ""))]
    for key in ("stderr", "module_stderr", "stdout"):
        if result.get(key) and str(result[key]) not in parts[0]:
            parts.append(f"{key}: " + str(result[key])[-MESSAGE_MAX // 2:])
    failed_items = [r for r in result.get("results", []) if isinstance(r, dict) and r.get("failed")]
    if failed_items:
        parts.append("first failed item: " + failure_message(failed_items[0]))
    return " | ".join(part for part in parts if part)[:MESSAGE_MAX]


def count_hits(path, patterns: list) -> int:
    """Lines of the file at path that hold one of patterns."""
    # grep -F is Aho-Corasick: hundreds of strings over megabytes in a blink. The strings go
    # through stdin, never into a file or an argument list. -a: a binary file is searched too.
    result = subprocess.run(["grep", "-a", "-c", "-F", "-f", "/dev/stdin", str(path)],
                            input="\n".join(patterns) + "\n", capture_output=True, text=True, check=False)
    if result.returncode > 1:
        sys.exit(f"grep failed on {path}: {result.stderr.strip()}")
    return int(result.stdout.strip() or 0)
