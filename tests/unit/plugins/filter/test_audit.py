# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""audit_summary and audit_table: the audit's sentences and table from the role's facts."""

from __future__ import annotations

import datetime
import json
from pathlib import Path

import jsonschema

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.chat_callback.mtls.plugins.filter.audit import audit_report, audit_summary, audit_table

NOW = datetime.datetime(2026, 11, 30, 12, 0, 0, tzinfo=datetime.timezone.utc)
FP = "AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99"
CA_FP = "12:34:56:78:9A:BC:DE:F0:" + FP[24:]


def deployed(**changes):
    facts = {
        "server_name": "www.example.com",
        "nginx": {"installed": True, "error": "", "binary": "nginx", "conf_dir_given": False},
        "certificate_path": "/usr/local/nginx/conf/www.example.com.crt",
        "client_ca_path": "/usr/local/nginx/conf/TencentQQAuthCA.crt",
        "exists": True,
        "client_ca_exists": True,
        "certificate": {"not_after": "2027-01-09T12:00:00Z", "sha256_fingerprint": FP,
                        "issuer": "CN=Demo Server\\, Intermediate CA,O=chat_callback.mtls"},
        "client_cas": [{"subject": "CN=TencentQQAuthCA", "not_after": "2036-01-01T00:00:00Z",
                        "sha256_fingerprint": CA_FP}],
        "problems": [],
        "check_error": "",
    }
    facts.update(changes)
    return facts


def probe(*addresses, fingerprint=FP, up=True):
    return {"addresses": {a: {"tls_established": up, "sha256_fingerprint": fingerprint, "error": "" if up else
                              "connection refused"} for a in addresses}}


def test_a_healthy_site_has_no_problem():
    summary = audit_summary(deployed(), probe("127.0.0.1", "::1"), 443, now=NOW)
    assert summary["problems"] == [] and summary["msg"] == ""
    assert summary["certificate"]["days_left"] == 40 and summary["certificate"]["expired"] is False
    assert summary["certificate"]["issuer"] == "Demo Server\\, Intermediate CA"
    assert summary["served"]["verdict"] == "yes"


def test_days_left_round_toward_zero_and_expiry_is_exact_to_the_second():
    almost = audit_summary(deployed(certificate={"not_after": "2026-11-30T11:59:59Z"}), probe("127.0.0.1"), 443,
                           now=NOW)
    assert (almost["certificate"]["days_left"], almost["certificate"]["expired"]) == (0, True)
    old = audit_summary(deployed(certificate={"not_after": "2026-11-29T11:00:00Z"}), probe("127.0.0.1"), 443, now=NOW)
    assert old["certificate"]["days_left"] == -1


def test_cert_check_problems_and_missing_files_are_reported_in_order():
    summary = audit_summary(
        deployed(client_ca_exists=False, problems=["/usr/local/nginx/conf/www.example.com.crt: the certificate "
                                                   "expired on 2026-11-29T00:00:00Z (1 day ago); renew it."]),
        probe("127.0.0.1"), 443, now=NOW)
    assert summary["problems"] == [
        "The client CA file /usr/local/nginx/conf/TencentQQAuthCA.crt does not exist. The audit looks where the "
        "deploy puts it: set nginx_mtls_conf_dir or nginx_mtls_client_ca_name if it lives elsewhere.",
        "/usr/local/nginx/conf/www.example.com.crt: the certificate expired on 2026-11-29T00:00:00Z (1 day ago); "
        "renew it.",
    ]
    assert summary["msg"].startswith("2 problems: (1) The client CA file ")
    assert " (2) /usr/local/nginx/conf/www.example.com.crt: " in summary["msg"]


def test_without_nginx_the_files_are_not_blamed():
    summary = audit_summary(
        deployed(nginx={"installed": False, "error": "nginx not found", "binary": "nginx", "conf_dir_given": False},
                 exists=False, client_ca_exists=False, certificate={}, client_cas=[]),
        {"addresses": {}, "msg": "connection refused"}, 443, now=NOW)
    assert summary["problems"] == [
        '"nginx -V" failed (nginx not found), so the nginx conf dir is unknown: install nginx, or set '
        "nginx_mtls_binary or nginx_mtls_conf_dir.",
        "The site could not be probed: connection refused",
    ]
    assert summary["served"]["verdict"] == "down"
    assert summary["certificate"]["days_left"] is None and summary["certificate"]["not_after"] is None


