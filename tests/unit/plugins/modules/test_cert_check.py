# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""In-process tests of the cert_check module (AnsibleModule args / exit_json / fail_json patched)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from ansible.module_utils import basic
from cryptography.hazmat.primitives import serialization
from ansible.module_utils.testing import patch_module_args

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # tests/ for "import pki"

import pki  # noqa: E402
from ansible_collections.chat_callback.mtls.plugins.modules import cert_check  # noqa: E402

PASSPHRASE = "s3cret-Passphrase-for-unit-tests"


class ExitJson(Exception):
    pass


class FailJson(Exception):
    pass


@pytest.fixture(autouse=True)
def patched_module(monkeypatch):
    def exit_json(self, **kwargs):
        kwargs.setdefault("changed", False)
        raise ExitJson(kwargs)

    def fail_json(self, msg, **kwargs):
        kwargs["failed"] = True
        kwargs["msg"] = msg
        raise FailJson(kwargs)

    warned = []
    monkeypatch.setattr(basic.AnsibleModule, "exit_json", exit_json)
    monkeypatch.setattr(basic.AnsibleModule, "fail_json", fail_json)
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, warning: warned.append(warning))
    return warned


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    paths = pki.write_demo(out)
    paths["key_obj"] = paths["private_key"].read_bytes()
    return paths


def run_module(args, check_mode=False):
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args), pytest.raises((ExitJson, FailJson)) as info:
        cert_check.main()
    return info.value.args[0]


def base_args(files, **extra):
    args = {
        "certificate": str(files["certificate"]),
        "private_key": str(files["private_key"]),
        "client_ca": str(files["client_ca_zip"]),
        "server_name": "www.example.com",
    }
    args.update(extra)
    return args


def assert_no_key_material(result, key_pem, passphrase=None, public=()):
    blob = json.dumps(result)
    # The certificates the result returns are public, and share ASN.1 runs with any key (an algorithm
    # identifier such as ADANBgkqhkiG9w0B, at one base64 alignment in three): not a leak.
    returned = [result.get(name, "").encode() for name in ("certificate_pem", "client_ca_pem")]
    fragments = pki.secret_fragments(key_pem, *public, *returned)
    assert len(fragments) >= 5  # enough private-only lines to make this test able to fail
    for line in fragments:
        assert line not in blob
    if passphrase:
        assert passphrase not in blob


def test_success(files):
    result = run_module(base_args(files, server_ca=str(files["server_ca"])))
    assert result.get("failed") is not True, result.get("msg")
    assert result["changed"] is False
    assert result["server_chain_verified"] is True
    assert result["certificate"]["chain_length"] == 2
    assert result["certificate"]["sans"] == ["www.example.com"]
    assert result["certificate_pem"] == files["certificate"].read_text()
    assert result["client_ca_pem"] == files["client_ca"].read_text()
    assert len(result["client_cas"]) == 1
    assert "problems" not in result
    assert "ansible_facts" not in result
    assert_no_key_material(result, files["key_obj"], public=[files["certificate"].read_bytes()])


def test_check_mode(files):
    result = run_module(base_args(files), check_mode=True)
    assert result["changed"] is False
    assert "certificate" in result


def test_content_options_and_encrypted_key(files, tmp_path):
    demo = tmp_path / "d"
    paths = pki.write_demo(demo, server_name="callback.example.org")
    issued_key = paths["private_key"].read_bytes()
    key = serialization.load_pem_private_key(issued_key, None)
    encrypted = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.BestAvailableEncryption(PASSPHRASE.encode())).decode()
    args = {
        "certificate_content": paths["certificate"].read_text(),
        "private_key_content": encrypted,
        "private_key_passphrase": PASSPHRASE,
        "client_ca_content": paths["client_ca"].read_text(),
        "server_name": "callback.example.org",
        "server_ca_content": paths["server_ca"].read_text(),
    }
    result = run_module(args)
    assert result.get("failed") is not True, result.get("msg")
    assert result["private_key_encrypted"] is True
    assert_no_key_material(result, encrypted.encode(), PASSPHRASE)
    assert_no_key_material(result, issued_key, public=[paths["certificate"].read_bytes()])

    result = run_module(dict(args, private_key_passphrase="not-the-passphrase"))
    assert result["failed"] is True
    assert result["problem_codes"] == ["passphrase_wrong"]
    assert_no_key_material(result, encrypted.encode(), "not-the-passphrase")


def test_failure_reports_codes_and_messages(files, tmp_path):
    expired = pki.write_demo(tmp_path / "old", days_valid=-2)
    result = run_module(base_args(
        files,
        certificate=str(expired["certificate"]),
        server_name="other.example.com",
        client_ca_sha256=["00" * 32],
    ))
    assert result["failed"] is True
    assert result["problem_codes"] == ["expired", "name_mismatch", "key_mismatch", "client_ca_pin_mismatch"]
    assert len(result["problems"]) == 4
    assert str(expired["certificate"]) in result["problems"][0]
    assert result["msg"].startswith("cert_check found 4 problems")
    assert "certificate_pem" not in result and "client_ca_pem" not in result
    assert result["certificate"]["days_remaining"] < 0  # public facts help the operator
    assert_no_key_material(result, files["key_obj"], public=[files["certificate"].read_bytes()])


