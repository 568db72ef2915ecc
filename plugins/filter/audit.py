# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""audit_summary, audit_table, audit_report: the nginx_mtls role's audit, from facts to sentences, a table
and a machine-readable report.

The role's ``audit`` entry point gathers the facts (``nginx_mtls_deployed`` from ``inspect``, a
tls_probe of every address a client reaches); these filters only word them. Documented in
the .yml files of the same names next to this file.
"""

from __future__ import absolute_import, division, print_function  # noqa: UP010

__metaclass__ = type  # noqa: UP001

import datetime
import re

from ansible.errors import AnsibleFilterError

from ansible_collections.chat_callback.mtls.plugins.module_utils._cert_common import iso_utc, parse_iso_utc

# The issuer's CN as RFC 4514 writes it (escaped commas stay escaped, as the table shows them).
_ISSUER_CN = re.compile(r"(?:^|,)CN=((?:[^,\\]|\\.)*)")
HEADER = ["host", "server name", "not after (UTC)", "days left", "issuer", "client CA SHA-256", "served==file"]


def _seconds_left(not_after, now):
    if not not_after:
        return None
    return (parse_iso_utc(not_after) - now).total_seconds()


def _endpoint(address, port):
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _file_problems(deployed):
    nginx = deployed.get("nginx", {})
    if not nginx.get("installed") and not nginx.get("conf_dir_given"):
        return [f'"{nginx.get("binary", "nginx")} -V" failed ({nginx.get("error", "?")}), so the nginx conf dir is '
                f"unknown: install nginx, or set nginx_mtls_binary or nginx_mtls_conf_dir."]
    found = []
    for what, key, exists, variable in (("certificate", "certificate", "exists", "nginx_mtls_certificate_name"),
                                        ("client CA", "client_ca", "client_ca_exists", "nginx_mtls_client_ca_name")):
        if not deployed.get(exists):
            found.append(f"The {what} file {deployed[f'{key}_path']} does not exist. The audit looks where the deploy "
                         f"puts it: set nginx_mtls_conf_dir or {variable} if it lives elsewhere.")
    return found


def _probe_problems(deployed, probe, port):
    server_name = deployed["server_name"]
    fingerprint = deployed.get("certificate", {}).get("sha256_fingerprint")
    addresses = probe.get("addresses") or {}
    if not addresses:
        return [f"The site could not be probed: {probe.get('msg', '?')}"]
    found = []
    for address, result in addresses.items():
        endpoint = _endpoint(address, port)
        if not result.get("tls_established"):
            found.append(f"nginx does not complete a TLS handshake on {endpoint} for SNI {server_name} "
                         f"({result.get('error') or '?'}): the site is down there.")
        elif fingerprint and result.get("sha256_fingerprint") != fingerprint:
            found.append(f"nginx serves another certificate for {server_name} on {endpoint} (SHA-256 "
                         f"{result.get('sha256_fingerprint')}) than {deployed['certificate_path']} ({fingerprint}): "
                         f"nginx was not reloaded since the file changed, or another server block listens on this "
                         f"address for this name.")
    return found


def _served(deployed, probe):
    probes = list((probe.get("addresses") or {}).values())
    fingerprint = deployed.get("certificate", {}).get("sha256_fingerprint")
    if not probes or not all(p.get("tls_established") for p in probes):
        return "down"
    if not fingerprint:
        return "-"
    return "yes" if {p.get("sha256_fingerprint") for p in probes} == {fingerprint} else "no"


def audit_summary(deployed, probe, port, now=None):
    """One site's audit: its files, what each address serves, and every problem, worded for the operator."""
    if not isinstance(deployed, dict) or "server_name" not in deployed:
        raise AnsibleFilterError("audit_summary expects nginx_mtls_deployed as the nginx_mtls role's inspect sets it")
    now = now or datetime.datetime.now(datetime.timezone.utc)
    probe = probe or {}
    certificate = deployed.get("certificate") or {}
    seconds = _seconds_left(certificate.get("not_after"), now)
    problems = _file_problems(deployed) + list(deployed.get("problems") or [])
    if deployed.get("check_error"):
        problems.append(f"cert_check could not check the files: {deployed['check_error']}")
    problems += _probe_problems(deployed, probe, port)
    issuer = certificate.get("issuer")
    match = _ISSUER_CN.search(issuer) if issuer else None
    return {
        "server_name": deployed["server_name"],
        "certificate": {
            "path": deployed.get("certificate_path"),
            "exists": bool(deployed.get("exists")),
            "not_after": certificate.get("not_after"),
            # Whole days, rounded toward zero: 399 for 399.9 days left, -1 for a day and an hour ago.
            "days_left": None if seconds is None else int(seconds / 86400),
            "expired": seconds is not None and seconds < 0,
            "serial": certificate.get("serial"),
            "sha256_fingerprint": certificate.get("sha256_fingerprint"),
            "issuer": (match.group(1) if match else issuer) or None,
        },
        "client_ca": {
            "path": deployed.get("client_ca_path"),
            "exists": bool(deployed.get("client_ca_exists")),
            "certificates": [{key: ca.get(key) for key in ("subject", "not_after", "sha256_fingerprint")}
                             for ca in deployed.get("client_cas") or []],
        },
        "served": {
            "verdict": _served(deployed, probe),
            "addresses": {address: {"tls_established": bool(result.get("tls_established")),
                                    "sha256_fingerprint": result.get("sha256_fingerprint") or None,
                                    "error": result.get("error") or ""}
                          for address, result in (probe.get("addresses") or {}).items()},
        },
        "problems": problems,
        "msg": "" if not problems else problems[0] if len(problems) == 1 else f"{len(problems)} problems: " + " ".join(
            f"({number}) {problem}" for number, problem in enumerate(problems, 1)),
    }


