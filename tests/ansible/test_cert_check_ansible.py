# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run chat_callback.mtls.cert_check for real, through ansible-playbook in a subprocess.

The JSON stdout callback (ansible.posix.json, shipped with the pinned ``ansible`` package)
gives the task result; stdout and stderr are also searched for key material, at -vvv too.

On the controller without become the action plugin checks in Ansible's worker process; with
become the module runs. Both paths are run here and must give the same results.
"""

from __future__ import annotations

import getpass
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
IN_PROCESS = "checking in the controller's worker process"  # the action plugin's -vvv line
MODULE_RUN = "AnsiballZ_cert_check.py"  # in -vvv output whenever the module is executed
# Become to the user Ansible runs as: ActionBase then runs the module without sudo (none here),
# while the action plugin, seeing become, must run the module - what it does for any become user.
BECOME_SELF = {"ansible_become": True, "ansible_become_user": getpass.getuser()}


class Run:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.tasks = []  # [(task name, {host: result})] of the first play
        self.result = None
        start = self.stdout.find("{\n")
        if start >= 0:
            data, _ignored = json.JSONDecoder().raw_decode(self.stdout[start:])
            self.tasks = [(task["task"]["name"], task["hosts"]) for task in data["plays"][0]["tasks"]]
            self.result = self.tasks[0][1].get("localhost") if self.tasks else None

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


def run_play(tmp_path, play, *, inventory="localhost,", verbosity=0, check=False, playbook_dir=None):
    """ansible-playbook on one play, run from ``tmp_path``; returns Run."""
    playbook = (playbook_dir or tmp_path) / "playbook.yml"
    playbook.write_text(json.dumps([play], indent=2))  # JSON is YAML
    cmd = [str(ANSIBLE_PLAYBOOK), "-i", str(inventory), str(playbook)]
    if verbosity:
        cmd.append("-" + "v" * verbosity)
    if check:
        cmd.append("--check")
    proc = subprocess.run(cmd, cwd=str(tmp_path), env=ansible_env(tmp_path), capture_output=True, text=True,
                          timeout=300, check=False)
    return Run(proc)


def run_playbook(tmp_path, module_args, *, verbosity=0, check=False, vars_=None):
    """One cert_check task on localhost; returns Run with the task's result."""
    play = {
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars": dict(vars_ or {}, ansible_python_interpreter=sys.executable),
        "tasks": [{"name": "cert_check", MODULE: module_args}],
    }
    return run_play(tmp_path, play, verbosity=verbosity, check=check)


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


@pytest.mark.parametrize("path", ["in_process", "module"])
@pytest.mark.parametrize("good_passphrase", [True, False])
def test_key_content_and_passphrase_never_shown_vvv(tmp_path, demo, good_passphrase, path):
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
        vars_=dict(BECOME_SELF if path == "module" else {}, vault_key=encrypted.decode(), vault_passphrase=passphrase),
    )
    assert run.result is not None, run.everything
    if good_passphrase:
        assert run.rc == 0, run.everything
        assert run.result["private_key_encrypted"] is True
    else:
        assert run.rc == 2
        assert run.result["problem_codes"] == ["passphrase_wrong"]
    # really -vvv, and really the path under test
    if path == "module":
        assert MODULE_RUN in run.everything
    else:
        assert IN_PROCESS in run.everything and MODULE_RUN not in run.everything
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


def fleet_inventory(tmp_path, count=3):
    """Hosts that are never reached: every task of these tests is delegated to localhost."""
    hosts = {f"web{i}": {"ansible_host": f"192.0.2.{i}", "ansible_connection": "ssh"} for i in range(1, count + 1)}
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(json.dumps({"all": {"children": {"fleet": {"hosts": hosts}}}}))
    return inventory


def test_fleet_delegated_to_localhost_checks_in_process(tmp_path, demo):
    # what roles/nginx_mtls does: the check of every host on the implicit localhost, without become
    play = {
        "hosts": "fleet",
        "gather_facts": False,
        "tasks": [{"name": "cert_check", MODULE: good_args(demo, server_ca=str(demo["server_ca"])),
                   "delegate_to": "localhost", "become": False}],
    }
    run = run_play(tmp_path, play, inventory=fleet_inventory(tmp_path), verbosity=3)
    assert run.rc == 0, run.everything
    results = run.tasks[0][1]
    assert sorted(results) == ["web1", "web2", "web3"]
    for result in results.values():
        assert result["changed"] is False
        assert not result.get("failed")
        assert result["server_chain_verified"] is True
        assert result["certificate"]["chain_length"] == 2
    assert run.everything.count(IN_PROCESS) == 3
    # no module, no command at all: neither AnsiballZ nor an EXEC on the controller
    assert MODULE_RUN not in run.everything
    assert "EXEC" not in run.everything
    assert_no_secrets(run, demo["private_key"].read_bytes(), [demo["certificate"].read_bytes()])


