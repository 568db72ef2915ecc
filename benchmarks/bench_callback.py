# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Section callback: what the callback check (nginx_mtls_callback_token, njs) costs a resumed mTLS request.

section_callback() deploys the role on the one-host container (SINGLE) again, with the token and an
SDKAppID set, so that the block measured "with the check" is the role's own, njs installed by the
role. Next to it, on port 8443, a bench-only copy of that block without the check lines (what the
role writes without a token). A Python ``ssl`` client sends the same callback-shaped request to both:
a resumed TLS 1.3 handshake with the client certificate, one ``GET /?SdkAppid=..&RequestTime=..&Sign=..``
with a fresh valid Sign, ``Connection: close``. Within each round the client switches between the two
every SLICE seconds, nginx's CPU read around each slice (drift in the machine's load hits both alike);
the cost of the check is the median over the rounds of (nginx CPU per request with − without) /
without. render() writes its table into results.md.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import ssl
import time
from pathlib import Path
from urllib.parse import urlencode

from bench_common import (CONF_DIR, PORT_MTLS, PORT_PLAIN, SERVER_NAME, SINGLE, BenchError, load, load1, log, median,
                          run)
from bench_hosts import exec_in, write_inventory
from bench_tls import tls_connection, tls_context

TARGET_PCT = 10.0  # issue #14: the check costs under 10 % of a resumed mTLS request
SDKAPPID = "1400000000"
SLICE = 0.25  # seconds of requests to one variant before switching to the other
WITHOUT_PORT = 8443  # published on PORT_PLAIN, like the TLS section's bench-only block (which this replaces)
BENCH_CONF = f"{CONF_DIR}/conf.d/zz-mtls-bench-callback.conf"
# The TLS section's bench-only blocks: they hold 8443 and copies of the block deployed before the token.
TLS_BENCH_CONF = f"{CONF_DIR}/conf.d/zz-mtls-bench-plain.conf"
MTLS_LOG = f"/var/log/nginx/{SERVER_NAME}.mtls.log"  # the role's JSON access log (nginx_mtls_access_log)
VARIANTS = (("without", "without the check (bench-only copy, :8443)", PORT_PLAIN),
            ("with", "with the check (the role's block, :443)", PORT_MTLS))

# Run in the host container: the access log's length and its callback verdicts after line $SINCE; and
# nginx's CPU, for when NginxCpu cannot read it from this machine: per process /proc/PID/schedstat's
# first field (ns on a CPU) and stat's utime+stime (ticks) for kernels without CONFIG_SCHED_INFO.
STATE_SH = """for p in $(pgrep -x nginx); do
  s=$(cat /proc/$p/schedstat 2>/dev/null) && echo "NS ${s%% *}"
  echo "STAT $(cat /proc/$p/stat 2>/dev/null)"
done
echo "TICK $(getconf CLK_TCK)"
if [ -f "$LOG" ]; then echo "LOG $(wc -l < "$LOG")"; else echo "LOG -1"; fi
if [ -n "$SINCE" ] && [ -f "$LOG" ]; then
  tail -n "+$SINCE" "$LOG" | grep -o '"callback":"[a-z_]*"' | sort | uniq -c | sed 's/^/VERDICT /'
fi
"""


