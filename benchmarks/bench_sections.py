# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The measurements on podman hosts other than TLS: sections cold, single, fleet, module, profile, knobs.

Each section_* function leaves its figures in the results dict (ctx.res), which bench_report renders.
The runs of cold (a) and of the fleets after the first come last (extra_rounds), as the time
budget allows; finish_rounds() turns them into figures.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import cert_check_bench
from bench_common import (CONF_DIR, HERE, IMAGES, PORT_MTLS, PORT_PLAIN, PREFIX, SERVER_NAME, SINGLE, T0,
                          BenchError, load, load1, log, median, run)
from bench_hosts import Hosts, exec_in, read_host_versions, time_round_trip, write_inventory
from bench_runner import Playbook, recap_of, round_trips, row_stats


@dataclass
class Ctx:
    """What the sections share: the options, hosts, work dir, inputs, runner, results and machine info."""

    args: argparse.Namespace
    hosts: Hosts
    work: Path
    inputs: dict
    pb: Playbook
    res: dict
    info: dict
    rounds: dict = field(default_factory=dict)  # cold (a) and fleet runs, finished by finish_rounds()
    estimate: dict = field(default_factory=dict)  # seconds one more run of each takes
    budget_cut: set = field(default_factory=set)


# --------------------------------------------------------------------------------------------
# one host and fleets: cold (a), single (with the floor), fleet


def cold_round(ctx: Ctx, i: int) -> None:
    name = PREFIX + "cold"
    inventory = write_inventory(ctx.work, "cold", [name])
    ctx.hosts.start([name], IMAGES['base'])
    log(f"cold (a) run {i + 1}/{ctx.args.cold_runs}: deploy on a host without nginx (apt update + install) ...")
    r = ctx.pb.run(inventory, ctx.inputs["sets"]["a"]["site"], f"cold-a-{i + 1}")
    log(f"  {r['wall']:.1f} s {recap_of(r, name)} load {load()}")
    ctx.hosts.remove([name])
    ctx.rounds.setdefault("cold", []).append(r)


def section_cold(ctx: Ctx) -> None:
    """The first run; more (up to --cold-runs) at the end, as the time budget allows."""
    start = time.monotonic()
    cold_round(ctx, 0)
    ctx.estimate["cold"] = time.monotonic() - start


def fleet_round(ctx: Ctx, n: int, i: int, keep: bool):
    args, hosts, work, inputs, pb = ctx.args, ctx.hosts, ctx.work, ctx.inputs, ctx.pb
    if n == 1:
        names, ports = [SINGLE], ((PORT_MTLS, 443), (PORT_PLAIN, 8443))
    else:
        names, ports = [f"{PREFIX}f{k + 1}" for k in range(n)], ()
    hosts.start(names, IMAGES['nginx'], ports)
    inventory = write_inventory(work, f"fleet{n}", names)
    site = inputs["sets"]["a"]["site"]
    runs = args.runs if n == 1 else args.fleet_runs
    log(f"fleet {n} run {i + 1}/{runs}: deploy on installed-but-unconfigured host(s), forks {n} ...")
    deploy = pb.run(inventory, site, f"fleet{n}-deploy-{i + 1}", forks=n)
    log(f"  deploy {deploy['wall']:.1f} s {recap_of(deploy, names[0])} load {load()}")
    rerun = pb.run(inventory, site, f"fleet{n}-rerun-{i + 1}", forks=n)
    log(f"  idempotent re-run {rerun['wall']:.1f} s {recap_of(rerun, names[0])} load {load()}")
    for r in (deploy, rerun):
        bad = [h for h in names if recap_of(r, h).get("ok") is None]
        if bad:
            raise BenchError(f"fleet {n}: no PLAY RECAP for {bad}; log {r['log']}")
    if not keep:
        hosts.remove(names)
    return deploy, rerun, names[0]


