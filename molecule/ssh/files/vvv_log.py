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
import json
import re
import sys
from pathlib import Path

# molecule/shared/files: what the scenarios' log readers share
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared" / "files"))
from secret_search import (  # noqa: E402
    MESSAGE_MAX,
    Withholder,
    add_secret_options,
    count_hits,
    failure_message,
    load_secrets,
)

TAIL_LINES = 30
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


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(prog="vvv_log.py", description=__doc__.split("\n", maxsplit=1)[0])
    add_secret_options(parser)
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