def section_callback(ctx) -> None:
    """Deploy with the token, check the site answers as it should, then the alternating rounds."""
    args, res = ctx.args, ctx.res
    token = secrets.token_urlsafe(24)  # [A-Za-z0-9_-]: inside the role's allowed characters
    site = ctx.work / "site-callback.yml"
    base = ctx.inputs["sets"][res.get("current_set", "a")]["site"]
    # Only the callback variables change from the deployed site: the same certificate set.
    site.write_text(base.read_text() + "# bench: the callback check on (issue #14)\n"
                    f"nginx_mtls_callback_token: {json.dumps(token)}\n"
                    f"nginx_mtls_callback_sdkappid: {json.dumps(SDKAPPID)}\n")
    site.chmod(0o600)
    # The TLS section's bench-only blocks hold 8443, which the copy without the check takes.
    exec_in(SINGLE, f"rm -f {TLS_BENCH_CONF} && nginx -t -q && systemctl reload nginx")
    log("callback: deploying the role with nginx_mtls_callback_token set (the role installs njs) ...")
    deploy = ctx.pb.run(write_inventory(ctx.work, "single", [SINGLE]), site, "callback-deploy")
    out = res["callback"] = {"deploy_wall": deploy["wall"], "deploy_recap": deploy["recap"].get(SINGLE, {}),
                             "seconds": args.callback_seconds, "rounds": []}
    log(f"  {deploy['wall']:.1f} s {out['deploy_recap']} load {load()}")
    block = exec_in(SINGLE, f"cat {CONF_DIR}/conf.d/{SERVER_NAME}.conf")
    if "js_set" not in block:
        raise BenchError(f"callback: the deployed block has no js_set: the check is not on\n{block}")
    exec_in(SINGLE, f"cat > {BENCH_CONF} && nginx -t -q && systemctl reload nginx",
            input_data=without_check_block(block))
    out["njs"] = exec_in(SINGLE, "dpkg-query -W -f '${Version}' libnginx-mod-http-js 2>/dev/null || true").strip()
    tls = tls_context(ctx.inputs, "TLSv1.3")
    out["checks"] = sanity_checks(tls, token)

    cpu = NginxCpu(SINGLE)
    out["cpu_source"] = cpu.source
    samples: dict = {key: [] for key, _label, _port in VARIANTS}
    for i in range(args.callback_rounds):
        # The first variant of a round alternates too: whatever the first slice pays (a colder cache,
        # the log read before it) does not always fall on the same one.
        order = VARIANTS if i % 2 == 0 else VARIANTS[::-1]
        since = server_state()["log"]
        pair = callback_round(tls, token, cpu, order, seconds=args.callback_seconds, max_count=args.tls_max)
        verdicts = server_state(since=since)["verdicts"]
        for key, _label, _port in VARIANTS:
            sample = pair[key]
            sample["load"] = load1()
            sample["verdicts"] = {v: n for v, n in verdicts.items() if (v == "ok") == (key == "with")}
            samples[key].append(sample)
            log(f"callback round {i + 1}/{args.callback_rounds} {key} the check: {sample['rate']:.0f} req/s, "
                f"nginx CPU {sample['server_cpu_us']:.0f} µs/req, reused {sample['reused']}/{sample['count']}, "
                f"HTTP {sample['statuses']}, {sample['slices']} slices, load {load()}")
        base_us = pair["without"]["server_cpu_us"]
        out["rounds"].append({
            "cost_pct": (pair["with"]["server_cpu_us"] - base_us) * 100 / base_us if base_us > 0 else float("nan"),
            "rate_pct": (pair["with"]["rate"] / pair["without"]["rate"] - 1) * 100,
        })
    out["rows"] = {key: summary(samples[key]) for key, _label, _port in VARIANTS}
    out["cost_pct"] = median([r["cost_pct"] for r in out["rounds"]])
    out["rate_pct"] = median([r["rate_pct"] for r in out["rounds"]])
    out["alerts"] = exec_in(SINGLE, "grep -c 'could not allocate new session' /var/log/nginx/error.log || true").strip()
    log(f"callback: the check costs {out['cost_pct']:.1f} % of a resumed mTLS request's nginx CPU "
        f"(median of {len(out['rounds'])} rounds; target < {TARGET_PCT:g} %)")


def without_check_block(block: str) -> str:
    """The role's server {} on WITHOUT_PORT, its callback lines replaced by what the role writes without
    a token. The http-level lines before it (maps, log_format) are left out: the role's file declares them,
    and nginx refuses a second declaration."""
    start = block.find("\nserver {")
    if start < 0:
        raise BenchError(f"callback: no `server {{` in the deployed block\n{block}")
    lines, skip_if = [], False
    for line in block[start + 1:].splitlines():
        stripped = line.strip()
        if skip_if:  # inside `if ($nginx_mtls_verdict ...) { return 40x; }`
            skip_if = stripped != "}"
            continue
        if stripped.startswith("if ($nginx_mtls_verdict"):
            skip_if = True
        elif stripped.startswith("listen [::]"):
            pass
        elif stripped.startswith("listen "):
            lines.append(re.sub(r"listen\s+(?:\S+:)?\d+", f"listen {WITHOUT_PORT}", line))
        elif stripped.startswith(("js_import ", "js_set ", "set $nginx_mtls_callback", "include ")) \
                and ("callback" in stripped):
            pass
        elif stripped.startswith("set $nginx_mtls_verdict $nginx_mtls_callback"):
            # the role's line when the token is empty
            lines.append(line.replace("$nginx_mtls_callback", "off"))
        else:
            lines.append(line)
    text = "\n".join(lines)
    if "callback" in re.sub(r"#.*", "", text):
        raise BenchError(f"callback: callback lines left in the bench-only copy (has the template changed?)\n{text}")
    # The same session cache zone as the role's block (same size, same kind of sessions): the two
    # variants differ only by the check.
    return "# bench only (benchmarks/bench_callback.py): the role's block without the callback check\n" + text + "\n"


