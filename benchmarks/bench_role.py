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
6. where the idempotent re-run spends its time: per task (profile_tasks) and podman round trips.

Section ``ssh`` (benchmarks/bench_ssh.py): deploy, re-run and rotations of one host over SSH, as users run them.

Prints a Markdown table and writes it to benchmarks/results.md. Containers are named ``mtls-bench-*``,
publish only 127.0.0.1:18490-18491 (the SSH host: port 22 on a free one) and are removed on exit, error or CTRL-C.

    .venv/bin/python benchmarks/bench_role.py [--runs 3] [--fleet-runs 1] [--only fleet,tls] ...
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import bench_ssh  # noqa: E402
import cert_check_bench  # noqa: E402  (puts tests/ and the collection on sys.path)
import pki  # noqa: E402

# The test-host image and the bench's own with nginx installed; --debian 13 switches both.
IMAGES = {
    "base": "localhost/chat-callback-mtls-host:debian-12",
    "nginx": "localhost/chat-callback-mtls-host:debian-12-nginx",
}
BASE_LABEL = "org.chat-callback-mtls.bench-base"
PREFIX = "mtls-bench-"
SINGLE = PREFIX + "1"
PORT_MTLS = 18490  # -> 443, the role's site
PORT_PLAIN = 18491  # -> 8443, bench-only server block without ssl_verify_client
SERVER_NAME = "www.example.com"
CONF_DIR = "/etc/nginx"
SECTIONS = ("cold", "single", "ssh", "fleet", "module", "tls", "profile")
OPTIONAL_SECTIONS = ("knobs",)  # only with --only
RECAP_RE = re.compile(
    r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+unreachable=(?P<unreachable>\d+)\s+"
    r"failed=(?P<failed>\d+)\s+skipped=(?P<skipped>\d+)\s+rescued=(?P<rescued>\d+)\s+ignored=(?P<ignored>\d+)",
    re.MULTILINE,
)
PROFILE_RE = re.compile(r"^(?P<name>\S.*?) -+ (?P<secs>\d+\.\d+)s\s*$")
T0 = time.monotonic()


class BenchError(Exception):
    """A step failed: the message says which and what to do."""


def log(msg: str) -> None:
    now = datetime.datetime.now().strftime("%H:%M:%S")
    print(f"[bench {now} +{time.monotonic() - T0:5.0f}s] {msg}", file=sys.stderr, flush=True)


def load() -> str:
    return "{:.2f} / {:.2f} / {:.2f}".format(*os.getloadavg())


def load1() -> float:
    return os.getloadavg()[0]


def run(cmd, *, timeout: float = 120, check: bool = True, input_data=None, env=None) -> subprocess.CompletedProcess:
    try:
        proc = subprocess.run(
            [str(c) for c in cmd], input=input_data, capture_output=True, text=True, timeout=timeout, env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"timed out after {timeout:g} s: {' '.join(map(str, cmd))}") from exc
    if check and proc.returncode != 0:
        raise BenchError(
            f"failed (rc {proc.returncode}): {' '.join(map(str, cmd))}\n{(proc.stdout + proc.stderr)[-3000:]}"
        )
    return proc


def median(values):
    return statistics.median(values) if values else float("nan")


# --------------------------------------------------------------------------------------------
# podman hosts


class Hosts:
    """The bench's containers: every name it starts is removed by cleanup(), and only those."""

    def __init__(self) -> None:
        self.names: list = []

    def start(self, names, image: str, ports=()) -> None:
        for name in names:
            run(["podman", "rm", "-f", "-t", "0", name], check=False, timeout=60)  # a leftover of ours
            cmd = ["podman", "run", "-d", "--name", name, "--hostname", name, "--systemd=always"]
            for host_port, container_port in ports:
                cmd += ["-p", f"127.0.0.1:{host_port}:{container_port}"]
            self.names.append(name)
            run([*cmd, image], timeout=120)
        for name in names:
            self.wait_booted(name)

    @staticmethod
    def wait_booted(name: str, limit: float = 90) -> None:
        deadline = time.monotonic() + limit
        state = ""
        for _attempt in range(400):
            state = run(["podman", "exec", name, "systemctl", "is-system-running"], check=False, timeout=30).stdout
            state = state.strip()
            if state in ("running", "degraded") or time.monotonic() > deadline:
                break
            time.sleep(0.25)
        if state not in ("running", "degraded"):
            raise BenchError(f"systemd in {name} did not come up within {limit:g} s (state {state!r})")

    def remove(self, names) -> None:
        names = [n for n in names if n in self.names]
        if names:
            run(["podman", "rm", "-f", "-t", "0", *names], check=False, timeout=180)
            self.names = [n for n in self.names if n not in names]

    def cleanup(self) -> None:
        if self.names:
            log(f"removing containers {' '.join(self.names)}")
            self.remove(list(self.names))


