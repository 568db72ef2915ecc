# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metrics_samples: cert_check's facts of a real bundle as gauges, in UTC."""

from __future__ import annotations

import datetime
import sys
import time
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.chat_callback.mtls.plugins.filter.metrics import metrics_samples
from ansible_collections.chat_callback.mtls.plugins.module_utils.cert_check_task import task_result

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
import pki  # noqa: E402


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    files = pki.write_demo(tmp_path_factory.mktemp("pki"))
    result = task_result({"certificate": str(files["certificate"]), "client_ca": str(files["client_ca"]),
                          "server_name": "www.example.com"})[0]
    assert not result.get("failed"), result
    return result


def as_time(seconds):
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_gauges_hold_cert_checks_dates_to_the_second(bundle, monkeypatch):
    # a controller east of UTC must not shift the dates (a naive datetime's timestamp() would)
    monkeypatch.setenv("TZ", "Asia/Shanghai")
    time.tzset()
    try:
        found = metrics_samples(bundle, "www.example.com", "intermediate")
    finally:
        monkeypatch.undo()
        time.tzset()
    by_name = {}
    for sample in found["samples"]:
        by_name.setdefault(sample["name"], []).append(sample)
        assert sample["labels"]["server_name"] == "www.example.com"
    for field in ("not_after", "not_before"):
        (sample,) = by_name[f"nginx_mtls_certificate_{field}_seconds"]
        assert as_time(sample["value"]) == bundle["certificate"][field]
    cas = by_name["nginx_mtls_client_ca_not_after_seconds"]
    assert [(s["labels"]["sha256_fingerprint"], as_time(s["value"])) for s in cas] == [
        (ca["sha256_fingerprint"], ca["not_after"]) for ca in bundle["client_cas"]]
    info = by_name["nginx_mtls_certificate_info"][0]
    assert info["value"] == 1
    assert info["labels"] == {"server_name": "www.example.com", "serial": bundle["certificate"]["serial"],
                              "sha256_fingerprint": bundle["certificate"]["sha256_fingerprint"],
                              "tls_profile": "intermediate"}
    assert "nginx_mtls_crl_next_update_seconds" not in by_name
    assert found["stamp"]["name"] == "nginx_mtls_last_deploy_timestamp_seconds"


def test_a_crl_gives_its_next_update(bundle, tmp_path):
    ca = pki.make_ca("Demo Client CA")
    crl = pki.make_crl(ca, next_update_days=7)
    found = metrics_samples(bundle, "www.example.com", "modern", crl.decode())
    (sample,) = [s for s in found["samples"] if s["name"] == "nginx_mtls_crl_next_update_seconds"]
    left = sample["value"] - datetime.datetime.now(datetime.timezone.utc).timestamp()
    assert 7 * 86400 - 60 < left <= 7 * 86400


def test_what_is_not_cert_checks_result_is_refused():
    with pytest.raises(AnsibleFilterError, match="cert_check's result"):
        metrics_samples({"msg": "failed"}, "www.example.com", "intermediate")
    with pytest.raises(AnsibleFilterError, match="CRL cannot be parsed"):
        metrics_samples({"certificate": {"not_after": "2027-01-01T00:00:00Z", "not_before": "2026-01-01T00:00:00Z"}},
                        "www.example.com", "intermediate", "-----BEGIN X509 CRL-----\nnot\n-----END X509 CRL-----\n")
