# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmarks of the nginx_mtls role on podman hosts: figures, not a test.

Runs the real entry point, ``ansible-playbook -i INVENTORY chat_callback.mtls.deploy -e @site.yml``,
against throwaway Debian 12 hosts (``localhost/chat-callback-mtls-host:debian-12``, as molecule) and
measures, each figure the median of several runs:

1. one host: cold converge (a) without nginx (the role apt-installs it) and (b) with nginx installed
   but unconfigured (bench-only image ``...:debian-12-nginx``, made once with ``podman commit``),
   the idempotent re-run and a certificate rotation: wall time and PLAY RECAP counts;
2. the physical floor on the same host: ``benchmarks/floor.sh`` copies the same files and server
   block with podman cp/exec, ``nginx -t``, ``systemctl reload nginx``; the role as a ratio of it;
3. fleet: 1, 4, 8 hosts with ``ANSIBLE_FORKS`` = hosts, deploy and idempotent re-run;
4. ``cert_check`` per bundle in-process (benchmarks/cert_check_bench.py) and as an ad-hoc module run;
5. TLS against the deployed site: full vs resumed handshakes, TLS 1.3 and 1.2, with and without
   ``ssl_verify_client`` (a bench-only plain-TLS server block on another port): the handshake with
   ``openssl s_time`` in the host container (and from this machine as a cross-check), nginx CPU per
   handshake above a plain-HTTP floor; the whole request with a Python ``ssl`` client;
6. where the idempotent re-run spends its time: per task (profile_tasks) and podman round trips;
7. the callback check (``nginx_mtls_callback_token``, njs): the role deployed with a token, requests/s and
   nginx CPU per resumed mTLS request with and without the check (benchmarks/bench_callback.py).

Section ``ssh`` (benchmarks/bench_ssh.py): deploy, re-run and rotations of one host over SSH, as users run them.

Prints a Markdown table and writes it to benchmarks/results.md. Containers are named ``mtls-bench-*``,
publish only 127.0.0.1:18490-18491 (the SSH host: port 22 on a free one) and are removed on exit, error or CTRL-C.

    .venv/bin/python benchmarks/bench_role.py [--runs 3] [--fleet-runs 1] [--only fleet,tls] ...

