# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Kill ansible-playbook at fractions of its own duration and judge what it left on the host.

Two runs, each first measured uninterrupted (its duration T), then started again and killed at each
--fractions × T with SIGKILL to its whole process group (ansible-playbook is started in a session of
its own, so its workers and their ``podman exec`` clients die with it, as with a lost terminal, an
OOM kill or a CI timeout):

``rejected``  chat_callback.mtls.deploy with the other certificate set plus a directive nginx -t
              refuses (--rejected NAME=site.yml): the run must fail and change nothing.
``rotation``  chat_callback.mtls.rotate to the other certificate set (--site NAME=site.yml), A → B,
              then B → A, so that every run really replaces the files.

The two alternate (rejected at the first fraction, rotation at the first fraction, rejected at the
second…). A run that ends before its kill point (the machine got faster) is judged all the same,
its duration becomes that run's T, and the point is tried once more. After each kill, what must
hold at every instant of a run:

1. right after the kill, and again once no Ansible module has run on the host for --quiet seconds
   (a module whose controller died runs on to its end; one whose ``podman exec`` was under way may
   even start after the kill): ``nginx -t`` passes on the configuration on disk, and each
   certificate and key the site's server block names belong together (same public key);
2. nginx as the kill left it serves the site with set A's or set B's certificate, HTTP 200 to a
   client with the client certificate and 400 to one without;
3. ``systemctl restart nginx``, as an operator or a reboot would, then the same;
4. the next normal run (chat_callback.mtls.deploy, uninterrupted) with the set the host should have
   (the one it had for a rejected run, the new one for a rotation) succeeds, and the host then serves
   that set, 200 / 400.

When nginx runs older files than those on disk and those pass 1 (killed between writing them and
reloading), a restart would do the reload the next run must do by itself: then 4 comes before 3.

The checks run inside the host (files/host_check.py through ``podman exec``). Writes a JSON summary
(--summary) and prints a table; exits 0 when it could run every kill point (the verdicts are in the
summary, for the playbook to assert), 2 when it could not even measure the runs.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path

PLAYBOOKS = {
    "rejected": "chat_callback.mtls.deploy",
    "rotation": "chat_callback.mtls.rotate",
    "heal": "chat_callback.mtls.deploy",
}
TASK_LINE = re.compile(r"^(?:TASK|RUNNING HANDLER) \[(.*)\] \**$")
PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)


def name_value(text):
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, not {text!r}")
    return name, value


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--inventory", required=True, help="the molecule inventory ansible-playbook runs against")
    parser.add_argument("--host", required=True, help="the podman container (inventory host) under test")
    parser.add_argument("--server-name", required=True)
    parser.add_argument("--certificate", type=name_value, action="append", required=True,
                        help="NAME=PEM: the certificate (chain) of a set, to tell which set is served")
    parser.add_argument("--site", type=name_value, action="append", required=True,
                        help="NAME=site.yml: the good inputs deploying set NAME")
    parser.add_argument("--rejected", type=name_value, action="append", required=True,
                        help="NAME=site.yml: set NAME's inputs plus a directive nginx -t refuses")
    parser.add_argument("--initial", required=True, help="the set the host serves when this starts")
    parser.add_argument("--client-cert", required=True)
    parser.add_argument("--client-key", required=True)
    parser.add_argument("--fractions", required=True, help="comma-separated fractions of each run's duration")
    parser.add_argument("--ansible-playbook", default="ansible-playbook")
    parser.add_argument("--podman", default="podman")
    parser.add_argument("--host-check", required=True, help="files/host_check.py")
    parser.add_argument("--run-timeout", type=float, default=300, help="bound of one uninterrupted run (s)")
    parser.add_argument("--settle-timeout", type=float, default=120,
                        help="bound of the wait for the modules a killed run left running (s)")
    parser.add_argument("--quiet", type=float, default=3,
                        help="no module seen on the host for this long after a kill: none is left (s)")
    parser.add_argument("--log-dir", required=True, help="one output file per ansible-playbook run")
    parser.add_argument("--summary", required=True, help="JSON summary written here")
    args = parser.parse_args(argv)
    args.certificate = dict(args.certificate)
    args.site = dict(args.site)
    args.rejected = dict(args.rejected)
    args.fractions = [float(f) for f in args.fractions.split(",")]
    sets = set(args.certificate)
    if len(sets) != 2 or set(args.site) != sets or set(args.rejected) != sets or args.initial not in sets:
        parser.error("give --certificate, --site and --rejected for the same two sets, and --initial one of them")
    if not all(0 < f < 1 for f in args.fractions):
        parser.error("every fraction must be between 0 and 1")
    return args