def exec_in(name: str, script: str, timeout: float = 60, input_data=None) -> str:
    cmd = ["podman", "exec", *(["-i"] if input_data is not None else []), name, "sh", "-c", script]
    return run(cmd, timeout=timeout, input_data=input_data).stdout


def preflight() -> None:
    if os.geteuid() != 0:
        raise BenchError("run as root: the test hosts are rootful podman containers (like make test and make demo)")
    if not shutil.which("podman"):
        raise BenchError("podman not found: run `make image` (it installs podman and builds the test-host image)")
    if run(["podman", "image", "exists", IMAGES['base']], check=False).returncode != 0:
        raise BenchError(f"image {IMAGES['base']} missing: run `make image` first")
    for tool in ("ansible-playbook", "ansible"):
        if not shutil.which(tool):
            raise BenchError(f"{tool} not found: run `make venv` (or use `make bench`)")
    for port in (PORT_MTLS, PORT_PLAIN):
        with socket.socket() as sock:
            sock.settimeout(1)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                raise BenchError(f"127.0.0.1:{port} is in use: another bench running? (podman ps -f name=mtls-bench)")


def ensure_nginx_image(hosts: Hosts, rebuild: bool) -> str:
    """The installed-but-unconfigured host: the test image plus `apt-get install nginx`, committed once."""
    base_id = run(["podman", "image", "inspect", "--format", "{{.Id}}", IMAGES['base']]).stdout.strip()
    if not rebuild and run(["podman", "image", "exists", IMAGES['nginx']], check=False).returncode == 0:
        fmt = "{{ index .Labels \"" + BASE_LABEL + "\" }}"
        if run(["podman", "image", "inspect", "--format", fmt, IMAGES['nginx']]).stdout.strip() == base_id:
            log(f"bench image {IMAGES['nginx']} present (built on the current {IMAGES['base']})")
            return "reused"
    name = PREFIX + "build"
    log(f"building {IMAGES['nginx']}: {IMAGES['base']} + apt-get install nginx (from the Debian mirror), podman commit")
    hosts.start([name], IMAGES['base'])
    exec_in(name, "export DEBIAN_FRONTEND=noninteractive && apt-get update -qq && apt-get install -y -qq nginx "
            ">/dev/null && apt-get clean && rm -rf /var/lib/apt/lists/* && nginx -v", timeout=900)
    run(["podman", "stop", "-t", "30", name], timeout=60)
    run(["podman", "commit", "-q", "--change", f"LABEL {BASE_LABEL}={base_id}", name, IMAGES['nginx']], timeout=300)
    hosts.remove([name])
    return "built"


# --------------------------------------------------------------------------------------------
# inputs: the one test PKI (tests/pki.py), vars files and inventories