# --------------------------------------------------------------------------------------------
# the client


def callback_path(token: str, *, sign_ok: bool = True, sdkappid: str = SDKAPPID, request_time=None) -> str:
    """A callback URL as the platform sends it (its query args), with a fresh Sign for RequestTime."""
    now = str(int(time.time()) if request_time is None else request_time)
    sign = hashlib.sha256((token + now).encode()).hexdigest()
    if not sign_ok:
        sign = sign[::-1]  # 64 hex chars, the right shape, the wrong value
    query = {"SdkAppid": sdkappid, "CallbackCommand": "C2C.CallbackAfterSendMsg", "contenttype": "json",
             "ClientIP": "127.0.0.1", "OptPlatform": "RESTAPI", "RequestTime": now, "Sign": sign}
    return "/?" + urlencode(query)


def request(ctx: ssl.SSLContext, port: int, path: str, session=None):
    """One request, one handshake (no keep-alive): status, whether the session was reused, the session."""
    _version, reused, new_session, status = tls_connection(ctx, port, session, path)
    return status, reused, new_session


def sanity_checks(ctx: ssl.SSLContext, token: str) -> list:
    """A few requests whose answers prove the check is on at :443 and off at :8443; raises otherwise."""
    cases = (
        ("valid Sign, :443", PORT_MTLS, callback_path(token), 200),
        ("wrong Sign, :443", PORT_MTLS, callback_path(token, sign_ok=False), 401),
        ("RequestTime 10 min old, :443", PORT_MTLS, callback_path(token, request_time=int(time.time()) - 600), 401),
        ("no Sign nor RequestTime, :443", PORT_MTLS, "/?SdkAppid=" + SDKAPPID, 401),
        ("another SdkAppid, :443", PORT_MTLS, callback_path(token, sdkappid="1400000001"), 403),
        ("wrong Sign, :8443 (no check)", PORT_PLAIN, callback_path(token, sign_ok=False), 200),
    )
    out = []
    for label, port, path, want in cases:
        try:
            got = request(ctx, port, path)[0]
        except (OSError, ValueError) as exc:
            raise BenchError(f"callback check {label}: {exc}") from exc
        if got != want:
            raise BenchError(f"callback check {label}: HTTP {got}, expected {want}: the site is not configured "
                             "as the bench assumes")
        out.append(f"{label} → {got}")
    return out


class NginxCpu:
    """The container's nginx processes' time on a CPU, in seconds.

    Read from this machine's /proc (rootful podman: the container's processes are ours to see, found by
    their pid namespace), which takes microseconds: the runs can switch between the variants every
    SLICE seconds and read the CPU around each slice, so that a change of the machine's load falls on
    both variants alike. /proc/PID/task/*/schedstat's first field is ns on a CPU (stat's 10 ms ticks
    are too coarse for a difference of a few per cent in a quarter of a second). Without that (another
    pid namespace, no schedstat), a `podman exec` per read, and one slice per variant and round."""

    def __init__(self, host: str) -> None:
        self.pids: list = []
        with contextlib.suppress(OSError, ValueError, BenchError):
            init = run(["podman", "inspect", "--format", "{{.State.Pid}}", host]).stdout.strip()
            ns = os.readlink(f"/proc/{int(init)}/ns/pid")
            for proc in Path("/proc").iterdir():
                with contextlib.suppress(OSError):
                    if proc.name.isdigit() and (proc / "comm").read_text().strip() == "nginx" \
                            and os.readlink(proc / "ns" / "pid") == ns:
                        self.pids.append(int(proc.name))
        self.fast = bool(self.pids) and all(Path(f"/proc/{p}/schedstat").exists() for p in self.pids)
        self.source = ("this machine's /proc/PID/task/*/schedstat (ns), around each slice" if self.fast else
                       "`/proc/PID/schedstat` (ns, else stat's 10 ms ticks) through `podman exec`, around each run")

    def seconds(self) -> float:
        if not self.fast:
            state = server_state()
            return state["ns"] / 1e9 if state["ns"] else state["ticks"]
        total = 0
        for pid in self.pids:
            tasks = list(Path(f"/proc/{pid}/task").iterdir())
            if not tasks:  # a worker gone (a reload, a crash) would make the sums meaningless
                raise BenchError(f"callback: nginx process {pid} is gone")
            total += sum(int((t / "schedstat").read_text().split()[0]) for t in tasks)
        return total / 1e9


