# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Section 5, TLS against the deployed site: full and resumed handshakes, with and without client verification.

section_tls() drives it: bench-only server blocks next to the role's (add_plain_server), then
round-robin runs of three clients (``openssl s_time`` in the host container or from this machine,
a Python ``ssl`` client, the plain-HTTP floor), with nginx's CPU read from /proc around each run.
The tables are bench_report.tls_render's.
"""

from __future__ import annotations

import os
import re
import socket
import ssl
import time

from bench_common import CONF_DIR, PORT_MTLS, PORT_PLAIN, SERVER_NAME, SINGLE, BenchError, load, load1, log, median, run
from bench_hosts import exec_in

# (label, port in the container, port published on 127.0.0.1)
TLS_SERVERS = (("mTLS (ssl_verify_client on)", 443, PORT_MTLS), ("no client verification", 8443, PORT_PLAIN))
TLS_CLIENTS = {
    "python": "Python `ssl`, host → podman port",
    "container": "`openssl s_time`, in the container",
    "host": "`openssl s_time`, host → podman port",
    "floor": "Python, in the container",
}

# openssl s_time: the handshake measured by a C client (OpenSSL's own), run in the host container
# against 127.0.0.1 there (the same OpenSSL build as nginx, no podman port in between), or from the
# machine through the published port as a cross-check. Its own rate ("connections/user sec") is per
# second of the client's user CPU, not of wall time: the wall time is taken with `date` around it.
# -www / on every run: TLS 1.3 tickets arrive after the handshake, and s_time -reuse without
# reading the response never resumes a TLS 1.3 session (0 of N); the same request in every row, and
# the floor row (plain HTTP on 8080) says what that request costs nginx without TLS.
TLS_CLIENT_DIR = "/tmp/mtls-bench-client"  # in the host container: client certificate, key, server root CA
TLS_FLOOR_PORT = 8080  # bench-only plain-HTTP server block, in the container only
ACCESS_LOG = "/var/log/nginx/access.log"
# The role's own JSON access log (nginx_mtls_access_log, on by default): when it is there, the role's
# block and the bench's copies of it log there, not to ACCESS_LOG.
SITE_LOG = f"/var/log/nginx/{SERVER_NAME}.mtls.log"
TLS_STIME_SH = """echo "T0 $(date +%s%N)"
openssl s_time -connect "127.0.0.1:$PORT" -cert "$D/client.crt" -key "$D/client.key" \
    -CAfile "$D/server-root-ca.crt" "-$PROTO" "-$MODE" -www / -time "$SECS"
rc=$?
echo; echo "T1 $(date +%s%N)"; times; exit $rc
"""

# The floor's client: HTTP/1.0 GET / as s_time sends it, read to the end, close; its own speed does
# not matter (only nginx's CPU per connection is used).
TLS_FLOOR_PY = """import socket, sys, time
n, end = 0, time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    with socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
        while s.recv(65536):
            pass
    n += 1