def make_inputs(work: Path) -> dict:
    root = pki.make_ca("chat_callback.mtls Bench Server Root CA")
    inter = pki.make_ca("chat_callback.mtls Bench Server Intermediate CA", issuer=root, path_length=0)
    client_ca = pki.make_ca("TencentQQAuthCA (chat_callback.mtls bench stand-in)")
    client = pki.make_leaf(client_ca, "tencent-chat-callback-client", sans=("tencent-chat-callback-client.invalid",),
                           eku=("clientAuth",))
    out = work / "pki"
    out.mkdir(parents=True)
    (out / "server-root-ca.crt").write_bytes(root.cert_pem())
    (out / "TencentQQAuthCA.crt").write_bytes(client_ca.cert_pem())
    with zipfile.ZipFile(out / "TencentQQAuthCA.crt.zip", "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("TencentQQAuthCA.crt", client_ca.cert_pem())
    (out / "client.crt").write_bytes(client.cert_pem())
    (out / "client.key").write_bytes(client.key_pem())
    os.chmod(out / "client.key", 0o600)
    inputs = {"dir": out, "sets": {}}
    # Two certificates for the same name from the same chain: a rotation swaps one for the other.
    for label in ("a", "b"):
        leaf = pki.make_leaf(inter, SERVER_NAME, sans=[SERVER_NAME])
        folder = out / label
        folder.mkdir()
        (folder / f"{SERVER_NAME}.crt").write_bytes(leaf.cert_pem() + inter.cert_pem())
        (folder / f"{SERVER_NAME}.key").write_bytes(leaf.key_pem())
        os.chmod(folder / f"{SERVER_NAME}.key", 0o600)
        site = work / f"site-{label}.yml"
        site.write_text(
            "# chat_callback.mtls.deploy inputs (see demo/inventory.yml)\n"
            f"nginx_mtls_server_name: {SERVER_NAME}\n"
            f"nginx_mtls_certificate_src: {json.dumps(str(folder / (SERVER_NAME + '.crt')))}\n"
            f"nginx_mtls_private_key_src: {json.dumps(str(folder / (SERVER_NAME + '.key')))}\n"
            f"nginx_mtls_client_ca_src: {json.dumps(str(out / 'TencentQQAuthCA.crt.zip'))}\n"
        )
        inputs["sets"][label] = {"site": site, "folder": folder}
    return inputs


def write_inventory(work: Path, label: str, names) -> Path:
    lines = ["# podman hosts, reached like demo/inventory.yml's", "webhook_servers:", "  hosts:"]
    for name in names:
        lines += [f"    {name}:", "      ansible_connection: containers.podman.podman",
                  "      ansible_python_interpreter: /usr/bin/python3"]
    path = work / f"inventory-{label}.yml"
    path.write_text("\n".join(lines) + "\n")
    return path


# --------------------------------------------------------------------------------------------
# ansible-playbook runs


class Playbook:
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


# --------------------------------------------------------------------------------------------
# the physical floor


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


def time_round_trip(host: str, count: int) -> list:
    samples = []
    for _i in range(count):
        start = time.perf_counter()
        run(["podman", "exec", host, "true"], timeout=60)
        samples.append(time.perf_counter() - start)
    return samples


# --------------------------------------------------------------------------------------------
# TLS


def tls_context(inputs: dict, version: str) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(str(inputs["dir"] / "server-root-ca.crt"))
    ctx.load_cert_chain(str(inputs["dir"] / "client.crt"), str(inputs["dir"] / "client.key"))
    tls_version = ssl.TLSVersion.TLSv1_3 if version == "TLSv1.3" else ssl.TLSVersion.TLSv1_2
    ctx.minimum_version = ctx.maximum_version = tls_version
    return ctx


def tls_connection(ctx: ssl.SSLContext, port: int, session=None):
    """TCP connect, handshake, GET /, read the whole response (Connection: close)."""
    request = f"GET / HTTP/1.1\r\nHost: {SERVER_NAME}\r\nConnection: close\r\n\r\n".encode()
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


def add_plain_server(host: str, server_block: str) -> None:
    """Bench-only server blocks, written by hand next to the role's: the same block on 8443 without
    client verification, and a plain-HTTP copy on 127.0.0.1:8080 (not published), the floor."""
    plain, floor = [], []
    for line in server_block.splitlines():
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


def tls_install_client(host: str, inputs: dict) -> None:
    exec_in(host, f"mkdir -p {TLS_CLIENT_DIR} && chmod 700 {TLS_CLIENT_DIR}")
    for name in ("client.crt", "client.key", "server-root-ca.crt"):
        exec_in(host, f"cat > {TLS_CLIENT_DIR}/{name}", input_data=(inputs["dir"] / name).read_text())


def tls_server_state(host: str, since=None) -> dict:
    """nginx CPU seconds so far (utime + stime of the master and workers, /proc), the access log's
    length, and the HTTP statuses it logged after line `since`."""
    script = ("for p in $(pgrep -x nginx); do cat /proc/$p/stat 2>/dev/null; done; "
              f"echo \"LOG $(wc -l < {ACCESS_LOG})\"")
    if since is not None:
        script += f"; tail -n +{since + 1} {ACCESS_LOG} | awk '{{print \"HTTP\", $9}}' | sort | uniq -c"
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


# --------------------------------------------------------------------------------------------
# profile of the idempotent re-run: podman round trips per task from -vvv


def round_trips(output: str) -> dict:
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


# --------------------------------------------------------------------------------------------
# machine


def read_host_versions(info: dict) -> None:
    """nginx's version and the OpenSSL library in the host, which the TLS figures depend on."""
    info["nginx"] = run(["podman", "exec", SINGLE, "nginx", "-v"]).stderr.strip().replace("nginx version: nginx/", "")
    info["host_openssl"] = run(["podman", "exec", SINGLE, "openssl", "version"]).stdout.strip()


def machine_info(work: Path) -> dict:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    ansible_core = run(["ansible", "--version"]).stdout.splitlines()[0]
    ansible_core = re.sub(r"^ansible \[core (.*)\]$", r"\1", ansible_core)
    podman_version = run(["podman", "version", "--format", "{{.Client.Version}}"], check=False).stdout.strip()
    git = run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], check=False).stdout.strip() or "?"
    dirty = run(["git", "-C", str(REPO), "status", "--porcelain", "--", "roles", "playbooks", "plugins"],
                check=False).stdout.strip()
    others = [n for n in run(["podman", "ps", "--format", "{{.Names}}"], check=False).stdout.split()
              if not n.startswith(PREFIX)]
    return {
        "cpu": cpu, "cores": os.cpu_count(), "mem": mem, "kernel": platform.release(),
        "ansible_core": ansible_core, "podman": podman_version, "python": platform.python_version(),
        "openssl": ssl.OPENSSL_VERSION, "nginx": "(not measured)",
        "git": git + (" + uncommitted changes in roles/, playbooks/ or plugins/" if dirty else ""),
        "load_start": load(), "other_containers": len(others),
    }


