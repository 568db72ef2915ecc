# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Running ansible-playbook and timing it: wall and CPU time, PLAY RECAP, profile_tasks' task times.

Also what is read back from its output: the per-task podman round trips of a ``-vvv`` run, and the
statistics of a set of runs (row_stats) that every table of results.md shows.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import time
from pathlib import Path

from bench_common import BenchError, load1, median

RECAP_RE = re.compile(
    r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)\s+"
    r"failed=(?P<failed>\d+)\s+skipped=(?P<skipped>\d+)\s+rescued=(?P<rescued>\d+)\s+ignored=(?P<ignored>\d+)",
    re.MULTILINE,
)
PROFILE_RE = re.compile(r"^(?P<name>\S.*?) -+ (?P<secs>\d+\.\d+)s\s*$")


class Playbook:
    """ansible-playbook runs, numbered; each one's output goes to WORK/logs, whatever its outcome."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.logs = work / "logs"
        self.logs.mkdir(exist_ok=True)
        self.count = 0

    def run(self, inventory: Path, site: Path, label: str, *, forks: int = 5, verbose: bool = False,
            timeout: float = 1200, extra_env=None, extra_args=(), playbook="chat_callback.mtls.deploy") -> dict:
        self.count += 1
        env = dict(os.environ)
        callbacks = [c for c in env.get("ANSIBLE_CALLBACKS_ENABLED", "").split(",") if c.strip()]
        env.update({
            "ANSIBLE_FORKS": str(forks),
            "ANSIBLE_CALLBACKS_ENABLED": ",".join([*callbacks, "ansible.posix.profile_tasks"]),
            "PROFILE_TASKS_TASK_OUTPUT_LIMIT": "all",
            "PROFILE_TASKS_SORT_ORDER": "none",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_FORCE_COLOR": "0",
        })
        env.update(extra_env or {})
        cmd = ["ansible-playbook", "-i", str(inventory), playbook, "-e", f"@{site}", *extra_args]
        if verbose:
            cmd.append("-vvv")
        busy_before, children_before = machine_busy_seconds(), children_cpu_seconds()
        start = time.perf_counter()
        try:
            proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired as exc:
            raise BenchError(f"{label}: ansible-playbook did not finish within {timeout:g} s") from exc
        wall = time.perf_counter() - start
        busy = machine_busy_seconds() - busy_before
        controller = children_cpu_seconds() - children_before
        log_path = self.logs / f"{self.count:02d}-{re.sub(r'[^A-Za-z0-9]+', '-', label)}.log"
        log_path.write_text(" ".join(cmd) + "\n\n" + proc.stdout)
        if proc.returncode != 0:
            raise BenchError(f"{label}: ansible-playbook failed (rc {proc.returncode}); log {log_path}\n"
                             + proc.stdout[-4000:])
        recap = {m["host"]: {k: int(v) for k, v in m.groupdict().items() if k != "host"}
                 for m in RECAP_RE.finditer(proc.stdout)}
        return {"wall": wall, "recap": recap, "tasks": parse_profile(proc.stdout), "output": proc.stdout,
                "load": load1(), "log": log_path, "cpu_busy": busy, "cpu_controller": controller}


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle since boot (/proc/stat), whoever spent them."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    """CPU seconds of the waited-for children: ansible-playbook, its workers and the podman CLIs they ran.

    Not the processes podman starts in the containers (conmon, runc, the modules' Python), which are not
    our descendants: machine busy time minus this is mostly the hosts' side."""
    usage = os.times()
    return usage.children_user + usage.children_system


def parse_profile(output: str) -> dict:
    """profile_tasks' TASKS RECAP: {task name: seconds}, same-named tasks summed."""
    tasks: dict = {}
    _head, sep, tail = output.partition("TASKS RECAP")
    if not sep:
        return tasks
    for line in tail.splitlines():
        match = PROFILE_RE.match(line.strip())
        if match:
            name = match["name"].split(" : ", 1)[-1]
            tasks[name] = tasks.get(name, 0.0) + float(match["secs"])
    return tasks


def round_trips(output: str) -> dict:
    """Per task of a -vvv run: podman exec / mount / cp calls, remote module runs, local EXECs."""
    per_task: dict = {}
    task = "(play start)"
    for line in output.splitlines():
        header = re.match(r"^(TASK|RUNNING HANDLER) \[(.*)\]", line)
        if header:
            task = header[2].split(" : ", 1)[-1]
            continue
        counts = per_task.setdefault(task, {"modules": 0, "exec": 0, "mount": 0, "cp": 0, "local": 0})
        podman = re.search(r"RUN \[b'[^']*podman', b'(exec|mount|cp)'", line)
        if podman:
            counts[podman[1]] += 1
            counts["modules"] += bool(re.search(r"python[0-9.]* \S*AnsiballZ_\w+\.py", line))
        elif re.match(r"^<(localhost|127\.0\.0\.1)> EXEC ", line):
            counts["local"] += 1
    return {k: v for k, v in per_task.items() if any(v.values())}


def recap_of(result: dict, host: str) -> dict:
    return result["recap"].get(host, {})


def row_stats(results, host: str) -> dict:
    walls = [r["wall"] for r in results]
    recaps = [recap_of(r, host) for r in results]
    first = recaps[0] if recaps else {}
    same = all(rc.get(k) == first.get(k) for rc in recaps for k in ("ok", "changed", "skipped"))
    return {
        "median": median(walls), "min": min(walls), "max": max(walls), "n": len(walls),
        "ok": first.get("ok"), "changed": first.get("changed"), "skipped": first.get("skipped"),
        "counts_vary": not same, "load": median([r["load"] for r in results]),
        "all_changed": [rc.get("changed") for rc in recaps],
        "cpu_busy": median([r.get("cpu_busy", math.nan) for r in results]),
        "cpu_controller": median([r.get("cpu_controller", math.nan) for r in results]),
    }