This file holds the options and the order of the sections; the rest is in its neighbours:
bench_common (names, ports, images, log, run), bench_hosts (podman hosts, PKI, inventories, the
machine), bench_runner (ansible-playbook runs, timed and parsed), bench_sections (cold, single,
fleet, module, profile, knobs), bench_tls (section 5), bench_ssh (section ssh), bench_callback (section
callback, 7) and bench_report (results.md).
"""

from __future__ import annotations

import argparse
import datetime
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# `make bench` runs this file as a script, which puts its folder on sys.path; imported any other way,
# the sibling modules below still have to be found.
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import bench_ssh  # noqa: E402
from bench_callback import section_callback  # noqa: E402
from bench_common import IMAGES, REPO, T0, BenchError, load, log  # noqa: E402
from bench_hosts import Hosts, ensure_nginx_image, machine_info, make_inputs, preflight  # noqa: E402
from bench_report import render  # noqa: E402
from bench_runner import Playbook  # noqa: E402
from bench_sections import (  # noqa: E402
    Ctx,
    extra_rounds,
    finish_rounds,
    section_cold,
    section_fleet,
    section_knobs,
    section_module,
    section_profile,
    section_single,
    setup_single,
)
from bench_tls import section_tls  # noqa: E402

SECTIONS = ("cold", "single", "ssh", "fleet", "module", "tls", "profile", "callback")
OPTIONAL_SECTIONS = ("knobs",)  # only with --only


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3,
                        help="runs per one-host figure (cold b, re-run, rotation, floor, SSH, module, TLS); default 3")
    parser.add_argument("--cold-runs", type=int, default=3,
                        help="runs of cold (a), each apt-installs nginx from the mirror; default 3")
    parser.add_argument("--fleet-runs", type=int, default=3, help="runs per fleet size above 1 host; default 3")
    parser.add_argument("--budget-minutes", type=float, default=15,
                        help="runs 2.. of cold (a) and of the fleets are left out when they would end the bench "
                             "after this many minutes (0: no limit); default 15")
    parser.add_argument("--fleet", default="1,4,8", help="fleet sizes, at most 8; default 1,4,8")
    parser.add_argument("--module-runs", type=int, default=200, help="in-process cert_check runs; default 200")
    parser.add_argument("--tls-seconds", type=float, default=3.0, help="seconds per TLS run; default 3")
    parser.add_argument("--tls-max", type=int, default=5000,
                        help="connections at most per Python TLS run (s_time runs stop on time only); default 5000")
    parser.add_argument("--tls-stime", choices=("both", "container", "host", "off"), default="both",
                        help="where openssl s_time measures the handshake: in the host container against "
                             "127.0.0.1 there, from this machine through the published port (the mTLS block "
                             "only), both (default; a missing openssl CLI leaves its rows out) or off")

    parser.add_argument("--callback-seconds", type=float, default=3.0,
                        help="seconds per run of the callback section (each variant, each round); default 3")
    parser.add_argument("--callback-rounds", type=int, default=5,
                        help="rounds of the callback section, with and without the check in each; default 5")
    parser.add_argument("--only", default="", help=f"comma-separated sections to run: {','.join(SECTIONS)}; "
                        "also knobs (idempotent re-run with connection settings changed), never run by default")
    parser.add_argument("--skip", default="", help="comma-separated sections to leave out")
    parser.add_argument("--debian", choices=("12", "13"), default="12",
                        help="Debian release of the hosts (`make image` builds both); default 12")
    parser.add_argument("--rebuild-image", action="store_true",
                        help="rebuild the hosts' image with nginx installed even if present")
    parser.add_argument("--output", type=Path, default=HERE / "results.md", help="Markdown results file")
    parser.add_argument("--keep-work", action="store_true", help="keep the work dir (PKI, inventories, logs)")
    args = parser.parse_args(argv)
    args.fleet = sorted({int(n) for n in args.fleet.split(",") if n.strip()})
    if not args.fleet or min(args.fleet) < 1 or max(args.fleet) > 8:
        parser.error("--fleet sizes must be between 1 and 8")
    for opt in ("runs", "cold_runs", "fleet_runs", "module_runs", "tls_max", "callback_rounds"):
        if getattr(args, opt) < 1:
            parser.error(f"--{opt.replace('_', '-')} must be at least 1")
    if args.budget_minutes < 0:
        parser.error("--budget-minutes must not be negative")
    if not 0 < args.tls_seconds <= 60:
        parser.error("--tls-seconds must be in (0, 60]")
    if not 0 < args.callback_seconds <= 60:
        parser.error("--callback-seconds must be in (0, 60]")
    only = {s for s in args.only.split(",") if s}
    skip = {s for s in args.skip.split(",") if s}
    unknown = (only | skip) - set(SECTIONS + OPTIONAL_SECTIONS)
    if unknown:
        parser.error(f"unknown sections {sorted(unknown)}; known: {', '.join(SECTIONS + OPTIONAL_SECTIONS)}")
    args.sections = [s for s in SECTIONS if (not only or s in only) and s not in skip]
    args.sections += [s for s in OPTIONAL_SECTIONS if s in only]
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    IMAGES["base"] = f"localhost/chat-callback-mtls-host:debian-{args.debian}"
    IMAGES["nginx"] = f"{IMAGES['base']}-nginx"
    os.environ.setdefault("CONTAINERS_CONF", str(REPO / "tests" / "containers.conf"))
    venv_bin = REPO / ".venv" / "bin"
    if venv_bin.is_dir() and str(venv_bin) not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = f"{venv_bin}{os.pathsep}{os.environ.get('PATH', '')}"
    os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", str(REPO / "build" / "collections"))

    def on_term(signum, _frame):
        log(f"stopped by signal {signal.Signals(signum).name}")
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    # CTRL-C even when started in the background of a script (which leaves SIGINT ignored).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    hosts = Hosts()
    work = Path(tempfile.mkdtemp(prefix="mtls-bench-"))
    ok = False
    try:
        preflight()
        info = machine_info(work)
        info["cmdline"] = "python benchmarks/bench_role.py " + " ".join(argv if argv is not None else sys.argv[1:])
        info["cmdline"] = info["cmdline"].strip()
        log(f"machine: {info['cpu']}, {info['cores']} cores, {info['mem']}, load {info['load_start']}, "
            f"ansible-core {info['ansible_core']}, {info['other_containers']} other containers running")
        log(f"sections: {', '.join(args.sections)}; runs {args.runs}, cold (a) {args.cold_runs}, "
            f"fleet {args.fleet} × {args.fleet_runs}; work dir {work}")
        inputs = make_inputs(work)
        pb = Playbook(work)
        res: dict = {}
        needs_hosts = set(args.sections) & {"single", "ssh", "fleet", "tls", "profile", "callback"}
        if needs_hosts:
            info["nginx_image"] = ensure_nginx_image(hosts, args.rebuild_image)
        ctx = Ctx(args=args, hosts=hosts, work=work, inputs=inputs, pb=pb, res=res, info=info)
        if "cold" in args.sections:
            section_cold(ctx)
        if "single" in args.sections:
            section_single(ctx)
        elif set(args.sections) & {"tls", "profile", "knobs", "callback"}:
            setup_single(ctx)
        if "ssh" in args.sections:
            bench_ssh.section_ssh(ctx)
        if "fleet" in args.sections:
            section_fleet(ctx)
        if "module" in args.sections:
            section_module(args, work, res)
        if "tls" in args.sections:
            section_tls(args, inputs, res)
        if "profile" in args.sections:
            section_profile(ctx)
        if "knobs" in args.sections:
            section_knobs(ctx)
        # Last of the sections on the one host: it redeploys that host with the token, which the
        # idempotent re-runs of profile and knobs would otherwise see as a change.
        if "callback" in args.sections:
            section_callback(ctx)
        extra_rounds(ctx)
        finish_rounds(ctx)
        info["budget_cut"] = sorted(ctx.budget_cut)
        if "single" not in args.sections:
            res.pop("single", None)
        info["load_end"] = load()
        info["total"] = time.monotonic() - T0
        info["date"] = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        report = render(info, res, args)
        print(report)
        args.output.write_text(report + "\n")
        log(f"wrote {args.output}; total {info['total']:.0f} s; {pb.count} ansible-playbook runs")
        ok = True
        return 0
    except BenchError as exc:
        log(f"ERROR: {exc}")
        return 1
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        hosts.cleanup()
        if ok and not args.keep_work:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"work dir kept: {work} (logs in {work / 'logs'})")


if __name__ == "__main__":
    sys.exit(main())
