# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bench's podman hosts and what they are given: containers, images, the PKI, vars files, inventories.

Also the checks before anything starts (preflight) and the description of the machine and of the
hosts' software that heads results.md.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import shutil
import socket
import ssl
import time
import zipfile
from pathlib import Path

# tests/pki.py, the one test PKI: cert_check_bench puts tests/ on sys.path when imported.
from cert_check_bench import pki
from bench_common import (BASE_LABEL, IMAGES, PORT_MTLS, PORT_PLAIN, PREFIX, REPO, SERVER_NAME, SINGLE,
                          BenchError, load, log, run)


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


def time_round_trip(host: str, count: int) -> list:
    samples = []
    for _i in range(count):
        start = time.perf_counter()
        run(["podman", "exec", host, "true"], timeout=60)
        samples.append(time.perf_counter() - start)
    return samples


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
    # The lists go, and with them what apt's cache_valid_time reads (the "updated" stamp, else the lists
    # dir's mtime): left fresh, the role's apt takes the empty cache as up to date for the hour after
    # the build, and njs is then "not available".
    exec_in(name, "export DEBIAN_FRONTEND=noninteractive && apt-get update -qq && apt-get install -y -qq nginx "
            ">/dev/null && apt-get clean && rm -rf /var/lib/apt/lists/* /var/lib/apt/periodic/update-success-stamp "
            "&& touch -d @0 /var/lib/apt/lists && nginx -v", timeout=900)
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
