# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""results.md: the Markdown report of the figures the sections left in ``res``, one table per section.

render() writes the whole file; section 1b (SSH) is bench_ssh.render's, section 7 (the callback check)
bench_callback.render's.
"""

from __future__ import annotations

import os
import sys

import bench_callback
import bench_ssh
from bench_common import IMAGES, PORT_MTLS, PORT_PLAIN, SERVER_NAME, fmt_s
from bench_tls import TLS_CLIENTS, TLS_FLOOR_PORT


def render(info: dict, res: dict, args) -> str:
    """The whole of results.md; a section that did not run has no table."""
    out = render_header(info, args)
    out += render_single(res)
    out += bench_ssh.render(res)
    out += render_fleet(res)
    out += render_module(res)
    out += tls_render(res, args)
    out += render_profile(res)
    out += bench_callback.render(res)
    out += render_knobs(res)
    return "\n".join(out)


def render_header(info: dict, args) -> list:
    """The title and the machine: CPU, memory, load, software, images."""
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
    return out


def render_single(res: dict) -> list:
    """Sections 1-2: one host, cold (a) and the single section's runs, the floor and a podman round trip."""
    single = res.get("single", {})
    if not res.get("cold") and not single:
        return []
    out = []
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
    return out


def render_fleet(res: dict) -> list:
    """Section 3: deploy and re-run of 1 to 8 hosts, and what they take against one host."""
    fleet = res.get("fleet")
    if not fleet:
        return []
    out = []
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
    return out


def render_module(res: dict) -> list:
    """Section 4: cert_check in-process and as an ad-hoc module run."""
    module = res.get("module")
    if not module:
        return []
    out = []
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
    return out


def tls_render(res: dict, args) -> list:
    """Section 5: the full/resumed ratios, 5a (openssl s_time) and 5b (the Python client)."""
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


def render_profile(res: dict) -> list:
    """Section 6: the idempotent re-run per task, times and podman round trips."""
    prof = res.get("profile")
    if not prof:
        return []
    out = []
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
    return out


def render_knobs(res: dict) -> list:
    """Knobs (only with --only knobs): the idempotent re-run with connection settings changed."""
    knobs = res.get("knobs")
    if not knobs:
        return []
    out = []
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
    return out