def section_single(ctx: Ctx) -> None:
    """Cold (b) and idempotent (= fleet of 1), rotation, the floor; leaves SINGLE running with set a or b."""
    args, work, inputs, pb, res, info = ctx.args, ctx.work, ctx.inputs, ctx.pb, ctx.res, ctx.info
    deploys, reruns = [], []
    for i in range(args.runs):
        deploy, rerun, _first = fleet_round(ctx, 1, i, keep=i == args.runs - 1)
        deploys.append(deploy)
        reruns.append(rerun)
    single = res.setdefault("single", {})
    single["cold_b"] = row_stats(deploys, SINGLE)
    single["idempotent"] = row_stats(reruns, SINGLE)
    single["idempotent_runs"] = reruns
    res.setdefault("fleet", {})[1] = {"deploy": single["cold_b"], "rerun": single["idempotent"]}
    read_host_versions(info)

    inventory = write_inventory(work, "single", [SINGLE])
    rotations, current = [], "a"
    for i in range(args.runs):
        current = "b" if current == "a" else "a"
        log(f"rotation {i + 1}/{args.runs}: deploy certificate set {current} ...")
        r = pb.run(inventory, inputs["sets"][current]["site"], f"rotation-{i + 1}-{current}")
        rotations.append(r)
        log(f"  {r['wall']:.1f} s {recap_of(r, SINGLE)} load {load()}")
    single["rotation"] = row_stats(rotations, SINGLE)
    res["current_set"] = current
    if "profile" in args.sections:  # the host is converged: an idempotent re-run, before the floor changes it
        res["profile_vvv"] = profile_vvv(ctx)

    # The floor: the deployed host's own server block, the same three files.
    server_block = exec_in(SINGLE, f"cat {CONF_DIR}/conf.d/{SERVER_NAME}.conf")
    staging = {label: stage_floor(work, inputs, label, server_block) for label in ("a", "b")}
    for key, one_exec in (("floor", False), ("floor_one", True)):
        samples, loads = [], []
        for i in range(args.runs):
            current = "b" if current == "a" else "a"
            samples.append(time_floor(SINGLE, staging[current], one_exec))
            loads.append(load1())
            log(f"floor{' (one exec)' if one_exec else ''} {i + 1}/{args.runs}: set {current} "
                f"{samples[-1]:.2f} s load {load()}")
        single[key] = {"median": median(samples), "min": min(samples), "max": max(samples), "n": len(samples),
                       "load": median(loads)}
    res["current_set"] = current
    rt = time_round_trip(SINGLE, max(5, args.runs * 3))
    single["round_trip"] = {"median": median(rt), "min": min(rt), "max": max(rt), "n": len(rt), "load": load1()}
    log(f"podman exec round trip: median {median(rt):.2f} s over {len(rt)}")


def stage_floor(work: Path, inputs: dict, label: str, server_block: str) -> Path:
    staging = work / f"floor-{label}"
    (staging / "conf.d").mkdir(parents=True, exist_ok=True)
    folder = inputs["sets"][label]["folder"]
    shutil.copy2(folder / f"{SERVER_NAME}.crt", staging / f"{SERVER_NAME}.crt")
    shutil.copy2(folder / f"{SERVER_NAME}.key", staging / f"{SERVER_NAME}.key")
    shutil.copy2(inputs["dir"] / "TencentQQAuthCA.crt", staging / "TencentQQAuthCA.crt")
    (staging / "conf.d" / f"{SERVER_NAME}.conf").write_text(server_block)
    return staging


def time_floor(host: str, staging: Path, one_exec: bool) -> float:
    cmd = ["bash", str(HERE / "floor.sh"), *(["--one-exec"] if one_exec else []), host, str(staging)]
    start = time.perf_counter()
    run(cmd, timeout=300)
    return time.perf_counter() - start


def setup_single(ctx: Ctx) -> None:
    """Without the single section: one deployed host for the TLS and profile sections."""
    hosts, work, inputs, pb, info = ctx.hosts, ctx.work, ctx.inputs, ctx.pb, ctx.info
    hosts.start([SINGLE], IMAGES['nginx'], ((PORT_MTLS, 443), (PORT_PLAIN, 8443)))
    log(f"deploying {SINGLE} once for the TLS / profile sections ...")
    pb.run(write_inventory(work, "single", [SINGLE]), inputs["sets"]["a"]["site"], "setup-deploy")
    read_host_versions(info)