def fingerprint(pem_path):
    first = PEM_CERT.search(Path(pem_path).read_text(encoding="ascii"))
    if not first:
        raise SystemExit(f"{pem_path}: no certificate")
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(first.group(0))).hexdigest()


class Tester:
    def __init__(self, args):
        self.args = args
        self.sets = sorted(args.certificate)
        self.set_of = {fingerprint(path): name for name, path in args.certificate.items()}
        self.host_check_source = Path(args.host_check).read_text(encoding="utf-8")
        self.client = {
            "client_cert": Path(args.client_cert).read_text(encoding="ascii"),
            "client_key": Path(args.client_key).read_text(encoding="ascii"),
        }
        self.log_dir = Path(args.log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.run_count = 0
        # Molecule's environment (its ansible.cfg, the collections path), without colour: the output
        # is read for the task headers.
        self.env = dict(os.environ, ANSIBLE_NOCOLOR="1", ANSIBLE_FORCE_COLOR="0", PY_COLORS="0")

    def other(self, name):
        return self.sets[1 - self.sets.index(name)]

    def served_set(self, fp):
        """The set a served certificate belongs to; "none" when nothing answered."""
        return self.set_of.get(fp, f"unknown {fp[:16]}") if fp else "none"

    # --- inside the host -------------------------------------------------------------------------

    def host(self, *steps, with_client=False):
        request = {"server_name": self.args.server_name, "steps": list(steps)}
        if with_client:
            request.update(self.client)
        started = time.monotonic()
        try:
            done = subprocess.run(
                [self.args.podman, "exec", "-i", self.args.host, "python3", "-c", self.host_check_source],
                input=json.dumps(request), capture_output=True, text=True, timeout=180, check=False,
            )
        except subprocess.TimeoutExpired:
            return {"error": f"host check {steps} timed out", "seconds": round(time.monotonic() - started, 2)}
        try:
            result = json.loads(done.stdout.strip().splitlines()[-1])
        except (IndexError, ValueError):
            result = {"error": f"host check {steps} failed (rc {done.returncode}): {done.stderr.strip()[-500:]}"}
        result["seconds"] = round(time.monotonic() - started, 2)
        return result

    # --- ansible-playbook ------------------------------------------------------------------------

    def playbook(self, kind, site_file, label, kill_after=None):
        """Run one ansible-playbook; with kill_after, SIGKILL its process group after that many seconds."""
        self.run_count += 1
        log_path = self.log_dir / f"{self.run_count:02d}-{label}.log"
        argv = [self.args.ansible_playbook, "-i", self.args.inventory, PLAYBOOKS[kind], "-e", f"@{site_file}"]
        lines = []
        started = time.monotonic()
        # A session of its own: its process group is exactly ansible-playbook, its workers and the
        # podman exec clients they start, and nothing of ours.
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env=self.env, start_new_session=True)

        def read():
            with log_path.open("w", encoding="utf-8") as log:
                for raw in proc.stdout:
                    line = raw.decode("utf-8", "replace").rstrip("\n")
                    at = time.monotonic() - started
                    lines.append((at, line))
                    log.write(f"{at:7.2f} {line}\n")

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        killed = False
        limit = kill_after if kill_after is not None else self.args.run_timeout
        try:
            proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            killed = True
        killed_at = time.monotonic() - started
        proc.wait()
        reader.join(timeout=10)
        tasks = [(at, m.group(1)) for at, line in lines if (m := TASK_LINE.match(line.strip()))]
        return {
            "log": str(log_path),
            "rc": None if killed else proc.returncode,
            "killed": killed,
            "timed_out": killed and kill_after is None,
            "seconds": round(killed_at, 2),
            # The task ansible-playbook had announced last when it died (a task runs after its header).
            "task_at_kill": tasks[-1][1] if tasks else "(before the first task)",
            "tail": [line for _at, line in lines[-12:]],
        }

    # --- one kill point ---------------------------------------------------------------------------

    def judge_host(self, state, expect_sets, where, failures, restart=False):
        """Append to failures what is wrong with a host check result."""
        if "error" in state:
            failures.append(f"{where}: {state['error']}")
            return
        if "nginx_t_rc" in state and state["nginx_t_rc"] != 0:
            failures.append(f"{where}: nginx -t fails on the configuration on disk: {state['nginx_t_output']}")
        if "pair_ok" in state and not state["pair_ok"]:
            bad = [p for p in state["pairs"] if not p["match"]] or [{"error": "no server block names a pair"}]
            failures.append(f"{where}: certificate and key on disk do not belong together: {bad}")
        if restart and state.get("restart_rc") != 0:
            failures.append(f"{where}: systemctl restart nginx failed: {state.get('restart_output')}")
        if "status_with_client_cert" in state:
            served = self.served_set(state.get("served_fingerprint"))
            if state["status_with_client_cert"] != 200 or state["status_without_client_cert"] != 400:
                failures.append(
                    f"{where}: HTTP {state['status_with_client_cert']} with the client certificate "
                    f"({state['error_with_client_cert']}), {state['status_without_client_cert']} without "
                    f"({state['error_without_client_cert']}); expected 200 / 400")
            if served not in expect_sets:
                failures.append(f"{where}: serves {served}, expected {' or '.join(expect_sets)}")

    def settle(self, at_kill):
        """Wait until no Ansible module has run on the host for --quiet seconds; the modules seen."""
        # A module whose podman exec was under way at the kill may start a moment later: it is
        # only over once none has been seen for a while.
        started = time.monotonic()
        seen = list(at_kill.get("modules_running", []))
        running = []
        last_seen = started if seen else started - self.args.quiet
        while time.monotonic() - started < self.args.settle_timeout:
            if time.monotonic() - last_seen >= self.args.quiet and time.monotonic() - started >= self.args.quiet:
                return seen, round(time.monotonic() - started, 2), []
            time.sleep(0.5)
            running = self.host("procs").get("modules_running", [])
            if running:
                last_seen = time.monotonic()
                seen.extend(m for m in running if m not in seen)
        return seen, round(time.monotonic() - started, 2), running

    def kill_point(self, kind, fraction, measured, current):
        target = self.other(current)
        site = self.args.rejected[target] if kind == "rejected" else self.args.site[target]
        desired = current if kind == "rejected" else target
        label = f"{kind}@{fraction:g}"
        point = {"id": f"{label} ({current}→{target}{' + bad directive' if kind == 'rejected' else ''})",
                 "run": kind, "fraction": fraction, "from": current, "to": target, "desired": desired,
                 "measured_seconds": round(measured, 2), "kill_after": round(fraction * measured, 2)}
        failures = []
        run = self.playbook(kind, site, label, kill_after=fraction * measured)
        point["run_result"] = run
        # At once: this is what a reboot or another tool's reload at this instant would find.
        point["at_kill"] = self.host("disk", "procs")
        self.judge_host(point["at_kill"], self.sets, "right after the kill", failures)
        point["modules_at_kill"] = point["at_kill"].get("modules_running", [])
        # The modules a dead controller left running go on; wait for them to end.
        point["modules_after_kill"], point["settle_seconds"], still = self.settle(point["at_kill"])
        if still:
            failures.append(f"modules {still} still ran {point['settle_seconds']} s after the kill")
        # What the running nginx serves, untouched, and what the files on disk would make it serve.
        point["settled"] = self.host("disk", "procs", "serve", with_client=True)
        self.judge_host(point["settled"], self.sets, "once the modules ended (nginx as it runs)", failures)
        served = point["settled"].get("served_fingerprint")
        # Killed between writing good files and reloading: nginx runs the old configuration, the disk
        # holds a new one that works. A restart would do the reload the next run must still do by
        # itself, so then the next run goes first and the restart comes after it. (With files that
        # do not work, the restart goes first: it is the outage to find.)
        point["stale"] = (bool(served) and served not in point["settled"].get("disk_fingerprints", [])
                          and point["settled"].get("nginx_t_rc") == 0 and bool(point["settled"].get("pair_ok")))
        if not point["stale"]:
            point["restarted"] = self.host("restart", "serve", with_client=True)
            self.judge_host(point["restarted"], self.sets, "restarted after the kill", failures, restart=True)
        heal = self.playbook("heal", self.args.site[desired], f"{label}-heal")
        point["heal_result"] = heal
        if heal["rc"] != 0:
            failures.append(f"the next normal run (deploy of {desired}"
                            f"{', nginx serving the old files' if point['stale'] else ''}) failed, rc {heal['rc']}: "
                            + " / ".join(heal["tail"][-6:]))
        point["healed"] = self.host("disk", "procs", "serve", with_client=True)
        self.judge_host(point["healed"], [desired], f"after the next normal run (deploy of {desired})", failures)
        if point["stale"]:
            point["restarted"] = self.host("restart", "serve", with_client=True)
            self.judge_host(point["restarted"], [desired], "restarted after the next normal run", failures,
                            restart=True)
        point["failures"] = failures
        return point

    @staticmethod
    def message(point):
        run = point["run_result"]
        when = (f"killed {run['seconds']} s into the run" if run["killed"]
                else f"not killed: the run ended after {run['seconds']} s (rc {run['rc']}), before its kill point")
        return (f"{point['id']}: {when} (T {point['measured_seconds']} s), task announced last: "
                f"{run['task_at_kill']}; modules that ran on the host after the kill: "
                f"{', '.join(point['modules_after_kill']) or 'none'}. " + " | ".join(point["failures"])
                + f" (log: {run['log']})")

    def state(self, check):
        """Set served and HTTP status with / without the client certificate, or down."""
        if check.get("status_with_client_cert") is None and check.get("served_fingerprint") is None:
            return "down" if "status_with_client_cert" in check else "-"
        return (f"{self.served_set(check.get('served_fingerprint'))} "
                f"{check['status_with_client_cert']}/{check['status_without_client_cert']}")

    def row(self, point):
        run = point["run_result"]
        at_kill, settled, healed = point["at_kill"], point["settled"], point["healed"]
        heal_ok = (point["heal_result"]["rc"] == 0 and healed.get("status_with_client_cert") == 200
                   and self.served_set(healed.get("served_fingerprint")) == point["desired"])
        task = run["task_at_kill"].replace("chat_callback.mtls.nginx_mtls : ", "role: ")
        disk = ",".join(self.served_set(fp) for fp in settled.get("disk_fingerprints", [])) or "-"
        return (
            f"{point['id']:36} {task[:50]:50} "
            f"{run['seconds'] if run['killed'] else 'ended':>6} {point['measured_seconds']:>6} "
            f"{(','.join(point['modules_after_kill']) or '-')[:14]:14} "
            f"{yes(at_kill.get('nginx_t_rc') == 0)}/{yes(settled.get('nginx_t_rc') == 0):4} "
            f"{yes(at_kill.get('pair_ok'))}/{yes(settled.get('pair_ok')):4} {disk[:4]:4} "
            f"{self.state(settled)[:10]:10} {self.state(point['restarted'])[:10]:10} "
            f"{'heal→restart' if point['stale'] else 'restart→heal':12} {yes(heal_ok):5} "
            f"{'ok' if not point['failures'] else 'FAIL'}"
        )

    # --- the whole test ----------------------------------------------------------------------------

    def measure(self, current):
        """Each run once, uninterrupted: its duration, and that it does what it should."""
        out = {}
        problems = []
        target = self.other(current)
        rejected = self.playbook("rejected", self.args.rejected[target], "measure-rejected")
        out["rejected"] = rejected
        state = self.host("disk", "serve", with_client=True)
        if rejected["rc"] in (0, None):
            problems.append(f"the rejected deploy did not fail (rc {rejected['rc']}): {rejected['tail'][-6:]}")
        self.judge_host(state, [current], "after the uninterrupted rejected deploy", problems)
        rotation = self.playbook("rotation", self.args.site[target], "measure-rotation")
        out["rotation"] = rotation
        state = self.host("disk", "serve", with_client=True)
        if rotation["rc"] != 0:
            problems.append(f"the uninterrupted rotation failed (rc {rotation['rc']}): {rotation['tail'][-6:]}")
        self.judge_host(state, [target], "after the uninterrupted rotation", problems)
        out["problems"] = problems
        return out, target

    def run(self):
        started = time.monotonic()
        summary = {"sets": {name: fp for fp, name in self.set_of.items()}, "points": []}
        measured, current = self.measure(self.args.initial)
        summary["measure"] = measured
        if measured["problems"]:
            summary["error"] = "; ".join(measured["problems"])
            return summary, 2
        durations = {kind: measured[kind]["seconds"] for kind in ("rejected", "rotation")}
        for fraction in self.args.fractions:
            for kind in ("rejected", "rotation"):
                for _attempt in range(2):
                    point = self.kill_point(kind, fraction, durations[kind], current)
                    summary["points"].append(point)
                    print(self.row(point), flush=True)
                    if kind == "rotation":
                        # The next run starts from the set served now (the heal's, unless it failed).
                        served = self.served_set(point["healed"].get("served_fingerprint"))
                        current = served if served in self.sets else point["desired"]
                    if point["run_result"]["killed"]:
                        break
                    # It ended before its kill point, faster than measured: its own duration is
                    # the newer measure, and the point is tried once more with it.
                    durations[kind] = point["run_result"]["seconds"]
        points = summary["points"]
        summary["verdicts"] = [{"id": p["id"], "ok": not p["failures"], "message": self.message(p)} for p in points]
        summary["counts"] = {
            "points": len(points),
            "killed": sum(p["run_result"]["killed"] for p in points),
            "killed_fractions": {kind: sorted({p["fraction"] for p in points
                                               if p["run"] == kind and p["run_result"]["killed"]})
                                 for kind in ("rejected", "rotation")},
            "failed": sum(bool(p["failures"]) for p in points),
            "module_running_after_kill": sum(bool(p["modules_after_kill"]) for p in points),
            "module_started_after_kill": sum(bool(set(p["modules_after_kill"]) - set(p["modules_at_kill"]))
                                             for p in points),
            "stale_nginx_after_kill": sum(p["stale"] for p in points),
            # Left for good in root's ~/.ansible/tmp by killed runs, seen after the next run (a module
            # that outlived its controller removes its own directory when it ends). The shared secret
            # search skips ansible-tmp-*: a module's AnsiballZ file holds its arguments in clear.
            "tmp_dirs_left": max((p["healed"].get("tmp_dirs_left", 0) for p in points), default=0),
            "tmp_files_with_key": sorted({f for p in points for f in p["healed"].get("tmp_files_with_key", [])}),
            "seconds": round(time.monotonic() - started, 1),
            "measured_seconds": durations,
        }
        return summary, 0