# --------------------------------------------------------------------------------------------
# report


def fmt_s(value) -> str:
    return "n/a" if value is None or math.isnan(value) else f"{value:.1f}"


def tls_statuses(row: dict) -> str:
    return ", ".join(f"{k}×{v}" for k, v in sorted(row["statuses"].items(), key=str)) or "-"


def tls_pair(pair, faster=False, fmt="{:.2f}") -> str:
    """'full → resumed (×N)', N how many times cheaper (or with faster=True: quicker) the resumed one is."""
    if not pair:
        return "n/a"
    return f"{fmt.format(pair[0])} → {fmt.format(pair[1])} (**×{tls_ratio(pair, faster):.1f}**)"


def tls_ratio(pair, faster=False) -> float:
    full, resumed = pair
    return (resumed / full if faster else full / resumed) if min(full, resumed) > 0 else float("nan")


def tls_target(ratios, key: str, faster=False) -> str:
    """Which protocol / server block pairs reach 'resumed ≥ 5× full' by this measure."""
    have = [(r, tls_ratio(r[key], faster)) for r in ratios if key in r]
    hits = [f"{r['version']} {'mTLS' if r['server'].startswith('mTLS') else 'no client verification'} "
            f"(×{x:.1f})" for r, x in have if x >= 5]
    if not have:
        return "not measured"
    return ("reached by " + ", ".join(hits)) if hits else f"not reached (best ×{max(x for _r, x in have):.1f})"