def section_fleet(ctx: Ctx) -> None:
    """Each size once (1 host: --runs times, unless the single section measured it); more at the end."""
    for n in ctx.args.fleet:
        if n == 1 and 1 in ctx.res.get("fleet", {}):
            continue
        for i in range(ctx.args.runs if n == 1 else 1):
            start = time.monotonic()
            ctx.rounds.setdefault(n, []).append(fleet_round(ctx, n, i, keep=False))
            ctx.estimate[n] = time.monotonic() - start


# --------------------------------------------------------------------------------------------
# the runs after the first, as --budget-minutes allows


def extra_rounds(ctx: Ctx) -> None:
    """Runs 2.. of cold (a) and of the fleets above 1 host, round-robin, while --budget-minutes allows."""
    args = ctx.args
    wanted: dict = {}
    if "cold" in args.sections:
        wanted["cold"] = args.cold_runs
    if "fleet" in args.sections:
        wanted.update({n: args.fleet_runs for n in args.fleet if n > 1})
    budget = args.budget_minutes * 60
    for k in range(1, max(wanted.values(), default=1)):
        for item, want in wanted.items():
            if k >= want:
                continue
            label = "cold (a)" if item == "cold" else f"fleet {item}"
            elapsed = time.monotonic() - T0
            if budget and elapsed + ctx.estimate.get(item, 0) > budget:
                log(f"no run {k + 1} of {label}: {elapsed:.0f} s + ~{ctx.estimate.get(item, 0):.0f} s would pass "
                    f"--budget-minutes {args.budget_minutes:g}")
                ctx.budget_cut.add(label)
                continue
            if item == "cold":
                cold_round(ctx, k)
            else:
                ctx.rounds[item].append(fleet_round(ctx, item, k, keep=False))


def finish_rounds(ctx: Ctx) -> None:
    if ctx.rounds.get("cold"):
        ctx.res["cold"] = row_stats(ctx.rounds["cold"], PREFIX + "cold")
    fleet = ctx.res.setdefault("fleet", {})
    for n, rounds in ctx.rounds.items():
        if n == "cold":
            continue
        first = rounds[0][2]
        fleet[n] = {"deploy": row_stats([r[0] for r in rounds], first),
                    "rerun": row_stats([r[1] for r in rounds], first)}
    if not fleet:
        ctx.res.pop("fleet")


# --------------------------------------------------------------------------------------------
# cert_check, in-process and as an ad-hoc module run


def section_module(args, work: Path, res: dict) -> None:
    folder = work / "cert-check"
    folder.mkdir()
    bundles = cert_check_bench.build_bundles(folder)
    rows = []
    for bundle in bundles:
        def from_files(b=bundle):
            facts, problems = cert_check_bench.cert_checks.check_params(b["params"])
            assert not problems, problems
            return facts

        def in_memory(b=bundle):
            facts, problems = cert_check_bench.cert_checks.check_bundle(
                b["chain"], b["key"], b["ca_bundle"], cert_check_bench.SERVER_NAME, client_ca_sha256=b["pins"])
            assert not problems, problems
            return facts

        for what, func in (("check_bundle (bytes)", in_memory), ("check_params (files, zip, verify)", from_files)):
            med, p90 = cert_check_bench.measure(func, args.module_runs)
            rows.append({"what": what, "bundle": bundle["label"], "median": med, "p90": p90,
                         "runs": args.module_runs})
            log(f"cert_check in-process {bundle['label']} {what}: median {med:.2f} ms")
    adhoc = []
    bundle = bundles[0]
    for what, module, module_args in (
        ("ansible localhost -m ansible.builtin.ping", "ansible.builtin.ping", {}),
        ("ansible localhost -m chat_callback.mtls.cert_check", "chat_callback.mtls.cert_check", bundle["params"]),
    ):
        samples = []
        for _i in range(args.runs):
            start = time.perf_counter()
            run(["ansible", "localhost", "-m", module, *(["-a", json.dumps(module_args)] if module_args else []),
                 "-e", f"ansible_python_interpreter={sys.executable}"], timeout=120)
            samples.append(time.perf_counter() - start)
        adhoc.append({"what": what, "bundle": bundle["label"] if module_args else "-", "median": median(samples),
                      "max": max(samples), "runs": len(samples)})
        log(f"{what}: median {median(samples):.2f} s")
    res["module"] = {"inprocess": rows, "adhoc": adhoc}


