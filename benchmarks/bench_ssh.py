# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SSH row of benchmarks/bench_role.py: one host reached the way users reach theirs.

The same image and inputs as the podman single-host rows, but ``ansible_connection: ssh`` to
127.0.0.1 on a port podman chose, as the non-root user ``deploy`` (a key made here), who becomes
root with ``sudo`` and a password (``ansible_become_password``). Each round, on a fresh host with
nginx installed but unconfigured:

1. ``chat_callback.mtls.deploy`` with certificate set a: the first deployment (= podman's cold (b));
2. the same again: the idempotent re-run;
3. ``chat_callback.mtls.deploy`` with set b: a rotation as the podman row makes it;
4. ``chat_callback.mtls.rotate`` with set a: a rotation with the shipped rotation playbook.

Every run is ``-vvv``, to count the ssh and sftp/scp commands Ansible starts ("SSH: EXEC" lines),
and sshd's log in the host counts the SSH logins (TCP connections that authenticated).

"""

from __future__ import annotations

import re
import secrets
import shutil
import socket
import time
from pathlib import Path

from bench_common import IMAGES, PREFIX, BenchError, fmt_s, load, log, run
from bench_hosts import exec_in
from bench_runner import recap_of, row_stats

NAME_SUFFIX = "ssh1"  # the container is PREFIX + this: mtls-bench-ssh1
USER = "deploy"
SUDOERS = "/etc/sudoers.d/mtls-bench-deploy"
DEPLOY = "chat_callback.mtls.deploy"
ROTATE = "chat_callback.mtls.rotate"
# (key in res["ssh"], label, playbook, certificate set); one round runs them in this order.
RUNS = (
    ("deploy", "first deployment (nginx installed, unconfigured)", DEPLOY, "a"),
    ("idempotent", "idempotent re-run", DEPLOY, "a"),
    ("rotation", "rotation: new certificate + key, same name", DEPLOY, "b"),
    ("rotate", "rotation with `chat_callback.mtls.rotate`", ROTATE, "a"),
)
# The podman rows of section 1 that measure the same thing (res["single"] keys).
PODMAN_ROWS = {"deploy": "cold_b", "idempotent": "idempotent", "rotation": "rotation"}
EXEC_RE = re.compile(r"^<[^>]+> SSH: EXEC (\S+)", re.MULTILINE)


def section_ssh(ctx) -> None:
    """--runs rounds, each on a fresh host; res["ssh"] gets one row_stats per kind of run."""
    for tool in ("ssh", "ssh-keygen"):
        if not shutil.which(tool):
            raise BenchError(f"{tool} not found: the SSH row needs the OpenSSH client (apt-get install "
                             "openssh-client), or leave it out with --skip ssh")
    folder = ctx.work / "ssh"
    folder.mkdir()
    key = folder / "id_ed25519"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "mtls-bench", "-f", key])
    # A random password on a throwaway host: sudo must really ask for it, as on the users' hosts.
    password = secrets.token_urlsafe(18)
    name = PREFIX + NAME_SUFFIX
    results: dict = {k: [] for k, *_rest in RUNS}
    for i in range(ctx.args.runs):
        try:
            # No fixed host port: molecule's SSH scenarios publish theirs on the same machine.
            ctx.hosts.start([name], IMAGES["nginx"], (("", 22),))
            port = published_port(name)
            prepare_host(name, key, password)
            inventory = write_inventory(folder, name, port=port, key=key, password=password,
                                        known_hosts=host_key(name, port, folder))
            wait_for_sshd(port)
            for kind, label, playbook, cert_set in RUNS:
                log(f"ssh round {i + 1}/{ctx.args.runs}: {label} ({playbook}, set {cert_set}) ...")
                r = run_playbook(ctx, name, inventory, playbook=playbook, cert_set=cert_set,
                                 label=f"ssh-{kind}-{i + 1}")
                results[kind].append(r)
                log(f"  {r['wall']:.1f} s {recap_of(r, name)} ssh {r['ssh']} + sftp/scp "
                    f"{r['transfers']}, logins {r['logins']}, load {load()}")
        finally:
            ctx.hosts.remove([name])
    rows = {}
    for kind, label, playbook, cert_set in RUNS:
        st = row_stats(results[kind], name)
        runs = results[kind]
        calls = [(r["ssh"], r["transfers"], r["logins"]) for r in runs]
        st.update({"label": label, "playbook": playbook, "set": cert_set, "ssh": calls[0][0],
                   "transfers": calls[0][1], "logins": calls[0][2], "calls_vary": len(set(calls)) > 1})
        rows[kind] = st
    ctx.res["ssh"] = {"rows": rows, "image": IMAGES["nginx"], "host": name}


def published_port(name: str) -> int:
    out = run(["podman", "port", name, "22/tcp"]).stdout.strip()  # "127.0.0.1:41234"
    match = re.fullmatch(r"127\.0\.0\.1:(\d+)", out.splitlines()[0] if out else "")
    if not match:
        raise BenchError(f"{name}: no port published on 127.0.0.1 for 22/tcp (podman port said {out!r})")
    return int(match[1])


def prepare_host(name: str, key: Path, password: str) -> None:
    """The account a user deploys with, made through podman exec: SSH cannot log in before it exists."""
    run(["podman", "exec", name, "useradd", "--create-home", "--shell", "/bin/bash", USER])
    exec_in(name, f"install -d -m 0700 -o {USER} -g {USER} /home/{USER}/.ssh && "
            f"cat > /home/{USER}/.ssh/authorized_keys && chown {USER}:{USER} /home/{USER}/.ssh/authorized_keys "
            f"&& chmod 0600 /home/{USER}/.ssh/authorized_keys", input_data=key.with_suffix(".pub").read_text())
    run(["podman", "exec", "-i", name, "chpasswd"], input_data=f"{USER}:{password}\n")
    # Its own file rather than the sudo group: what the row measures is spelled out and checked.
    exec_in(name, f"cat > {SUDOERS} && chmod 0440 {SUDOERS} && visudo -cqf {SUDOERS}",
            input_data=f"{USER} ALL=(ALL:ALL) ALL\n")
    # Without a password sudo must refuse: otherwise the row would time NOPASSWD, not what it says.
    check = run(["podman", "exec", "--user", USER, name, "sudo", "--non-interactive", "true"], check=False)
    if check.returncode == 0 or "password is required" not in check.stderr:
        raise BenchError(f"{name}: sudo does not ask {USER} for a password (rc {check.returncode}, "
                         f"{check.stderr.strip()!r})")


def host_key(name: str, port: int, folder: Path) -> Path:
    """known_hosts from the host's own key file: host key checking stays on, as users have it,
    without trusting whatever answers on the port first (ssh-keyscan would)."""
    pub = run(["podman", "exec", name, "cat", "/etc/ssh/ssh_host_ed25519_key.pub"]).stdout.split()
    path = folder / "known_hosts"
    path.write_text(f"[127.0.0.1]:{port} {pub[0]} {pub[1]}\n")
    return path


def write_inventory(folder: Path, name: str, *, port: int, key: Path, password: str, known_hosts: Path) -> Path:
    # The podman inventory's interpreter too: the two rows then differ only in how Ansible gets there.
    # IdentitiesOnly: an agent or ~/.ssh keys of this machine must not be offered first.
    lines = [
        "# one host over SSH as a non-root user who becomes root with sudo and a password",
        "webhook_servers:", "  hosts:", f"    {name}:",
        "      ansible_connection: ssh",
        "      ansible_host: 127.0.0.1",
        f"      ansible_port: {port}",
        f"      ansible_user: {USER}",
        f"      ansible_ssh_private_key_file: {key}",
        f"      ansible_ssh_common_args: -o UserKnownHostsFile={known_hosts} -o IdentitiesOnly=yes",
        f"      ansible_become_password: {password}",
        "      ansible_python_interpreter: /usr/bin/python3",
    ]
    path = folder / "inventory.yml"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


def wait_for_sshd(port: int, limit: float = 30) -> None:
    """systemd reports the host up once ssh.service started; the published port can lag behind it."""
    deadline = time.monotonic() + limit
    banner = b""
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                banner = sock.recv(64)
        except OSError:
            banner = b""
        if banner.startswith(b"SSH-"):
            return
        time.sleep(0.5)
    raise BenchError(f"sshd did not answer on 127.0.0.1:{port} within {limit:g} s (last read {banner!r})")


def run_playbook(ctx, name: str, inventory: Path, *, playbook: str, cert_set: str, label: str) -> dict:
    # A control path dir of its own per run: every run opens its SSH connection (TCP, key exchange,
    # login) as a user's first run does, instead of reusing the master the previous run left for
    # ControlPersist's 60 s. Closed right after, so no ssh process of ours outlives the run.
    control = ctx.work / "ssh" / f"cp-{ctx.pb.count + 1:02d}"
    control.mkdir()
    before = sshd_logins(name)
    try:
        r = ctx.pb.run(inventory, ctx.inputs["sets"][cert_set]["site"], label, verbose=True, timeout=900,
                       extra_env={"ANSIBLE_SSH_CONTROL_PATH_DIR": str(control)}, playbook=playbook)
    finally:
        for sock in control.iterdir():
            run(["ssh", "-O", "exit", "-o", f"ControlPath={sock}", "mtls-bench-ssh"], check=False, timeout=15)
    if recap_of(r, name).get("ok") is None:
        raise BenchError(f"{label}: no PLAY RECAP for {name}; log {r['log']}")
    execs = [Path(exe).name for exe in EXEC_RE.findall(r["output"])]
    r["ssh"] = sum(exe == "ssh" for exe in execs)
    r["transfers"] = sum(exe in ("sftp", "scp") for exe in execs)
    r["logins"] = sshd_logins(name) - before
    r["output"] = ""  # -vvv output is large and kept in the log file; the rounds keep only figures
    return r


def sshd_logins(name: str) -> int:
    """Logins sshd accepted for deploy so far: with ControlMaster, one per run, however many commands."""
    out = exec_in(name, f"journalctl -q --no-pager -o cat -t sshd | grep -c '^Accepted publickey for {USER} ' "
                  "|| true")
    return int(out.strip() or 0)


# --------------------------------------------------------------------------------------------
# report


def _row(transport: str, label: str, st: dict, trips: str, versus: str) -> str:
    star = "*" if st["counts_vary"] else ""
    return (f"| {transport} | {label} | {fmt_s(st['median'])} | {fmt_s(st['min'])}-{fmt_s(st['max'])} | {st['n']} | "
            f"{st['ok']}{star} | {st['changed']}{star} | {st['skipped']}{star} | {trips} | "
            f"{fmt_s(st['cpu_busy'])} ({fmt_s(st['cpu_controller'])}) | {versus} | {st['load']:.1f} |")


def render(res: dict) -> list:
    ssh = res.get("ssh")
    if not ssh:
        return []
    single, prof = res.get("single") or {}, res.get("profile")
    out = [f"## 1b. One host over SSH: `{DEPLOY}`, then `{ROTATE}`, as a user runs them", "",
           "| transport | run | wall s (median) | min-max | runs | ok | changed | skipped | round trips | "
           "CPU s (Ansible side) | × podman | load 1m |",
           "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: |"]
    for kind, st in ssh["rows"].items():
        podman = single.get(PODMAN_ROWS.get(kind, ""))
        if podman:
            trips = "-"
            if kind == "idempotent" and prof:
                t = prof["totals"]
                trips = f"{t['exec'] + t['mount'] + t['cp']} podman exec/mount/cp (section 6)"
            out.append(_row("podman", podman_label(kind, st["label"]), podman, trips, "1.00"))
        star = "*" if st["calls_vary"] else ""
        trips = f"{st['ssh']}{star} ssh + {st['transfers']}{star} sftp/scp, {st['logins']}{star} login(s)"
        versus = f"{st['median'] / podman['median']:.2f}" if podman else "-"
        out.append(_row("SSH (loopback)", st["label"], st, trips, versus))
    out += ["", f"The SSH host is a container on this same machine, `{ssh['host']}` from `{ssh['image']}` (nginx "
            "installed, unconfigured, as cold (b)), reached at 127.0.0.1 on a port podman published and chose "
            "(`-p 127.0.0.1::22`): loopback, no network latency, and the host's sshd, sudo and module Python share "
            "the 2 cores with Ansible. A real host adds its round-trip time to every round trip counted here. "
            f"Inventory: `ansible_connection: ssh`, `ansible_user: {USER}` with an ed25519 key made by the bench, "
            "host key checking on (known_hosts from the host's key file), `ansible_become_password` for "
            f"`{USER} ALL=(ALL:ALL) ALL` (sudo checked to refuse without it), `ansible_python_interpreter: "
            "/usr/bin/python3` as the podman inventory; Ansible's default `ssh_args` (ControlMaster=auto, "
            "ControlPersist=60s) and the playbooks' `ansible_pipelining: true`. Each run has its own control "
            "path dir, closed after it: every run logs in once, as a user's first run does. A fresh host per "
            "round: deploy (set a), re-run (set a), rotation with the deploy playbook (set b), rotation with the "
            "rotate playbook (set a); the rotate playbook adds its own tasks around the role (slurp of the "
            "deployed files, `cert_check` of the old and new certificate on the controller, the report).",
            "",
            "Round trips: `SSH: EXEC` lines of the `-vvv` output (every SSH run is `-vvv`; ssh itself gets "
            "`-vvv` only at `-vvvv`, so this adds output, not round trips), ssh (commands and pipelined "
            "modules) and sftp/scp (file transfers), all through the one connection; logins: sshd's "
            "\"Accepted publickey\" lines in the host's journal during the run. The podman rows are the "
            "section 1 rows (not `-vvv`); their round trips are counted only for the re-run, by section 6. "
            "CPU s: the whole machine during the run, in brackets ansible-playbook, its workers and the "
            "ssh/podman commands they ran. × podman: SSH median / podman median. * varied between runs (first "
            "run shown)."]
    if not single:
        out += ["", "No podman rows: the `single` section did not run (`--only single,ssh` shows both)."]
    if any(ssh["rows"]["idempotent"]["all_changed"]):
        out += ["", f"WARNING: the idempotent re-run over SSH reported changes: "
                f"{ssh['rows']['idempotent']['all_changed']}"]
    out.append("")
    return out


def podman_label(kind: str, ssh_label: str) -> str:
    return "cold (b): nginx installed, unconfigured" if kind == "deploy" else ssh_label