def test_warn_days_warning(files, tmp_path, patched_module):
    short = pki.write_demo(tmp_path / "short", days_valid=10)
    result = run_module(base_args(files, certificate=str(short["certificate"]),
                                  private_key=str(short["private_key"])))
    assert result.get("failed") is not True, result.get("msg")
    assert len(patched_module) == 1
    assert "warn_days=30" in patched_module[0]
    result = run_module(base_args(files, certificate=str(short["certificate"]),
                                  private_key=str(short["private_key"]), min_days_valid=20))
    assert result["problem_codes"] == ["expires_soon"]


def test_mutually_exclusive(files):
    result = run_module(base_args(files, certificate_content="x"))
    assert result["failed"] is True
    assert "mutually exclusive" in result["msg"]
    assert "certificate" in result["msg"]


def test_required_one_of(files):
    args = base_args(files)
    del args["certificate"]
    result = run_module(args)
    assert result["failed"] is True
    assert "one of the following is required: certificate, certificate_content" in result["msg"]


def test_labels_name_the_host_file_and_the_playbook_variable(files, tmp_path):
    expiring = pki.write_demo(tmp_path / "soon", days_valid=10)
    args = {
        "certificate_content": expiring["certificate"].read_text(),
        "client_ca_content": "not a CA",
        "server_name": "www.example.com",
        "min_days_valid": 30,
        "labels": {"certificate_content": "/etc/nginx/www.example.com.crt",
                   "client_ca_content": "/etc/nginx/TencentQQAuthCA.crt",
                   "min_days_valid": "nginx_mtls_audit_min_days"},
    }
    result = run_module(args)
    assert result["problem_codes"] == ["expires_soon", "not_pem"]
    assert result["problems"][0].startswith("/etc/nginx/www.example.com.crt: the certificate expires on ")
    assert result["problems"][0].endswith(", fewer than nginx_mtls_audit_min_days=30; renew it.")
    assert result["problems"][1].startswith("/etc/nginx/TencentQQAuthCA.crt is not PEM")
    assert "_content" not in result["msg"]


def test_labels_of_other_options_are_refused(files):
    result = run_module(base_args(files, labels={"private_key_content": "/etc/nginx/x.key"}))
    assert result["failed"] is True
    assert result["problems"] == ["labels: private_key_content cannot be labelled; only certificate_content, "
                                  "client_ca_content, min_days_valid can."]


# What the audit does: the deployed certificate and client CA, never the key; on a host without a
# client CA file, the certificate alone.
@pytest.mark.parametrize(("left_out", "not_returned"), [("private_key", ["private_key_encrypted"]),
                                                        ("client_ca", ["client_cas", "client_ca_pem"])])
def test_certificate_without_key_or_client_ca(files, left_out, not_returned):
    args = base_args(files)
    del args[left_out]
    result = run_module(args)
    assert result.get("failed") is not True, result.get("msg")
    assert result["certificate"]["key_type"] == "RSA"
    assert result["certificate"]["key_size"] == 2048
    assert result["certificate_pem"] == files["certificate"].read_text()
    assert not set(not_returned) & set(result)


def test_expired_certificate_without_key_still_reports_facts(files, tmp_path):
    expired = pki.write_demo(tmp_path / "old", days_valid=-1)
    args = {
        "certificate_content": expired["certificate"].read_text(),
        "client_ca_content": expired["client_ca"].read_text(),
        "server_name": "www.example.com",
    }
    result = run_module(args)
    assert result["failed"] is True
    assert result["problem_codes"] == ["expired"]
    assert result["certificate"]["days_remaining"] < 0
    assert result["client_cas"][0]["sha256_fingerprint"]


def test_passphrase_without_key_fails(files):
    args = base_args(files, private_key_passphrase=PASSPHRASE)
    del args["private_key"]
    result = run_module(args)
    assert result["failed"] is True
    assert result["problem_codes"] == ["passphrase_without_key"]
    assert PASSPHRASE not in json.dumps(result)


def test_key_path_and_content_still_exclusive(files):
    result = run_module(base_args(files, private_key_content=files["key_obj"].decode()))
    assert result["failed"] is True
    assert "mutually exclusive: private_key|private_key_content" in result["msg"]


def test_server_name_required(files):
    args = base_args(files)
    del args["server_name"]
    result = run_module(args)
    assert result["failed"] is True
    assert "server_name" in result["msg"]


def test_missing_cryptography(files, monkeypatch):
    monkeypatch.setattr(cert_check, "HAS_CRYPTOGRAPHY", False)
    monkeypatch.setattr(cert_check, "CRYPTOGRAPHY_IMPORT_ERROR", "Traceback: No module named 'cryptography'")
    result = run_module(base_args(files))
    assert result["failed"] is True
    assert "cryptography" in result["msg"]
    assert "python3-cryptography" in result["msg"]
    assert result["exception"].startswith("Traceback")


def test_no_log_options():
    spec = cert_check.argument_spec()
    assert spec["private_key_content"]["no_log"] is True
    assert spec["private_key_passphrase"]["no_log"] is True
    assert spec["private_key"]["no_log"] is False  # a path, not a secret


def test_key_swapped_with_certificate_never_echoed(files):
    result = run_module(base_args(files, certificate=str(files["private_key"]),
                                  private_key=str(files["certificate"])))
    assert result["failed"] is True
    assert result["problem_codes"] == ["private_key_in_file", "no_certificate", "no_private_key"]
    assert_no_key_material(result, files["key_obj"], public=[files["certificate"].read_bytes()])
