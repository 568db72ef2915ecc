# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run chat_callback.mtls.cert_check for real, through ansible-playbook in a subprocess.

The JSON stdout callback (ansible.posix.json, shipped with the pinned ``ansible`` package)
gives the task result; stdout and stderr are also searched for key material, at -vvv too.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/ for "import pki"

import pki  # noqa: E402

pytestmark = pytest.mark.ansible

VENV_BIN = Path(sys.executable).parent
ANSIBLE_PLAYBOOK = VENV_BIN / "ansible-playbook"
ANSIBLE = VENV_BIN / "ansible"
REPO = Path(__file__).resolve().parents[2]
COLLECTIONS = REPO / "build" / "collections"
PASSPHRASE = "Ansible-subprocess-Passphrase-9c1e"
MODULE = "chat_callback.mtls.cert_check"


class Run:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.result = None
        start = self.stdout.find("{\n")
        if start >= 0:
            data, _ignored = json.JSONDecoder().raw_decode(self.stdout[start:])
            task = data["plays"][0]["tasks"][0]
            self.result = task["hosts"]["localhost"]

    @property
    def everything(self):
        return self.stdout + self.stderr


def ansible_env(tmp_path):
    env = dict(os.environ)
    # tests/conftest.py put the checkout on ANSIBLE_COLLECTIONS_PATH (build/collections, or the
    # ansible_collections tree the checkout already lives in)
    env.setdefault("ANSIBLE_COLLECTIONS_PATH", str(COLLECTIONS))
    env.update({
        "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_CONFIG": str(tmp_path / "ansible.cfg"),  # none: no cfg of the caller's cwd leaks in
        "ANSIBLE_DEPRECATION_WARNINGS": "0",
    })
    return env


def run_playbook(tmp_path, module_args, *, verbosity=0, check=False, vars_=None):
    """One cert_check task on localhost; returns Run with the task's result."""
    play = {
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars": dict(vars_ or {}, ansible_python_interpreter=sys.executable),
        "tasks": [{"name": "cert_check", MODULE: module_args}],
    }
    playbook = tmp_path / "playbook.yml"
    playbook.write_text(json.dumps([play], indent=2))  # JSON is YAML
    cmd = [str(ANSIBLE_PLAYBOOK), "-i", "localhost,", str(playbook)]
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    if check:
        cmd.append("--check")
    proc = subprocess.run(cmd, cwd=str(tmp_path), env=ansible_env(tmp_path), capture_output=True, text=True,
                          timeout=300, check=False)
    return Run(proc)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return pki.write_demo(tmp_path_factory.mktemp("demo"))


def good_args(demo, **extra):
    args = {
        "certificate": str(demo["certificate"]),
        "private_key": str(demo["private_key"]),
        "client_ca": str(demo["client_ca_zip"]),
        "server_name": "www.example.com",
    }
    args.update(extra)
    return args


def assert_no_secrets(run, key_pem, public, passphrase=None):
    fragments = pki.secret_fragments(key_pem, *public)
    assert len(fragments) >= 5
    for line in fragments:
        assert line not in run.everything
    if passphrase:
        assert passphrase not in run.everything


def test_good_bundle(tmp_path, demo):
    run = run_playbook(tmp_path, good_args(demo, server_ca=str(demo["server_ca"]), min_days_valid=30))
    assert run.rc == 0, run.everything
    result = run.result
    assert result["changed"] is False
    assert not result.get("failed")
    assert result["server_chain_verified"] is True
    assert result["certificate"]["chain_length"] == 2
    assert result["certificate"]["days_remaining"] == 364
    assert result["certificate_pem"] == demo["certificate"].read_text()
    assert result["client_ca_pem"] == demo["client_ca"].read_text()
    assert "ansible_facts" not in result
    assert_no_secrets(run, demo["private_key"].read_bytes(), [demo["certificate"].read_bytes()])


def test_check_mode(tmp_path, demo):
    run = run_playbook(tmp_path, good_args(demo), check=True)
    assert run.rc == 0, run.everything
    assert run.result["changed"] is False
    assert run.result["certificate"]["sans"] == ["www.example.com"]


def test_expired_and_wrong_name_together(tmp_path, demo):
    old = pki.write_demo(tmp_path / "old", days_valid=-5)
    run = run_playbook(tmp_path, good_args(demo, certificate=str(old["certificate"]),
                                           private_key=str(old["private_key"]), server_name="api.example.com"))
    assert run.rc == 2
    assert run.result["failed"] is True
    assert run.result["problem_codes"] == ["expired", "name_mismatch"]
    assert str(old["certificate"]) in run.result["msg"]
    assert "certificate_pem" not in run.result