def tls_render(res: dict, args) -> list:
    tls, stime, ratios = res.get("tls"), res.get("tls_stime"), res.get("tls_ratios") or []
    if not tls and not stime:
        return []
    out = [f"## 5. TLS against the deployed site ({SERVER_NAME}, RSA-2048 chain of 2, client RSA-2048)", ""]
    floor = next((r for r in stime or [] if r["client"] == "floor"), None)
    if ratios and any("cpu" in r for r in ratios):
        where = "in the container" if ratios[0]["stime"] == "container" else "from this machine"
        out += ["**Resumed vs full handshake.** The answer is the nginx CPU per handshake: what one handshake "
                f"costs the server, from the `openssl s_time` runs {where} (5a) minus what the same connection "
                "costs nginx without TLS (the floor row). Connections/s are bounded by client and nginx "
                "together on the same cores; the Python client (5b) spends more CPU per connection than nginx "
                "does: its rows show the whole request, not the handshake.", "",
                "| protocol | server block | nginx CPU ms per handshake (− floor) | nginx CPU ms per connection | "
                "s_time connections/s | Python ms per connection (5b) |",
                "| --- | --- | ---: | ---: | ---: | ---: |"]
        for r in ratios:
            out.append(f"| {r['version']} | {r['server']} | {tls_pair(r.get('handshake'))} | "
                       f"{tls_pair(r.get('cpu'))} | {tls_pair(r.get('rate'), True, '{:.0f}')} | "
                       f"{tls_pair(r.get('python_ms'), fmt='{:.1f}')} |")
        out += ["", "Full → resumed, (×N): how many times cheaper (connections/s: faster) a resumed connection is. "
                "The issue's target, resumed ≥ 5× full: by nginx CPU per handshake "
                f"{tls_target(ratios, 'handshake')}; per connection {tls_target(ratios, 'cpu')}; by s_time "
                f"connections/s {tls_target(ratios, 'rate', True)}; by the Python client's time per connection "
                f"{tls_target(ratios, 'python_ms')}.", "",
                "Why not more: a resumed handshake skips the server's RSA-2048 signature, the certificate "
                "messages and the check of the client's chain, not the TCP connection, the request, the record "
                "layer, close_notify and close (together more than the floor: the same in both). With "
                "`ssl_verify_client on`, each session in nginx's shared cache holds the client certificate, and "
                "every resumption decodes it again (`d2i_SSL_SESSION`; with OpenSSL 3.0's key decoders the "
                "largest item of a resumed mTLS handshake): resumption gains less with mTLS than without. TLS 1.3 "
                "resumption is `psk_dhe_ke`, the only mode OpenSSL clients offer: an X25519 exchange on every "
                "connection (a small part of it), the TLS 1.3 key schedule and a new ticket, a new session stored in "
                "the cache; TLS 1.2 session-ID resumption has no key exchange and stores nothing. The role's "
                "server configuration is as deployed. benchmarks/README.md (section 5) has the profile.", ""]
    if stime:
        out += ["### 5a. The handshake: `openssl s_time`", "",
                "| client | server block | protocol | handshake | connections/s | ms per connection (mean) | "
                "nginx CPU ms/conn | nginx CPU ms/handshake (− floor) | client CPU ms/conn | session reused | HTTP | "
                "runs | load 1m |",
                "| --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: |"]
        for row in stime:
            if row["client"] == "floor":
                out.append(f"| {TLS_CLIENTS['floor']} | {row['server']} | - | none | - | - | "
                           f"{row['server_cpu_ms']:.3f} | (floor) | - | - | {tls_statuses(row)} | {row['runs']} | "
                           f"{row['load']:.1f} |")
                continue
            net = f"{row['server_cpu_ms'] - floor['server_cpu_ms']:.3f}" if floor else "n/a"
            out.append(f"| {TLS_CLIENTS[row['client']]} | {row['server']} | {row['version']} | {row['mode']} | "
                       f"{row['rate']:.0f} | {row['ms']:.2f} | {row['server_cpu_ms']:.3f} | {net} | "
                       f"{row['client_cpu_ms']:.3f} | {row['reused']}/{row['count']} | {tls_statuses(row)} | "
                       f"{row['runs']} | {row['load']:.1f} |")
        versions = "; ".join(f"{k}: {v}" for k, v in res.get("tls_openssl", {}).items())
        missing = "; ".join(res.get("tls_stime_missing", []))
        out += ["", "One connection = `openssl s_time -new` (full) or `-reuse` (resumed) with `-cert/-key` (the "
                "client certificate), `-CAfile` (the server's root), `-tls1_3` or `-tls1_2` and `-www /`: TCP "
                "connect, handshake, `GET / HTTP/1.0`, the response read to its end, close. Reading the response "
                "matters: TLS 1.3 session tickets arrive after the handshake, and `s_time -reuse` without `-www` "
                "never resumes a TLS 1.3 session. No SNI (s_time 3.0 has no `-servername`; each port has one "
                "server block). In the container: `podman exec` runs s_time there against 127.0.0.1:443 / 8443, "
                "the same OpenSSL build as nginx and no podman port or NAT in between: the figures the ratios "
                f"use. Host → podman port: the same from this machine through 127.0.0.1:{PORT_MTLS} / {PORT_PLAIN} "
                "(next to the container's rows, the role's block only: a cross-check). "
                f"`-time {max(1, round(args.tls_seconds))}` per run (s_time stops between that and one second more): "
                "connections/s over the wall time (`date` around s_time; s_time's own "
                "\"connections/user sec\" is per second of its user CPU), ms per connection = wall / connections "
                "(a mean), client CPU = user + sys of s_time (the shell's `times`). session reused: s_time's `r` "
                "marks (`SSL_session_reused`). HTTP: the access log's statuses for the run (`-reuse` makes one "
                "priming connection more). nginx CPU: utime+stime of the nginx processes (/proc, 10 ms ticks) "
                "over the run / connections. Floor: nginx CPU per connection to a bench-only copy of the "
                f"role's block without TLS on 127.0.0.1:{TLS_FLOOR_PORT} in the container (the same "
                "`GET / HTTP/1.0` and page, a Python client: only nginx's side counts); minus it, the TLS rows "
                "give nginx CPU per handshake (with the record layer and close_notify). Median over the runs; "
                f"the runs go round-robin over all the rows of 5a and 5b. OpenSSL CLI: {versions or 'none'}."
                + (f" Left out: {missing}." if missing else ""), ""]
    if tls:
        out += ["### 5b. End to end: a Python `ssl` client", "",
                "| server block | protocol | handshake | connections/s | ms per connection | nginx CPU ms/conn | "
                "client CPU ms/conn | session_reused | HTTP | runs | load 1m |",
                "| --- | --- | --- | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: |"]
        for row in tls:
            out.append(f"| {row['server']} | {'/'.join(sorted(row['protocols']))} | {row['mode']} | "
                       f"{row['rate']:.0f} | {row['ms']:.1f} | {row['server_cpu_ms']:.2f} | "
                       f"{row['client_cpu_ms']:.2f} | {row['reused']}/{row['count']} | {tls_statuses(row)} | "
                       f"{row['runs']} | {row['load']:.1f} |")
        out += ["", f"One connection = TCP connect to 127.0.0.1 (podman port), TLS handshake, `GET /`, the whole "
                f"response, close; one Python `ssl` client thread verifying the server, {args.tls_seconds:g} s "
                f"(at most {args.tls_max} connections) per run, median of the runs' rates. Resumed: `session=` of "
                "the previous connection, taken after reading the response (TLS 1.3 tickets arrive after the "
                "handshake); session_reused counts the connections that really resumed. Without client "
                "verification: a bench-only copy of the server block on port 8443 without `ssl_verify_client`, "
                "same certificate. Client and nginx share the same 2 cores. nginx CPU: utime+stime of the "
                "nginx processes (/proc, 10 ms ticks) over the run / connections; client CPU: the Python "
                "client's process time / connections (more than nginx's: these rows show the request as a "
                "Python client makes it, not the handshake)."]
        if res.get("tls_cost"):
            out += ["", res["tls_cost"]]
        out.append("")
    out += [f"nginx error.log, \"could not allocate new session in SSL session shared cache\": "
            f"{res.get('tls_alerts', '?')} times.", ""]
    return out


