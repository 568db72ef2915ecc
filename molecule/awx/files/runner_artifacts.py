# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read what ansible-runner left of one job, as AWX reads it, without ever showing a secret.

    runner_artifacts.py SECRETS PDD IDENT [--scan DIR_OR_FILE ...]

SECRETS names what must never be shown, nor be found in any scanned file:

    --pki-py tests/pki.py --pki-dir DIR   every line of every private key under DIR, as
                                          tests/pki.py secret-lines gives them to the host search
    --password LABEL=FILE                 a file holding one password (the vault password)

Prints one JSON object: the job's ``rc`` and ``status`` (PDD/artifacts/IDENT), the ``command``
ansible-runner ran and its ``cwd``, the count of each job event type, the ``ok`` and ``failed``
tasks (from the runner_on_* job events: host, role, task name, resolved action, the directory of
the task file), the ``stats`` of the playbook_on_stats event, the ``messages`` of the debug tasks
that ran, and ``scan``: per file under PDD/artifacts (and each --scan path), how many lines hold
each kind of secret (``hits``, empty when none do), how many files were read and how many search
strings each kind has. ``report`` is what a failing assertion shows: rc, status, stats, failed
tasks and the last lines of the job's stdout. A line that holds a secret is never shown: a notice
naming the kind of secret replaces it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from pathlib import Path

# molecule/shared/files: what the scenarios' log readers share
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "shared" / "files"))
from secret_search import (  # noqa: E402
    Withholder,
    add_secret_options,
    count_hits,
    failure_message,
    load_secrets,
)

TAIL_LINES = 25


def scan(roots: list, base: Path, kinds: dict) -> dict:
    files = []
    for root in roots:
        if root.is_dir():
            files += sorted(p for p in root.rglob("*") if p.is_file())
        elif root.is_file():
            files.append(root)
    hits = {}
    for path in files:
        counts = {kind: count_hits(path, patterns) for kind, patterns in kinds.items()}
        counts = {kind: n for kind, n in counts.items() if n}
        if counts:
            hits[os.path.relpath(path, base)] = counts
    return {"files": len(files), "hits": hits, "patterns": {kind: len(p) for kind, p in kinds.items()}}


def read_text(path: Path) -> str:
    return path.read_text(errors="replace").strip() if path.is_file() else ""


def job(pdd: Path, ident: str, withhold: Withholder) -> dict:
    artifacts = pdd / "artifacts" / ident
    rc = read_text(artifacts / "rc")
    command = json.loads(read_text(artifacts / "command") or "{}")
    events = []
    for path in (artifacts / "job_events").glob("*.json"):
        events.append(json.loads(path.read_text()))
    events.sort(key=lambda e: e.get("counter", 0))

    counts = Counter(e["event"] for e in events)
    ok, failed, messages, stats = [], [], [], {}
    for event in events:
        data = event.get("event_data", {})
        if event["event"] in ("runner_on_ok", "runner_on_failed", "runner_on_unreachable"):
            task = {
                "host": data.get("host"),
                "role": data.get("role", ""),
                "task": data.get("task"),
                "action": data.get("resolved_action", ""),
                "task_dir": os.path.dirname(data.get("task_path", "").rsplit(":", 1)[0]),
            }
            res = data.get("res", {})
            if event["event"] == "runner_on_ok":
                ok.append(task)
                if task["action"] == "ansible.builtin.debug" and "msg" in res:
                    messages.append({"task": task["task"], "host": task["host"], "msg": withhold.value(res["msg"])})
            elif not data.get("ignore_errors"):
                failed.append(dict(task, msg=withhold.text(failure_message(res))))
        elif event["event"] == "playbook_on_stats":
            stats = {key: data.get(key, {}) for key in ("ok", "changed", "failures", "dark", "skipped", "rescued")}

    stdout = read_text(artifacts / "stdout").splitlines()
    tail = [withhold.line(line) for line in stdout[-TAIL_LINES:]]
    report = [f"job {ident}: rc {rc or 'none'}, status {read_text(artifacts / 'status') or 'none'}",
              f"command: {' '.join(command.get('command', []))} (in {command.get('cwd')})",
              f"stats: {json.dumps(stats)}"]
    report += [f"failed task: {t['host']}: {t['task']}: {t['msg']}" for t in failed]
    report += [f"last {len(tail)} lines of the job's stdout:"] + ["  " + line for line in tail]
    return {
        "ident": ident,
        "rc": int(rc) if rc.lstrip("-").isdigit() else None,
        "status": read_text(artifacts / "status"),
        "command": command.get("command", []),
        "cwd": command.get("cwd"),
        "events": dict(counts),
        "ok": ok,
        "failed": failed,
        "stats": stats,
        "messages": messages,
        "report": report,
    }


def main(argv: list | None = None) -> int:
    parser = argparse.ArgumentParser(prog="runner_artifacts.py", description=__doc__.split("\n", maxsplit=1)[0])
    add_secret_options(parser)
    parser.add_argument("--scan", type=Path, action="append", default=[],
                        help="another directory or file to search for secrets (besides PDD/artifacts)")
    parser.add_argument("pdd", type=Path)
    parser.add_argument("ident")
    args = parser.parse_args(argv)
    if args.pki_dir and not args.pki_py:
        parser.error("--pki-dir needs --pki-py")

    kinds = load_secrets(args)
    out = job(args.pdd, args.ident, Withholder(kinds))
    out["scan"] = scan([args.pdd / "artifacts", *args.scan], args.pdd, kinds)
    json.dump(out, sys.stdout, ensure_ascii=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
