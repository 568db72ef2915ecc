# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read the -vvv output of the ssh scenario's ansible-playbook runs without ever showing a secret.

    vvv_log.py SECRETS summary LOG --rc RC [--find NAME=REGEX ...]
    vvv_log.py SECRETS secrets LOG ...

SECRETS names what must never be shown, nor be found in any output:

    --pki-py tests/pki.py --pki-dir DIR   every line of every private key under DIR, as
                                          tests/pki.py secret-lines gives them to the host search
    --password LABEL=FILE                 a file holding one password (vault, become)
    --key-file LABEL=FILE                 another private key (the SSH key): its base64 lines

``summary`` prints one JSON object about one run: the PLAY RECAP per host, the failures' messages,
the last lines, the file transfers and the ssh commands per SSH port (a pipelined run transfers
nothing), the controller tasks
that became root, the lines matching each --find, and ``report``, the lines a failing step
shows. A line that holds a secret is never shown: a notice naming the kind of secret replaces it.

``secrets`` prints, per output file, how many lines hold each kind of secret (``hits``, empty when
none do), and how many search strings each kind has (``patterns``).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

TAIL_LINES = 30
LINE_MAX = 400
MESSAGE_MAX = 1200
MAX_ITEMS = 12

RECAP_LINE = re.compile(r"^(\S+)\s+:\s+((?:[a-z]+=\d+\s*)+)$")
# fatal: [host]: FAILED! => {   failed: [host] (item=x) => {   fatal: [host -> localhost]: UNREACHABLE! => {
FAILURE = re.compile(r"^(?:fatal|failed): \[([^\]]+)\](?: \(item=[^\n]*?\))?(?:: [A-Z]+!)? => ", re.M)
ERROR = re.compile(r"^(?:ERROR!|\[ERROR\]:)")
# Every file Ansible copies over SSH is an sftp or scp call (transfer_method smart); with pipelining
# there is none. The port tells the hosts apart: they all are 127.0.0.1.
TRANSFER = re.compile(r"SSH: EXEC (?:sftp|scp) .*?\bPort=(\d+)")
SSH_COMMAND = re.compile(r"SSH: EXEC ssh .*?\bPort=(\d+)")
PUT_OR_FETCH = re.compile(r"^<[^>]*> (?:PUT|FETCH) ")
# A controller task that became root: a command the local connection runs through sudo or su, or
# cert_check saying it runs as a module because of become. As root on the controller (this test
# machine) Ansible drops a become to root, so only the second one shows here; for a user who runs
# Ansible as themselves, it is a sudo on their own machine.
LOCAL_BECOME = re.compile(r"^<[^>]*> (?:EXEC /bin/sh -c '(?:sudo|su)\b|[\w.]+: running the module: become$)")


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
    def __init__(self, kinds: dict):
        self.kinds = kinds

    def line(self, line: str) -> str:
        for kind, patterns in self.kinds.items():
            if any(pattern in line for pattern in patterns):
                return f"[a line holding {kind} was withheld]"
        return line[:LINE_MAX] + (" [...]" if len(line) > LINE_MAX else "")

    def text(self, text: str) -> str:
        return "\n".join(self.line(line) for line in str(text).splitlines())