print(n)
"""


def section_tls(args, inputs: dict, res: dict) -> None:
    """On the deployed SINGLE: --runs rounds over all the variants; res gets the rows, ratios and notes."""
    server_block = exec_in(SINGLE, f"cat {CONF_DIR}/conf.d/{SERVER_NAME}.conf")
    add_plain_server(SINGLE, server_block)
    tls_install_client(SINGLE, inputs)
    variants = tls_variants(args, res)
    seconds = max(1, round(args.tls_seconds))  # s_time takes whole seconds
    ports = {server: (port, published) for server, port, published in TLS_SERVERS}
    samples: dict = {v: [] for v in variants}
    # Round-robin over the variants, so that a change of the machine's load hits all of them alike.
    for i in range(args.runs):
        for variant in variants:
            client, server, version, resume = variant
            try:
                if client == "floor":
                    sample = tls_floor(seconds)
                elif client == "python":
                    sample = tls_python_run(args, inputs, ports[server][1], version, resume)
                else:
                    port = ports[server][0] if client == "container" else ports[server][1]
                    sample = tls_stime(client, port, version, resume, seconds=seconds, inputs=inputs)
            except (OSError, ValueError) as exc:
                raise BenchError(f"TLS {version} {client} → {server} failed: {exc}") from exc
            sample["load"] = load1()
            samples[variant].append(sample)
            rate = f"{sample['rate']:.0f}/s, {sample['ms']:.2f} ms, " if "rate" in sample else ""
            reused = f", reused {sample['reused']}/{sample['count']}" if "reused" in sample else ""
            log(f"TLS run {i + 1}/{args.runs} {client} {server} {version} {'resumed' if resume else 'full'}: "
                f"{rate}nginx CPU {sample['server_cpu_ms']:.3f} ms/conn{reused}, load {load()}")
    rows = tls_summary(variants, samples)
    res["tls"] = [r for r in rows if r["client"] == "python"]
    res["tls_stime"] = [r for r in rows if r["client"] != "python"]
    floor = next((r["server_cpu_ms"] for r in rows if r["client"] == "floor"), None)
    res["tls_ratios"] = tls_ratios(rows, floor)
    res["tls_alerts"] = exec_in(
        SINGLE, "grep -c 'could not allocate new session' /var/log/nginx/error.log || true").strip()
    notes = []
    for version in ("TLSv1.3", "TLSv1.2"):
        pick = {(r["server"].startswith("mTLS"), r["mode"]): r for r in res["tls"] if r["version"] == version}
        full_m, full_p, res_m = pick.get((True, "full")), pick.get((False, "full")), pick.get((True, "resumed"))
        if full_m and full_p and res_m:
            notes.append(
                f"{version}: a full mTLS connection takes {full_m['ms']:.1f} ms and {full_m['server_cpu_ms']:.2f} ms "
                f"of nginx CPU, vs {full_p['ms']:.1f} ms and {full_p['server_cpu_ms']:.2f} ms without client "
                f"verification (wall ×{full_m['ms'] / full_p['ms']:.2f}, nginx CPU "
                f"×{full_m['server_cpu_ms'] / max(full_p['server_cpu_ms'], 1e-9):.2f}); a resumed mTLS connection "
                f"{res_m['ms']:.1f} ms and {res_m['server_cpu_ms']:.2f} ms of nginx CPU.")
    res["tls_cost"] = " ".join(notes)


def tls_variants(args, res: dict) -> list:
    """(client, server, version, resumed) in the order they run and are shown; the floor last."""
    places = {"both": ("container", "host"), "off": ()}.get(args.tls_stime, (args.tls_stime,))
    versions = {"container": "", "host": ""}
    for place in places:
        cmd = "openssl version 2>/dev/null || true"
        versions[place] = (exec_in(SINGLE, cmd) if place == "container" else run(["sh", "-c", cmd]).stdout).strip()
        if not versions[place]:
            why = f"no openssl CLI {'in the container' if place == 'container' else 'on this machine'}"
            if args.tls_stime != "both":
                raise BenchError(f"--tls-stime {args.tls_stime}: {why} (apt-get install openssl)")
            log(f"TLS: {why}: the openssl s_time rows from there are left out")
            res.setdefault("tls_stime_missing", []).append(why)
    res["tls_openssl"] = {k: v for k, v in versions.items() if v}
    variants = []
    for client in ("container", "host", "python"):
        if client != "python" and not versions.get(client):
            continue
        for version in ("TLSv1.3", "TLSv1.2"):
            for server, _port, _published in TLS_SERVERS:
                if client == "host" and versions.get("container") and not server.startswith("mTLS"):
                    continue  # a cross-check of the container's rows: the role's block only
                variants += [(client, server, version, False), (client, server, version, True)]
    if res["tls_openssl"]:
        variants.append(("floor", f"plain HTTP, no TLS (bench-only, 127.0.0.1:{TLS_FLOOR_PORT})", "-", False))
    return variants


def tls_summary(variants, samples: dict) -> list:
    """One row per variant: medians over its runs, counts and statuses summed."""
    rows = []
    for variant in variants:
        client, server, version, resume = variant
        runs = samples[variant]
        row = {"client": client, "server": server, "version": version, "mode": "resumed" if resume else "full",
               "runs": len(runs), "count": sum(s["count"] for s in runs), "statuses": {}}
        for key in ("rate", "ms", "server_cpu_ms", "client_cpu_ms", "load"):
            if key in runs[0]:
                row[key] = median([s[key] for s in runs])
        if "reused" in runs[0]:
            row["reused"] = sum(s["reused"] for s in runs)
            row["protocols"] = set().union(*(s["protocols"] for s in runs))
        for s in runs:
            for k, v in s["statuses"].items():
                row["statuses"][k] = row["statuses"].get(k, 0) + v
        rows.append(row)
    return rows


def tls_ratios(rows, floor) -> list:
    """Full and resumed, per protocol and server block: s_time (in the container, else from this machine)
    and the Python client."""
    pick = {(r["client"], r["server"], r["version"], r["mode"]): r for r in rows}
    stime = "container" if any(r["client"] == "container" for r in rows) else "host"
    out = []
    for version in ("TLSv1.3", "TLSv1.2"):
        for server, _port, _published in TLS_SERVERS:
            full, resumed = (pick.get((stime, server, version, m)) for m in ("full", "resumed"))
            py_full, py_resumed = (pick.get(("python", server, version, m)) for m in ("full", "resumed"))
            ratio = {"version": version, "server": server, "stime": stime}
            if full and resumed:
                ratio["rate"] = (full["rate"], resumed["rate"])
                ratio["cpu"] = (full["server_cpu_ms"], resumed["server_cpu_ms"])
                if floor is not None:
                    ratio["handshake"] = (full["server_cpu_ms"] - floor, resumed["server_cpu_ms"] - floor)
            if py_full and py_resumed:
                ratio["python_ms"] = (py_full["ms"], py_resumed["ms"])
            out.append(ratio)
    return out


# --------------------------------------------------------------------------------------------
# the server side: bench-only server blocks, nginx's CPU and access log


def add_plain_server(host: str, server_block: str) -> None:
    """Bench-only server blocks, written by hand next to the role's: the same block on 8443 without
    client verification, and a plain-HTTP copy on 127.0.0.1:8080 (not published), the floor."""
    plain, floor = [], []
    # Only the server {} itself: what the role's file declares before it (maps, log_format) is declared
    # once for all, and nginx refuses a second declaration of the same name.
    start = server_block.find("\nserver {")
    for line in server_block[start + 1:].splitlines():
        stripped = line.strip()
        if stripped.startswith("listen [::]"):
            continue
        if stripped.startswith("listen "):
            plain.append(re.sub(r"listen\s+\d+", "listen 8443", line))
            floor.append(re.sub(r"listen\s+\d+\s+ssl[^;]*;", f"listen 127.0.0.1:{TLS_FLOOR_PORT};", line))
            continue
        if not stripped.startswith("ssl_"):
            floor.append(line)
        if stripped.startswith(("ssl_verify_client", "ssl_client_certificate", "ssl_verify_depth", "ssl_crl")):
            continue
        # Its own session cache: sessions with and without a client certificate differ in size, and
        # mixing them in one full zone makes nginx fail to store new ones ("could not allocate new
        # session in SSL session shared cache"), which would spoil the resumption figures.
        plain.append(re.sub(r"shared:[A-Za-z0-9_]+:", "shared:mtls_bench_plain:", line))
    text = ("# bench only (benchmarks/bench_role.py): no client verification\n" + "\n".join(plain) + "\n"
            "# bench only: plain HTTP, no TLS: what a connection costs nginx without any handshake\n"
            + "\n".join(floor) + "\n")
    exec_in(host, f"cat > {CONF_DIR}/conf.d/zz-mtls-bench-plain.conf && nginx -t -q && systemctl reload nginx",
            input_data=text)


def tls_install_client(host: str, inputs: dict) -> None:
    exec_in(host, f"mkdir -p {TLS_CLIENT_DIR} && chmod 700 {TLS_CLIENT_DIR}")
    for name in ("client.crt", "client.key", "server-root-ca.crt"):
        exec_in(host, f"cat > {TLS_CLIENT_DIR}/{name}", input_data=(inputs["dir"] / name).read_text())


def tls_server_state(host: str, since=None) -> dict:
    """nginx CPU seconds so far (utime + stime of the master and workers, /proc), the access log's
    length, and the HTTP statuses it logged after line `since`."""
    script = (f"L={SITE_LOG}; [ -f $L ] || L={ACCESS_LOG}; "
              "for p in $(pgrep -x nginx); do cat /proc/$p/stat 2>/dev/null; done; "
              "echo \"LOG $(wc -l < $L)\"")
    if since is not None:
        # the status: the JSON log's "status" field, else the combined format's 9th field
        script += (f"; tail -n +{since + 1} $L | awk '{{ if (match($0, /\"status\":[0-9]+/)) "
                   "print \"HTTP\", substr($0, RSTART + 9, RLENGTH - 9); else print \"HTTP\", $9 }' | sort | uniq -c")
    ticks, lines, statuses = 0, 0, {}
    for line in exec_in(host, script).splitlines():
        status = re.match(r"^\s*(\d+) HTTP (\S+)$", line)
        if status:
            statuses[int(status[2]) if status[2].isdigit() else status[2]] = int(status[1])
        elif line.startswith("LOG "):
            lines = int(line.split()[1])
        else:
            fields = line.rsplit(")", 1)[-1].split()
            if len(fields) > 12:
                ticks += int(fields[11]) + int(fields[12])
    return {"cpu": ticks / os.sysconf("SC_CLK_TCK"), "log": lines, "statuses": statuses}


def nginx_cpu_seconds(host: str) -> float:
    """utime + stime of every nginx process on the host (master and workers), from /proc."""
    return tls_server_state(host)["cpu"]


# --------------------------------------------------------------------------------------------
# the clients: one run each, with nginx's CPU before and after


def tls_stime(where: str, port: int, version: str, resume: bool, *, seconds: int, inputs: dict) -> dict:
    """One `openssl s_time -new|-reuse -www /` run, in the host container or from this machine."""
    env = {"PORT": str(port), "PROTO": "tls1_3" if version == "TLSv1.3" else "tls1_2",
           "MODE": "reuse" if resume else "new", "SECS": str(seconds)}
    before = tls_server_state(SINGLE)
    if where == "container":
        assignments = " ".join(f"{k}={v}" for k, v in {**env, "D": TLS_CLIENT_DIR}.items())
        out = exec_in(SINGLE, f"{assignments}\n{TLS_STIME_SH}", timeout=seconds + 60)
    else:
        out = run(["sh", "-c", TLS_STIME_SH], timeout=seconds + 60,
                  env={**os.environ, **env, "D": str(inputs["dir"])}).stdout
    after = tls_server_state(SINGLE, since=before["log"])
    t0, t1 = (int(m) for m in re.findall(r"^T[01] (\d+)$", out, re.MULTILINE))
    done = re.findall(r"^(\d+) connections in [\d.]+s;", out, re.MULTILINE)
    times = re.findall(r"(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s", out)  # `times`: the shell, then its children
    if not done or not times:
        raise BenchError(f"openssl s_time: unexpected output:\n{out[-2000:]}")
    count = int(done[-1])
    marks = "".join(line for line in out.splitlines() if re.fullmatch(r"[rt23*]+", line))
    if count < 1 or len(marks) != count:
        raise BenchError(f"openssl s_time: {count} connections but {len(marks)} marks:\n{out[-2000:]}")
    cu_min, cu_s, cs_min, cs_s = times[-1]
    wall = (t1 - t0) / 1e9
    return {"rate": count / wall, "ms": wall * 1000 / count, "count": count, "reused": marks.count("r"),
            "client_cpu_ms": (int(cu_min) * 60 + float(cu_s) + int(cs_min) * 60 + float(cs_s)) * 1000 / count,
            "server_cpu_ms": (after["cpu"] - before["cpu"]) * 1000 / count, "statuses": after["statuses"],
            "protocols": {version}}


def tls_floor(seconds: int) -> dict:
    """nginx CPU per plain-HTTP connection (the bench-only block on 8080, the same GET / and page)."""
    before = tls_server_state(SINGLE)
    out = exec_in(SINGLE, f"python3 - {TLS_FLOOR_PORT} {seconds}", input_data=TLS_FLOOR_PY, timeout=seconds + 60)
    after = tls_server_state(SINGLE, since=before["log"])
    count = int(out.split()[-1])
    return {"count": count, "server_cpu_ms": (after["cpu"] - before["cpu"]) * 1000 / max(count, 1),
            "statuses": after["statuses"]}


def tls_python_run(args, inputs: dict, port: int, version: str, resume: bool) -> dict:
    ctx = tls_context(inputs, version)
    cpu_server = nginx_cpu_seconds(SINGLE)
    cpu_client = time.process_time()
    sample = tls_rate(ctx, port, resume, args.tls_seconds, args.tls_max)
    sample["client_cpu_ms"] = (time.process_time() - cpu_client) * 1000 / sample["count"]
    sample["server_cpu_ms"] = (nginx_cpu_seconds(SINGLE) - cpu_server) * 1000 / sample["count"]
    return sample


def tls_rate(ctx, port: int, resume: bool, seconds: float, max_count: int) -> dict:
    session = None
    if resume:
        _v, _r, session, _s = tls_connection(ctx, port)  # priming, not counted
    latencies, statuses, reused, protocols = [], {}, 0, set()
    start = time.perf_counter()
    deadline = start + seconds
    while len(latencies) < max_count and time.perf_counter() < deadline:
        t = time.perf_counter()
        version, was_reused, new_session, status = tls_connection(ctx, port, session if resume else None)
        latencies.append(time.perf_counter() - t)
        statuses[status] = statuses.get(status, 0) + 1
        reused += was_reused
        protocols.add(version)
        if resume and new_session is not None:
            session = new_session
    elapsed = time.perf_counter() - start
    return {"rate": len(latencies) / elapsed, "ms": median(latencies) * 1000, "count": len(latencies),
            "reused": reused, "statuses": statuses, "protocols": protocols}


def tls_context(inputs: dict, version: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(inputs["dir"] / "server-root-ca.crt"))
    ctx.load_cert_chain(str(inputs["dir"] / "client.crt"), str(inputs["dir"] / "client.key"))
    tls_version = ssl.TLSVersion.TLSv1_3 if version == "TLSv1.3" else ssl.TLSVersion.TLSv1_2
    ctx.minimum_version = ctx.maximum_version = tls_version
    return ctx


def tls_connection(ctx: ssl.SSLContext, port: int, session=None, path: str = "/"):
    """TCP connect, handshake (resuming `session`), GET `path`, read the whole response (Connection: close)."""
    request = f"GET {path} HTTP/1.1\r\nHost: {SERVER_NAME}\r\nConnection: close\r\n\r\n".encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        # Like curl: without it, Nagle + delayed ACK add ~40 ms to a TLS 1.2 resumption.
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with ctx.wrap_socket(raw, server_hostname=SERVER_NAME, session=session) as tls:
            return _exchange(tls, request)


def _exchange(tls: ssl.SSLSocket, request: bytes):
    tls.sendall(request)
    data = b""
    for _chunk in range(64):  # bounded: the static page is a few hundred bytes
        chunk = tls.recv(65536)
        if not chunk:
            break
        data += chunk
    # TLS 1.3 tickets arrive after the handshake: the session is complete once the response is read.
    status = int(data.split(b" ", 2)[1]) if data.startswith(b"HTTP/") else 0
    return tls.version(), tls.session_reused, tls.session, status