def server_state(since=None) -> dict:
    """nginx's CPU so far (ns on CPU, or ticks), the access log's length and its verdicts since line `since`."""
    env = f"LOG={MTLS_LOG} SINCE={since + 1 if since is not None and since >= 0 else ''}\n"
    ns, ticks, procs, hz, lines, verdicts = 0, 0, 0, 100, -1, {}
    for line in exec_in(SINGLE, env + STATE_SH).splitlines():
        kind, _sep, rest = line.partition(" ")
        if kind == "NS" and rest.strip().isdigit():
            ns += int(rest)
        elif kind == "STAT":
            fields = rest.rsplit(")", 1)[-1].split()
            if len(fields) > 12:
                ticks += int(fields[11]) + int(fields[12])
                procs += 1
        elif kind == "TICK":
            hz = int(rest)
        elif kind == "LOG":
            lines = int(rest)
        elif kind == "VERDICT":
            match = re.match(r"\s*(\d+) \"callback\":\"([a-z_]*)\"", rest)
            if match:
                verdicts[match[2]] = int(match[1])
    return {"ns": ns, "ticks": ticks / hz, "procs": procs, "log": lines, "verdicts": verdicts}


def callback_round(ctx: ssl.SSLContext, token: str, cpu: NginxCpu, order, *, seconds: float, max_count: int) -> dict:
    """`seconds` of resumed requests to each variant (at most max_count), in slices that alternate
    between them, nginx's CPU read around each slice; per variant its sums."""
    acc = {key: {"count": 0, "cpu": 0.0, "client": 0.0, "elapsed": 0.0, "latencies": [], "statuses": {},
                 "reused": 0, "slices": 0} for key, _label, _port in order}
    sessions = {key: request(ctx, port, callback_path(token))[2] for key, _label, port in order}  # priming
    slice_s = SLICE if cpu.fast else seconds
    for _slice in range(10_000):  # bounded: each slice takes at least one request
        todo = [v for v in order if acc[v[0]]["elapsed"] < seconds and acc[v[0]]["count"] < max_count]
        if not todo:
            break
        for key, _label, port in todo:
            a = acc[key]
            cpu_before, client_before = cpu.seconds(), time.process_time()
            start = time.perf_counter()
            end = start + min(slice_s, seconds - a["elapsed"])
            while a["count"] < max_count:
                path = callback_path(token)  # a fresh Sign and RequestTime for each, as the platform sends them
                t = time.perf_counter()
                status, was_reused, new_session = request(ctx, port, path, sessions[key])
                now = time.perf_counter()
                a["latencies"].append(now - t)
                a["count"] += 1
                a["statuses"][status] = a["statuses"].get(status, 0) + 1
                a["reused"] += was_reused
                if new_session is not None:
                    sessions[key] = new_session
                if now >= end:
                    break
            a["elapsed"] += time.perf_counter() - start
            a["client"] += time.process_time() - client_before
            a["cpu"] += cpu.seconds() - cpu_before
            a["slices"] += 1
            if set(a["statuses"]) != {200}:
                raise BenchError(f"callback run on 127.0.0.1:{port}: HTTP {a['statuses']}, expected only 200")
    return {key: {"rate": a["count"] / a["elapsed"], "ms": median(a["latencies"]) * 1000, "count": a["count"],
                  "reused": a["reused"], "statuses": a["statuses"], "slices": a["slices"],
                  "server_cpu_us": a["cpu"] * 1e6 / a["count"], "client_cpu_us": a["client"] * 1e6 / a["count"]}
            for key, a in acc.items()}


def summary(runs: list) -> dict:
    row = {key: median([s[key] for s in runs]) for key in ("rate", "ms", "server_cpu_us", "client_cpu_us", "load")}
    row.update({"runs": len(runs), "count": sum(s["count"] for s in runs), "reused": sum(s["reused"] for s in runs),
                "slices": sum(s["slices"] for s in runs), "statuses": {}, "verdicts": {}})
    for s in runs:
        for part in ("statuses", "verdicts"):
            for k, v in s[part].items():
                row[part][k] = row[part].get(k, 0) + v
    return row