def render(info: dict, res: dict, args) -> str:
    out = []
    out.append("# chat_callback.mtls benchmarks")
    out.append("")
    out.append(f"Written by `benchmarks/bench_role.py` on {info['date']} in {info['total']:.0f} s "
               f"(`{info['cmdline']}`). Figures, not a test: each the median of the runs shown; "
               "the machine is shared, so read them with the load average next to them.")
    out.append("")
    out.append("| Machine | |")
    out.append("| --- | --- |")
    out.append(f"| CPU | {info['cpu']}, {info['cores']} cores |")
    out.append(f"| RAM | {info['mem']} |")
    out.append(f"| Load average (1/5/15 min) | at start {info['load_start']}, at end {info['load_end']} |")
    out.append(f"| Other containers running | {info['other_containers']} at start (not the bench's) |")
    out.append(f"| Software | ansible-core {info['ansible_core']}, podman {info['podman']}, Python {info['python']} "
               f"with {info['openssl']}, kernel {info['kernel']}; in the hosts: nginx {info['nginx']}, "
               f"{info.get('host_openssl', 'OpenSSL (not measured)')} |")
    out.append(f"| Collection | git {info['git']} |")
    if info.get("budget_cut"):
        out.append(f"| Runs left out | {', '.join(info['budget_cut'])}: fewer runs than asked, to stay within "
                   f"--budget-minutes {args.budget_minutes:g} |")
    out.append(f"| Hosts | `{IMAGES['base']}` (systemd, rootful podman, runc), `containers.podman.podman` connection; "
               f"installed-but-unconfigured: `{IMAGES['nginx']}` ({info.get('nginx_image', 'n/a')}) |")
    out.append("")

    single = res.get("single", {})
    if res.get("cold") or single:
        floor = single.get("floor")
        floor_m = floor["median"] if floor else None
        out.append("## 1-2. One host: `ansible-playbook -i INV chat_callback.mtls.deploy -e @site.yml`")
        out.append("")
        out.append("| Run | wall s (median) | min-max | runs | ok | changed | skipped | × floor | load 1m |")
        out.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        rows = [("cold (a): nginx not installed (apt from the mirror)", res.get("cold")),
                ("cold (b): nginx installed, unconfigured", single.get("cold_b")),
                ("idempotent re-run", single.get("idempotent")),
                ("rotation: new certificate + key, same name", single.get("rotation"))]
        for label, st in rows:
            if not st:
                continue
            ratio = f"{st['median'] / floor_m:.1f}" if floor_m else "n/a"
            counts = (f"{st['ok']} | {st['changed']} | {st['skipped']}" if not st["counts_vary"]
                      else f"{st['ok']}* | {st['changed']}* | {st['skipped']}*")
            out.append(f"| {label} | {fmt_s(st['median'])} | {fmt_s(st['min'])}-{fmt_s(st['max'])} | {st['n']} | "
                       f"{counts} | {ratio} | {st['load']:.1f} |")
        for key, label in (("floor", "floor: shell, 4 × podman cp + exec nginx -t + exec systemctl reload"),
                           ("floor_one", "floor: shell, one podman exec (tar in, nginx -t, reload)")):
            st = single.get(key)
            if st:
                out.append(f"| {label} | {st['median']:.2f} | {st['min']:.2f}-{st['max']:.2f} | {st['n']} | "
                           f"- | - | - | {st['median'] / floor_m:.2f} | {st['load']:.1f} |")
        rt = single.get("round_trip")
        if rt:
            out.append(f"| one round trip: `podman exec HOST true` | {rt['median']:.2f} | "
                       f"{rt['min']:.2f}-{rt['max']:.2f} | {rt['n']} | - | - | - | - | {rt['load']:.1f} |")
        out.append("")
        out.append("ok= counts executed tasks including changed ones (PLAY RECAP); * the counts differed between "
                   "runs (first run shown). The rotation alternates two certificates for the same name; the floor "
                   "copies the same files and the deployed host's own server block, then tests and reloads. "
                   "× floor: role time / floor (4 × cp) time.")
        bad = [lbl for lbl, key in (("idempotent", "idempotent"),) if single.get(key)
               and any(single[key]["all_changed"])]
        if bad:
            out.append("")
            out.append(f"WARNING: the idempotent re-run reported changes: {single['idempotent']['all_changed']}")
        out.append("")

    out += bench_ssh.render(res)

    fleet = res.get("fleet")
    if fleet:
        out.append("## 3. Fleet: deploy on installed-but-unconfigured hosts, then the idempotent re-run")
        out.append("")
        cores = os.cpu_count() or 1
        out.append("| hosts | forks | deploy s | × 1 host | re-run s | × 1 host | s per host (deploy) | "
                   "CPU s deploy / re-run (Ansible side) | cores busy deploy / re-run | runs | "
                   "ok/changed per host (deploy) | load 1m |")
        out.append("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |")
        one = fleet.get(1)
        for n in sorted(fleet):
            st = fleet[n]
            dep, rer = st["deploy"], st["rerun"]
            x_dep = f"{dep['median'] / one['deploy']['median']:.2f}" if one else "n/a"
            x_rer = f"{rer['median'] / one['rerun']['median']:.2f}" if one else "n/a"
            cpu = (f"{dep['cpu_busy']:.1f} ({dep['cpu_controller']:.1f}) / {rer['cpu_busy']:.1f} "
                   f"({rer['cpu_controller']:.1f})")
            busy = f"{dep['cpu_busy'] / dep['median']:.2f} / {rer['cpu_busy'] / rer['median']:.2f}"
            out.append(f"| {n} | {n} | {fmt_s(dep['median'])} | {x_dep} | {fmt_s(rer['median'])} | {x_rer} | "
                       f"{dep['median'] / n:.1f} | {cpu} | {busy} | {dep['n']} | {dep['ok']}/{dep['changed']} | "
                       f"{dep['load']:.1f} |")
        out.append("")
        out.append("`ANSIBLE_FORKS` = hosts; fresh containers for every deploy; 1 host is the cold (b) run and first "
                   "re-run of section 1 (when that section ran). CPU s: what all cores of the machine spent during "
                   "the run (/proc/stat, medians), in brackets the part of ansible-playbook, its workers and the "
                   "podman commands they ran; the rest is mostly the hosts' side (podman's conmon and runc, the "
                   "modules' Python, nginx) and anything else on the machine. Cores busy: CPU s / wall s, of "
                   f"{cores}: near {cores}, the run waits for the CPU, and no playbook can scale past what its CPU "
                   "seconds allow.")
        out.append("")

    module = res.get("module")
    if module:
        out.append("## 4. `cert_check` per bundle")
        out.append("")
        out.append("| How | bundle | median ms | p90 ms | runs |")
        out.append("| --- | --- | ---: | ---: | ---: |")
        for row in module["inprocess"]:
            out.append(f"| in-process `{row['what']}` | {row['bundle']} | {row['median']:.2f} | {row['p90']:.2f} | "
                       f"{row['runs']} |")
        for row in module["adhoc"]:
            out.append(f"| `{row['what']}` | {row['bundle']} | {row['median'] * 1000:.0f} | "
                       f"{row['max'] * 1000:.0f} (max) | {row['runs']} |")
        out.append("")
        out.append(f"Ad hoc: `ansible localhost -m MODULE -a JSON -e ansible_python_interpreter={sys.executable}` "
                   "wall time. `ansible.builtin.ping` runs as a module: Ansible's start-up plus one module Python. "
                   "On the local connection `cert_check`'s action plugin checks in Ansible's own process, without "
                   "that Python; elsewhere it runs as a module too.")
        out.append("")

    out += tls_render(res, args)

    prof = res.get("profile")
    if prof:
        out.append("## 6. Where the idempotent re-run of one host spends its time")
        out.append("")
        out.append("| task | median s | remote module runs | podman exec | podman mount | podman cp | local exec |")
        out.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for row in prof["rows"]:
            out.append(f"| {row['task']} | {row['secs']:.2f} | {row['modules']} | {row['exec']} | {row['mount']} | "
                       f"{row['cp']} | {row['local']} |")
        t = prof["totals"]
        out.append(f"| **total** (tasks listed: {len(prof['rows'])}) | {t['secs']:.2f} | {t['modules']} | "
                   f"{t['exec']} | {t['mount']} | {t['cp']} | {t['local']} |")
        out.append("")
        out.append(f"Times: profile_tasks, median of the {prof['runs']} idempotent re-runs above (a task's time is "
                   "its wall time; skipped tasks take ~0.1 s and are left out). Round trips: one more re-run "
                   "with `-vvv`, counting the podman connection's `RUN [podman exec|mount|cp ...]` lines and the "
                   f"controller's local EXEC lines per task. Wall time of the re-run: {prof['wall']:.1f} s; "
                   f"podman round trips: {t['exec'] + t['mount'] + t['cp']}; one `podman exec` costs "
                   f"{prof['round_trip']:.2f} s here (median).")
        out.append("")
    knobs = res.get("knobs")
    if knobs:
        out.append("## Knobs: the idempotent re-run of one host with connection settings changed")
        out.append("")
        out.append("| variant | wall s (median) | min-max | runs | podman exec | podman mount | ok | changed "
                   "| load 1m |")
        out.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
        for row in knobs:
            out.append(f"| {row['label']} | {fmt_s(row['median'])} | {fmt_s(row['min'])}-{fmt_s(row['max'])} | "
                       f"{row['n']} | {row['exec']} | {row['mount']} | {row['ok']} | {row['changed']} | "
                       f"{row['load']:.1f} |")
        out.append("")
        out.append("Every run with `-vvv` (to count the podman calls), the variants round-robin.")
        out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# sections