# module left: the modules that ran on the host after the kill; nginx -t and pair: right after the
# kill / once the modules ended; disk: the set the files on disk hold; running, restarted: the set
# served and the HTTP status with / without the client certificate, by nginx as the kill left it
# and after systemctl restart nginx; heal: the next normal run and what it serves.
HEADER = (f"{'kill point':36} {'task announced last':50} {'kill s':>6} {'T s':>6} {'module left':14} "
          f"{'nginx -t':9} {'pair':9} {'disk':4} {'running':10} {'restarted':10} {'order':12} {'heal':5} verdict")


def yes(value):
    return "ok" if value else "FAIL"


def main(argv=None):
    args = parse_args(argv)
    tester = Tester(args)
    print(HEADER, flush=True)
    summary, rc = tester.run()
    summary["table"] = [HEADER] + [tester.row(point) for point in summary["points"]]
    Path(args.summary).write_text(json.dumps(summary, indent=1), encoding="utf-8")
    if "error" in summary:
        print(f"ERROR: {summary['error']}", flush=True)
    for point in summary["points"]:
        for failure in point["failures"]:
            print(f"{point['id']}: {failure}", flush=True)
    counts = summary.get("counts")
    if counts:
        print(f"{counts['killed']} of {counts['points']} runs killed, {counts['failed']} kill points failed, "
              f"a module still ran on the host after {counts['module_running_after_kill']} kills "
              f"(started only after the kill: {counts['module_started_after_kill']}), nginx ran older files than "
              f"the good ones on disk after {counts['stale_nginx_after_kill']}; "
              f"T last used: {counts['measured_seconds']}; {counts['seconds']} s; Ansible temporary directories "
              f"left on the host: {counts['tmp_dirs_left']}, files there holding a private key: "
              f"{len(counts['tmp_files_with_key'])}", flush=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