def _row(host, summary):
    certificate, days = summary["certificate"], summary["certificate"]["days_left"]
    return [
        host,
        summary["server_name"] or "-",
        certificate["not_after"] or "-",
        "-" if days is None else f"{days}{' (expired)' if certificate['expired'] else ''}",
        certificate["issuer"] or "-",
        # The first 8 bytes tell CA files apart at a glance; the report has the whole fingerprint.
        " + ".join(ca["sha256_fingerprint"][:23] for ca in summary["client_ca"]["certificates"]) or "-",
        summary["served"]["verdict"],
    ]


def _summaries(hostvars, hosts):
    for host in hosts:
        facts = hostvars[host]
        yield host, facts.get("nginx_mtls_audit"), facts.get("nginx_mtls_server_name") or None


def audit_table(hostvars, hosts):
    """The fleet's table, one line per host; a host without a summary is "not audited" (unreachable, or it
    failed before its audit, as on a missing nginx_mtls_server_name)."""
    rows = [HEADER] + [_row(host, summary) if summary else [host, server_name or "-", "not audited"] + ["-"] * 4
                       for host, summary, server_name in _summaries(hostvars, hosts)]
    widths = [max(len(str(row[column])) for row in rows) for column in range(len(HEADER))]
    return ["  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]


def audit_report(hostvars, hosts, now=None):
    """The fleet's audit as one JSON-ready object (docs/audit-report.schema.json)."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    entries = []
    for host, summary, server_name in _summaries(hostvars, hosts):
        if summary:
            entries.append(dict({key: value for key, value in summary.items() if key != "msg"},
                                host=host, audited=True))
        else:
            entries.append({"host": host, "server_name": server_name, "audited": False,
                            "problems": ["not audited: the host was unreachable or failed before its audit"]})
    return {"schema_version": 1, "generated_at": iso_utc(now), "hosts": entries}


class FilterModule:
    def filters(self):
        return {"audit_summary": audit_summary, "audit_table": audit_table, "audit_report": audit_report}