@dataclass
class Ctx:
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


def nginx_cpu_seconds(host: str) -> float:
    """utime + stime of every nginx process on the host (master and workers), from /proc."""
    return tls_server_state(host)["cpu"]


# (label, port in the container, port published on 127.0.0.1)
TLS_SERVERS = (("mTLS (ssl_verify_client on)", 443, PORT_MTLS), ("no client verification", 8443, PORT_PLAIN))
TLS_CLIENTS = {
    "python": "Python `ssl`, host → podman port",
    "container": "`openssl s_time`, in the container",
    "host": "`openssl s_time`, host → podman port",
    "floor": "Python, in the container",
}


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


def tls_python_run(args, inputs: dict, port: int, version: str, resume: bool) -> dict:
    ctx = tls_context(inputs, version)
    cpu_server = nginx_cpu_seconds(SINGLE)
    cpu_client = time.process_time()
    sample = tls_rate(ctx, port, resume, args.tls_seconds, args.tls_max)
    sample["client_cpu_ms"] = (time.process_time() - cpu_client) * 1000 / sample["count"]
    sample["server_cpu_ms"] = (nginx_cpu_seconds(SINGLE) - cpu_server) * 1000 / sample["count"]
    return sample


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


def section_tls(args, inputs: dict, res: dict) -> None:
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


# --------------------------------------------------------------------------------------------


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
    for opt in ("runs", "cold_runs", "fleet_runs", "module_runs", "tls_max"):
        if getattr(args, opt) < 1:
            parser.error(f"--{opt.replace('_', '-')} must be at least 1")
    if args.budget_minutes < 0:
        parser.error("--budget-minutes must not be negative")
    if not 0 < args.tls_seconds <= 60:
        parser.error("--tls-seconds must be in (0, 60]")
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
        needs_hosts = set(args.sections) & {"single", "ssh", "fleet", "tls", "profile"}
        if needs_hosts:
            info["nginx_image"] = ensure_nginx_image(hosts, args.rebuild_image)
        ctx = Ctx(args=args, hosts=hosts, work=work, inputs=inputs, pb=pb, res=res, info=info)
        if "cold" in args.sections:
            section_cold(ctx)
        if "single" in args.sections:
            section_single(ctx)
        elif set(args.sections) & {"tls", "profile", "knobs"}:
            setup_single(ctx)
        if "ssh" in args.sections:
            bench_ssh.section_ssh(ctx, sys.modules[__name__])  # its helpers: see bench_ssh's docstring
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