def failure_message(result: dict) -> str:
    """The useful part of a failed task's result."""
    parts = [str(result.get("msg", ""))]
    for key in ("stderr", "module_stderr", "stdout"):
        if result.get(key) and result.get(key) not in parts[0]:
            parts.append(f"{key}: " + str(result[key])[-MESSAGE_MAX // 2:])
    failed_items = [r for r in result.get("results", []) if isinstance(r, dict) and r.get("failed")]
    if failed_items:
        parts.append("first failed item: " + failure_message(failed_items[0]))
    return " | ".join(part for part in parts if part)[:MESSAGE_MAX]


def summary(text: str, rc: int, finds: list, withhold: Withholder) -> dict:
    lines = text.splitlines()

    recap = {}
    starts = [i for i, line in enumerate(lines) if line.startswith("PLAY RECAP")]
    for line in lines[starts[-1] + 1:] if starts else []:
        match = RECAP_LINE.match(line.strip())
        if match:
            recap[match.group(1)] = {k: int(v) for k, v in re.findall(r"([a-z]+)=(\d+)", match.group(2))}

    failures = []
    decoder = json.JSONDecoder()
    for match in FAILURE.finditer(text):
        try:
            result, end = decoder.raw_decode(text, match.end())
            message = failure_message(result) if isinstance(result, dict) else str(result)
            ignored = text[end:end + 20].lstrip().startswith("...ignoring")
        except ValueError:
            message, ignored = text[match.end():match.end() + MESSAGE_MAX].split("\n", 1)[0], False
        failures.append(f"{match.group(1)}{' (ignored)' if ignored else ''}: {withhold.text(message)}")

    errors = []
    for i, line in enumerate(lines):
        if ERROR.match(line):
            origin = [nxt.strip() for nxt in lines[i + 1:i + 3] if nxt.startswith("Origin:")]
            errors.append(" ".join([withhold.line(line)] + origin))

    transfers, ssh_commands = {}, {}
    for line in lines:
        for regex, counts in ((TRANSFER, transfers), (SSH_COMMAND, ssh_commands)):
            match = regex.search(line)
            if match:
                counts[match.group(1)] = counts.get(match.group(1), 0) + 1
    local_become = [withhold.line(line) for line in lines if LOCAL_BECOME.match(line)]

    found = {}
    for name, pattern in finds:
        regex = re.compile(pattern)
        matches = [m.group(0) for line in lines for m in [regex.search(line)] if m]
        found[name] = [withhold.line(m) for m in dict.fromkeys(matches)][:40]

    tail = [withhold.line(line) for line in lines[-TAIL_LINES:]]
    report = [f"rc {rc}" + (" (killed: the run took too long)" if rc == 124 else "")]
    counts = ("ok", "changed", "unreachable", "failed")
    hosts = [f"{h} " + " ".join(f"{k}={v}" for k, v in c.items() if k in counts) for h, c in recap.items()]
    report += ["recap: " + (", ".join(hosts) or "none (the run ended before it)")]
    report += ["failed task: " + f for f in failures[-MAX_ITEMS:]]
    report += ["error: " + e for e in errors[-MAX_ITEMS:]]
    report += [f"last {len(tail)} lines of the -vvv output:"] + ["  " + line for line in tail]
    return {
        "rc": rc,
        "recap": recap,
        "failures": failures[-MAX_ITEMS:],
        "errors": errors[-MAX_ITEMS:],
        "transfers": transfers,
        "ssh_commands": ssh_commands,
        "put_or_fetch_lines": sum(1 for line in lines if PUT_OR_FETCH.match(line)),
        "local_become": local_become[:5],
        "found": found,
        "report": report,
    }


def count_hits(path: str, patterns: list) -> int:
    # grep -F is Aho-Corasick: hundreds of strings over megabytes of output in a blink. The strings
    # go through stdin, never into a file or an argument list.
    result = subprocess.run(["grep", "-c", "-F", "-f", "/dev/stdin", path], input="\n".join(patterns) + "\n",
                            capture_output=True, text=True, check=False)
    if result.returncode > 1:
        sys.exit(f"grep failed on {path}: {result.stderr.strip()}")
    return int(result.stdout.strip() or 0)


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vvv_log.py", description=__doc__.split("\n", maxsplit=1)[0])
    parser.add_argument("--pki-py")
    parser.add_argument("--pki-dir")
    parser.add_argument("--password", type=labelled, action="append", default=[])
    parser.add_argument("--key-file", type=labelled, action="append", default=[])
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("summary")
    one.add_argument("log")
    one.add_argument("--rc", type=int, required=True)
    one.add_argument("--find", type=lambda v: tuple(v.split("=", 1)), action="append", default=[])
    many = sub.add_parser("secrets")
    many.add_argument("logs", nargs="+")
    args = parser.parse_args(argv)
    if args.pki_dir and not args.pki_py:
        parser.error("--pki-dir needs --pki-py")

    kinds = load_secrets(args)
    if args.command == "summary":
        path = Path(args.log)
        text = path.read_text(errors="replace") if path.exists() else ""
        out = summary(text, args.rc, args.find, Withholder(kinds))
        out["log"] = str(path)
    else:
        hits = {}
        for log in args.logs:
            counts = {kind: count_hits(log, patterns) for kind, patterns in kinds.items()}
            counts = {kind: n for kind, n in counts.items() if n}
            if counts:
                hits[Path(log).name] = counts
        out = {"logs": [Path(log).name for log in args.logs], "hits": hits,
               "patterns": {kind: len(patterns) for kind, patterns in kinds.items()}}
    json.dump(out, sys.stdout, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