def test_in_process_results_equal_the_module_results(tmp_path, demo):
    """The same tasks with and without become: the module's and the plugin's results must be equal."""
    old = pki.write_demo(tmp_path / "old", days_valid=-5)
    short = pki.write_demo(tmp_path / "short", days_valid=10)
    issued = pki.write_demo(tmp_path / "vault")
    key = serialization.load_pem_private_key(issued["private_key"].read_bytes(), None)
    encrypted = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.BestAvailableEncryption(PASSPHRASE.encode())).decode()
    # relative paths: from the playbook's directory, not from the directory ansible-playbook runs in
    playbook_dir = tmp_path / "play"
    (playbook_dir / "files").mkdir(parents=True)
    (playbook_dir / "files" / "www.example.com.crt").write_bytes(demo["certificate"].read_bytes())
    cases = {
        "good": good_args(demo, server_ca=str(demo["server_ca"]), client_ca_sha256=[]),
        "relative": good_args(demo, certificate="files/www.example.com.crt"),
        "expired_wrong_name_wrong_key": good_args(demo, certificate=str(old["certificate"]),
                                                  server_name="api.example.com"),
        "expires_soon": good_args(demo, certificate=str(short["certificate"]), private_key=str(short["private_key"])),
        "vault_key": {
            "certificate": str(issued["certificate"]),
            "private_key_content": encrypted,
            "private_key_passphrase": PASSPHRASE,
            "client_ca": str(issued["client_ca_zip"]),
            "server_name": "www.example.com",
        },
        "wrong_passphrase": {
            "certificate": str(issued["certificate"]),
            "private_key_content": encrypted,
            "private_key_passphrase": PASSPHRASE[::-1],
            "client_ca": str(issued["client_ca_zip"]),
            "server_name": "www.example.com",
        },
        "both_certificate_options": good_args(demo, certificate_content="x"),
        "no_server_name": {k: v for k, v in good_args(demo).items() if k != "server_name"},
        "unsupported_option": good_args(demo, bogus=1),
    }
    tasks = [{"name": name, MODULE: args, "delegate_to": "localhost", "ignore_errors": True}
             for name, args in cases.items()]
    runs = {}
    module_become = {"become": True, "become_user": getpass.getuser()}  # see BECOME_SELF
    for path, become in (("in_process", {"become": False}), ("module", module_become)):
        play = {"hosts": "fleet", "gather_facts": False,
                "tasks": [dict(task, **become) for task in tasks]}
        runs[path] = run = run_play(tmp_path, play, inventory=fleet_inventory(tmp_path, count=1), verbosity=3,
                                    playbook_dir=playbook_dir)
        assert run.rc == 0, run.everything
        assert [name for name, _ignored in run.tasks] == list(cases)
    assert runs["in_process"].everything.count(IN_PROCESS) == len(cases)
    assert MODULE_RUN not in runs["in_process"].everything
    assert runs["module"].everything.count(MODULE_RUN) >= len(cases)
    assert IN_PROCESS not in runs["module"].everything

    in_process = {name: hosts["web1"] for name, hosts in runs["in_process"].tasks}
    by_module = {name: hosts["web1"] for name, hosts in runs["module"].tasks}
    for name in cases:
        assert in_process[name] == by_module[name], name
    # and the cases are what they claim to be
    assert not in_process["good"].get("failed") and in_process["good"]["server_chain_verified"] is True
    assert not in_process["relative"].get("failed"), in_process["relative"]
    assert in_process["expired_wrong_name_wrong_key"]["problem_codes"] == ["expired", "name_mismatch", "key_mismatch"]
    assert "warn_days=30" in str(in_process["expires_soon"]["warnings"])
    assert in_process["vault_key"]["private_key_encrypted"] is True
    assert in_process["wrong_passphrase"]["problem_codes"] == ["passphrase_wrong"]
    assert "mutually exclusive" in in_process["both_certificate_options"]["msg"]
    assert "server_name" in in_process["no_server_name"]["msg"]
    assert "Unsupported parameters" in in_process["unsupported_option"]["msg"]
    for run in runs.values():
        assert PASSPHRASE not in run.everything and PASSPHRASE[::-1] not in run.everything
        assert_no_secrets(run, encrypted.encode(), [])