def test_der_certificate_and_zip_with_two_certs(tmp_path, demo):
    der = tmp_path / "www.example.com.der"
    der.write_bytes(pki.make_ca("X", key_type="ec").cert_der())
    two = tmp_path / "TencentQQAuthCA.crt.zip"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("a.crt", demo["client_ca"].read_bytes())
        zf.writestr("b.pem", demo["server_ca"].read_bytes())
    two.write_bytes(buf.getvalue())
    run = run_playbook(tmp_path, good_args(demo, certificate=str(der), client_ca=str(two)))
    assert run.rc == 2
    assert run.result["problem_codes"] == ["der_not_pem", "zip_multiple_certificates"]
    assert "openssl x509 -inform der" in run.result["problems"][0]


def test_missing_and_mutually_exclusive(tmp_path, demo):
    run = run_playbook(tmp_path, good_args(demo, private_key=str(tmp_path / "missing.key")))
    assert run.rc == 2
    assert run.result["problem_codes"] == ["file_missing"]
    run = run_playbook(tmp_path, good_args(demo, client_ca_content="x"))
    assert run.rc == 2
    assert "mutually exclusive" in run.result["msg"]


def test_warning_reaches_ansible(tmp_path):
    short = pki.write_demo(tmp_path / "short", days_valid=10)
    run = run_playbook(tmp_path, {
        "certificate": str(short["certificate"]),
        "private_key": str(short["private_key"]),
        "client_ca": str(short["client_ca"]),
        "server_name": "www.example.com",
    })
    assert run.rc == 0, run.everything
    assert any("warn_days=30" in str(w) for w in run.result.get("warnings", [])), run.result


@pytest.mark.parametrize("good_passphrase", [True, False])
def test_key_content_and_passphrase_never_shown_vvv(tmp_path, demo, good_passphrase):
    issued = pki.write_demo(tmp_path / "vault")
    key = serialization.load_pem_private_key(issued["private_key"].read_bytes(), None)
    encrypted = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.BestAvailableEncryption(PASSPHRASE.encode()))
    passphrase = PASSPHRASE if good_passphrase else PASSPHRASE[::-1]
    run = run_playbook(
        tmp_path,
        {
            "certificate": str(issued["certificate"]),
            "private_key_content": "{{ vault_key }}",
            "private_key_passphrase": "{{ vault_passphrase }}",
            "client_ca": str(issued["client_ca_zip"]),
            "server_name": "www.example.com",
        },
        verbosity=3,
        vars_={"vault_key": encrypted.decode(), "vault_passphrase": passphrase},
    )
    assert run.result is not None, run.everything
    if good_passphrase:
        assert run.rc == 0, run.everything
        assert run.result["private_key_encrypted"] is True
    else:
        assert run.rc == 2
        assert run.result["problem_codes"] == ["passphrase_wrong"]
    assert "<localhost> EXEC" in run.everything or "ESTABLISH LOCAL CONNECTION" in run.everything  # really -vvv
    # the encrypted PEM, the plain key and the passphrase: none anywhere in stdout/stderr
    assert_no_secrets(run, encrypted, [], passphrase)
    assert_no_secrets(run, issued["private_key"].read_bytes(), [issued["certificate"].read_bytes()])


def test_swapped_key_and_certificate_paths_vvv(tmp_path, demo):
    run = run_playbook(tmp_path, good_args(demo, certificate=str(demo["private_key"]),
                                           private_key=str(demo["certificate"])), verbosity=3)
    assert run.rc == 2
    assert run.result["problem_codes"] == ["private_key_in_file", "no_certificate", "no_private_key"]
    assert_no_secrets(run, demo["private_key"].read_bytes(), [demo["certificate"].read_bytes()])


def test_adhoc_ansible(tmp_path, demo):
    args = " ".join(f"{k}={v}" for k, v in good_args(demo).items())
    proc = subprocess.run(
        [str(ANSIBLE), "localhost", "-i", "localhost,", "-c", "local", "-m", MODULE, "-a", args,
         "-e", f"ansible_python_interpreter={sys.executable}"],
        cwd=str(tmp_path), env=dict(ansible_env(tmp_path), ANSIBLE_STDOUT_CALLBACK="ansible.builtin.default"),
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS" in proc.stdout
    assert '"server_chain_verified": false' in proc.stdout