# --------------------------------------------------------------------------------------------
# the idempotent re-run: where it spends its time, and with other connection settings


def profile_vvv(ctx: Ctx) -> dict:
    inventory = write_inventory(ctx.work, "single", [SINGLE])
    site = ctx.inputs["sets"][ctx.res.get("current_set", "a")]["site"]
    log("profile: one idempotent re-run with -vvv to count podman round trips per task ...")
    verbose = ctx.pb.run(inventory, site, "profile-vvv", verbose=True)
    log(f"  {verbose['wall']:.1f} s {recap_of(verbose, SINGLE)} load {load()}")
    return verbose


def section_profile(ctx: Ctx) -> None:
    args, work, inputs, pb, res = ctx.args, ctx.work, ctx.inputs, ctx.pb, ctx.res
    reruns = res.get("single", {}).get("idempotent_runs")
    if not reruns:  # without the single section: the re-runs are made here, on the host setup_single made
        inventory = write_inventory(work, "single", [SINGLE])
        site = inputs["sets"][res.get("current_set", "a")]["site"]
        reruns = [pb.run(inventory, site, f"profile-rerun-{i + 1}") for i in range(args.runs)]
    verbose = res.get("profile_vvv") or profile_vvv(ctx)
    trips = round_trips(verbose["output"])
    names = list(dict.fromkeys([t for r in reruns for t in r["tasks"]] + list(trips)))
    rows = []
    for task in names:
        secs = median([r["tasks"].get(task, 0.0) for r in reruns])
        counts = trips.get(task, {"modules": 0, "exec": 0, "mount": 0, "cp": 0, "local": 0})
        if secs < 0.2 and not any(counts.values()):
            continue
        rows.append({"task": task, "secs": secs, **counts})
    rows.sort(key=lambda r: -r["secs"])
    totals = {k: sum(r[k] for r in rows) for k in ("secs", "modules", "exec", "mount", "cp", "local")}
    rt = res.get("single", {}).get("round_trip", {}).get("median")
    if rt is None:
        rt = median(time_round_trip(SINGLE, 5))
    res["profile"] = {"rows": rows, "totals": totals, "runs": len(reruns), "wall": median([r["wall"] for r in reruns]),
                      "round_trip": rt}
    log(f"profile: {totals['exec']} podman exec + {totals['mount']} mount in the re-run")


KNOBS = (
    ("as shipped", {}, ()),
    ("ANSIBLE_PIPELINING=True", {"ANSIBLE_PIPELINING": "True"}, ()),
    ("ANSIBLE_REMOTE_TMP=/root/.ansible/tmp (absolute: no `echo ~`)", {"ANSIBLE_REMOTE_TMP": "/root/.ansible/tmp"}, ()),
    ("-e ansible_become=false (already root: no sudo)", {}, ("-e", "ansible_become=false")),
    ("both of the last two", {"ANSIBLE_REMOTE_TMP": "/root/.ansible/tmp"}, ("-e", "ansible_become=false")),
)


def section_knobs(ctx: Ctx) -> None:
    """The idempotent re-run of one host with connection settings changed: wall time and podman round trips."""
    inventory = write_inventory(ctx.work, "single", [SINGLE])
    site = ctx.inputs["sets"][ctx.res.get("current_set", "a")]["site"]
    rows = []
    samples: dict = {label: [] for label, _env, _extra in KNOBS}
    trips: dict = {}
    for i in range(ctx.args.runs):  # round-robin over the variants
        for label, env, extra in KNOBS:
            r = ctx.pb.run(inventory, site, f"knob-{label[:20]}-{i + 1}", verbose=True, extra_env=env,
                           extra_args=extra)
            samples[label].append(r)
            counts = round_trips(r["output"])
            trips[label] = {k: sum(c[k] for c in counts.values()) for k in ("modules", "exec", "mount", "cp", "local")}
            log(f"knob {label} run {i + 1}/{ctx.args.runs}: {r['wall']:.1f} s, {trips[label]}, "
                f"{recap_of(r, SINGLE)} load {load()}")
    for label, _env, _extra in KNOBS:
        st = row_stats(samples[label], SINGLE)
        rows.append({"label": label, **st, **trips[label]})
    ctx.res["knobs"] = rows