def test_every_address_is_judged_on_its_own():
    result = probe("127.0.0.1")
    result["addresses"]["192.0.2.10"] = {"tls_established": True, "sha256_fingerprint": "00:11"}
    result["addresses"]["2001:db8::1"] = {"tls_established": False, "error": "timed out"}
    summary = audit_summary(deployed(), result, 8443, now=NOW)
    assert summary["served"]["verdict"] == "down"
    down = {"tls_established": False, "sha256_fingerprint": None, "error": "timed out"}
    assert summary["served"]["addresses"]["2001:db8::1"] == down
    assert summary["problems"] == [
        "nginx serves another certificate for www.example.com on 192.0.2.10:8443 (SHA-256 00:11) than "
        f"/usr/local/nginx/conf/www.example.com.crt ({FP}): nginx was not reloaded since the file changed, or "
        "another server block listens on this address for this name.",
        "nginx does not complete a TLS handshake on [2001:db8::1]:8443 for SNI www.example.com (timed out): the "
        "site is down there.",
    ]
    wrong = audit_summary(deployed(), probe("127.0.0.1", fingerprint="00:11"), 443, now=NOW)
    assert wrong["served"]["verdict"] == "no"


def test_cert_check_errors_are_said_as_such():
    summary = audit_summary(deployed(check_error="cryptography is missing"), probe("127.0.0.1"), 443, now=NOW)
    assert summary["problems"] == ["cert_check could not check the files: cryptography is missing"]


def test_a_fact_that_is_not_nginx_mtls_deployed_is_refused():
    with pytest.raises(AnsibleFilterError, match="nginx_mtls_deployed"):
        audit_summary({}, {}, 443)


def test_the_table_aligns_columns_and_lists_hosts_without_an_audit():
    good = audit_summary(deployed(), probe("127.0.0.1"), 443, now=NOW)
    expired = audit_summary(deployed(certificate=dict(deployed()["certificate"], not_after="2026-11-28T12:00:00Z")),
                            probe("127.0.0.1"), 443, now=NOW)
    hostvars = {"web1": {"nginx_mtls_audit": good}, "web2": {"nginx_mtls_audit": expired},
                "web3": {"nginx_mtls_server_name": "c.example.com"}}
    lines = audit_table(hostvars, ["web1", "web2", "web3"])
    assert lines[0].split("  ")[0] == "host"
    assert [line.split()[0] for line in lines] == ["host", "web1", "web2", "web3"]
    cells = [[cell.strip() for cell in line.split("  ") if cell.strip()] for line in lines[1:]]
    assert cells[0] == ["web1", "www.example.com", "2027-01-09T12:00:00Z", "40", "Demo Server\\, Intermediate CA",
                        CA_FP[:23], "yes"]
    assert cells[1][3] == "-2 (expired)"
    assert cells[2] == ["web3", "c.example.com", "not audited", "-", "-", "-", "-"]
    # every column starts at the same offset on every line
    assert len({line.index("www.example.com") for line in lines[1:3]}) == 1
    assert all(line == line.rstrip() for line in lines)


def test_the_report_of_a_fleet_with_an_expiring_and_an_expired_host_validates_against_its_schema():
    schema = json.loads((Path(__file__).resolve().parents[4] / "docs" / "audit-report.schema.json").read_text())
    expiring = dict(deployed()["certificate"], not_after="2026-12-19T12:00:00Z")
    expired = dict(deployed()["certificate"], not_after="2026-11-28T12:00:00Z")
    hostvars = {
        "web1": {"nginx_mtls_audit": audit_summary(deployed(), probe("127.0.0.1", "::1"), 443, now=NOW)},
        "web2": {"nginx_mtls_audit": audit_summary(deployed(certificate=expiring, problems=["expires soon"]),
                                                   probe("127.0.0.1"), 443, now=NOW)},
        "web3": {"nginx_mtls_audit": audit_summary(deployed(certificate=expired, problems=["expired"]),
                                                   probe("127.0.0.1", up=False), 443, now=NOW)},
        "web4": {"nginx_mtls_server_name": "d.example.com"},
    }
    report = json.loads(json.dumps(audit_report(hostvars, ["web1", "web2", "web3", "web4"], now=NOW)))
    jsonschema.validate(report, schema, format_checker=jsonschema.FormatChecker())
    assert report["generated_at"] == "2026-11-30T12:00:00Z"
    assert [(h["host"], h["audited"], h.get("certificate", {}).get("days_left")) for h in report["hosts"]] == [
        ("web1", True, 40), ("web2", True, 19), ("web3", True, -2), ("web4", False, None)]
    assert report["hosts"][0]["served"]["addresses"]["::1"]["sha256_fingerprint"] == FP
    assert report["hosts"][2]["certificate"]["expired"] is True and report["hosts"][2]["problems"][0] == "expired"
    # the schema refuses what it does not describe
    report["hosts"][0]["certificate"]["days"] = 40
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(report, schema)