# --------------------------------------------------------------------------------------------
# results.md


def render(res: dict) -> list:
    """Section 7: with and without the check, and the verdict on the issue's target."""
    cb = res.get("callback")
    if not cb or not cb.get("rows"):
        return []
    rows, rounds = cb["rows"], cb["rounds"]
    cost, target_met = cb["cost_pct"], cb["cost_pct"] < TARGET_PCT
    costs = sorted(r["cost_pct"] for r in rounds)
    out = ["## 7. The callback check (issue #14): its cost on a resumed mTLS request", "",
           f"**The check costs {cost:.1f} % of the nginx CPU of a resumed mTLS request** (median of "
           f"{len(rounds)} rounds; per round {', '.join(f'{c:.1f}' for c in costs)} %). Target < {TARGET_PCT:g} %: "
           f"**{'met' if target_met else 'not met'}**. Requests/s with the check: {cb['rate_pct']:+.1f} % "
           "(median of the rounds; bounded by the client, which shares the cores).", "",
           "| variant | requests/s | ms per request (median) | nginx CPU µs/request | client CPU µs/request | "
           "session reused | HTTP | callback verdicts (access log) | runs | load 1m |",
           "| --- | ---: | ---: | ---: | ---: | --- | --- | --- | ---: | ---: |"]
    for key, label, _port in VARIANTS:
        r = rows[key]
        verdicts = ", ".join(f"{k}×{v}" for k, v in sorted(r["verdicts"].items())) or "-"
        statuses = ", ".join(f"{k}×{v}" for k, v in sorted(r["statuses"].items())) or "-"
        out.append(f"| {label} | {r['rate']:.0f} | {r['ms']:.2f} | {r['server_cpu_us']:.0f} | "
                   f"{r['client_cpu_us']:.0f} | {r['reused']}/{r['count']} | {statuses} | {verdicts} | "
                   f"{r['runs']} | {r['load']:.1f} |")
    delta = rows["with"]["server_cpu_us"] - rows["without"]["server_cpu_us"]
    out.append(f"| **the check** (with − without, medians) | | | **{delta:+.0f}** | | | | | | |")
    recap = cb.get("deploy_recap", {})
    out += ["", "One request = TCP connect to 127.0.0.1 (podman port), a resumed TLS 1.3 handshake with the client "
            "certificate (`session=` of the previous request), `GET /?SdkAppid=…&CallbackCommand=…&contenttype=json"
            "&ClientIP=…&OptPlatform=…&RequestTime=…&Sign=…` with a fresh RequestTime and Sign = "
            "sha256(token + RequestTime) for each request, `Connection: close` (no keep-alive: one handshake per "
            "request), the static page read to its end; one Python `ssl` client thread, "
            f"{cb['seconds']:g} s per variant and round. The same URL to both: with the check, the role's block "
            "deployed with "
            f"`nginx_mtls_callback_token` and `nginx_mtls_callback_sdkappid` set (njs {cb.get('njs') or '?'}, "
            "installed by the role); without, a bench-only copy of that block on port 8443 with the check's "
            "lines replaced by the role's `set $nginx_mtls_verdict off;` (same certificate, session cache and "
            "access log). GET to the static root: a real callback is a POST with a JSON body to the backend, "
            "which the check does not read. Each round gives each variant its seconds in slices of "
            f"{SLICE:g} s that alternate between them (the first variant alternating between rounds), so that "
            "the machine's load, shared with other work, weighs on both alike. nginx CPU: the nginx processes' "
            f"time on a CPU, {cb.get('cpu_source', '?')}, summed per variant / its requests; cost = (with − "
            "without) / without per round. Requests with a wrong Sign are never measured: a run stops on any "
            "status but 200. Callback verdicts: the `callback` field of the role's JSON access log (each "
            "round's priming request included).",
            "", "Checked before the runs: " + "; ".join(cb.get("checks", [])) + ". "
            f"Deploying the role with the token on the running site: {cb['deploy_wall']:.1f} s, "
            f"ok={recap.get('ok', '?')} changed={recap.get('changed', '?')}. nginx error.log, \"could not "
            f"allocate new session\": {cb.get('alerts', '?')} times.", ""]
    return out
