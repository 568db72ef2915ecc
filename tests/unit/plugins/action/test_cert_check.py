# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cert_check action plugin: in-process results equal the module's; everything else runs the module.

The plugin is built the way ansible-core's own action plugin unit tests build theirs: a mocked
task and connection, a real PlayContext, DataLoader and Templar. The module runs in this
process too, through AnsibleModule with its output captured (the hook ansible.netcommon uses
for in-worker modules), so both sides are compared after AnsibleModule's own no_log masking.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from unittest import mock

import pytest
from ansible.module_utils import basic
from ansible.module_utils.common.parameters import PASS_VARS
from ansible.module_utils.testing import patch_module_args
from ansible.parsing.dataloader import DataLoader
from ansible.parsing.vault import VaultLib, VaultSecret
from ansible.playbook.play_context import PlayContext
from ansible.template import Templar
from cryptography.hazmat.primitives import serialization

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # tests/ for "import pki"

import pki  # noqa: E402
from ansible_collections.chat_callback.mtls.plugins.action import cert_check as action  # noqa: E402
from ansible_collections.chat_callback.mtls.plugins.modules import cert_check as module  # noqa: E402

MODULE = "chat_callback.mtls.cert_check"
PASSPHRASE = "action-plugin-Passphrase-4b7d"
MODULE_RESULT = {"changed": False, "from": "the module"}


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return pki.write_demo(tmp_path_factory.mktemp("demo"))


@pytest.fixture(scope="module")
def expired(tmp_path_factory):
    return pki.write_demo(tmp_path_factory.mktemp("expired"), days_valid=-3)


@pytest.fixture(scope="module")
def short(tmp_path_factory):
    return pki.write_demo(tmp_path_factory.mktemp("short"), days_valid=10)


@pytest.fixture(scope="module")
def encrypted_key(files):
    key = serialization.load_pem_private_key(files["private_key"].read_bytes(), None)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(PASSPHRASE.encode())).decode()


def make_action(args, *, transport="local", become=None, basedir=None, check_mode=False, async_val=0,
                environment=None):
    task = mock.MagicMock()
    task.action = MODULE
    task.args = dict(args)
    task.async_val = async_val
    task.check_mode = check_mode
    task.environment = environment
    connection = mock.MagicMock()
    connection.transport = transport
    connection.become = become
    connection.has_native_async = False
    connection._shell.tmpdir = None
    loader = DataLoader()
    if basedir is not None:
        loader.set_basedir(str(basedir))
    plugin = action.ActionModule(task=task, connection=connection, play_context=PlayContext(), loader=loader,
                                 templar=Templar(loader=loader), shared_loader_obj=None)
    return plugin


# ansible-core 2.21 returns invocation only when asked (INJECT_INVOCATION): both sides ask for it.
INJECT_INVOCATION_ARGS = {"_ansible_inject_invocation": True} if "inject_invocation" in PASS_VARS else {}


def run_in_process(args, **kwargs):
    plugin = make_action(args, **kwargs)
    with mock.patch.object(plugin, "_execute_module", side_effect=AssertionError("the module was executed")):
        return plugin.run(task_vars={"ansible_inject_invocation": True})


def run_module(args, check_mode=False):
    """The module's result as AnsibleModule prints it (no_log masked, invocation) plus its warnings."""
    recorded, warned = {}, []
    # what _execute_module adds to the arguments and the module reads
    args = dict(args, _ansible_module_name=MODULE, _ansible_check_mode=check_mode, **INJECT_INVOCATION_ARGS)
    with patch_module_args(args), \
            mock.patch.object(basic.AnsibleModule, "_record_module_result", lambda self, o: recorded.update(o)), \
            mock.patch.object(basic.AnsibleModule, "warn", lambda self, warning, **kw: warned.append(warning)), \
            pytest.raises(SystemExit):
        module.main()
    if warned:
        recorded["warnings"] = warned
    return recorded


def as_json(result):
    """What leaves either side: JSON (tuples become lists)."""
    return json.loads(json.dumps(result, sort_keys=True))


# option -> file of pki.write_demo() in the good bundle's arguments
GOOD_FILES = {"certificate": "certificate", "private_key": "private_key", "client_ca": "client_ca_zip"}


def base_args(files, **change):
    """The good bundle's arguments with ``change`` applied; an option changed to None is left out."""
    args = dict({option: str(files[name]) for option, name in GOOD_FILES.items()}, server_name="www.example.com")
    args.update(change)
    return {option: value for option, value in args.items() if value is not None}


def assert_same_as_module(args, **kwargs):
    in_process = as_json(run_in_process(args, **kwargs))
    by_module = as_json(run_module(args, check_mode=kwargs.get("check_mode", False)))
    assert in_process == by_module
    return in_process


def test_good_bundle_same_as_module(files):
    result = assert_same_as_module(base_args(files, server_ca=str(files["server_ca"]), client_ca_sha256=[]))
    assert result.get("failed") is not True, result.get("msg")
    assert result["changed"] is False
    assert result["server_chain_verified"] is True
    assert result["certificate_pem"] == files["certificate"].read_text()
    assert result["invocation"]["module_args"]["min_rsa_bits"] == 2048  # defaults filled in, as by AnsibleModule
    assert "warnings" not in result


@pytest.mark.skipif(not INJECT_INVOCATION_ARGS, reason="before ansible-core 2.21 every module result has invocation")
def test_no_invocation_unless_asked(files):
    plugin = make_action(base_args(files))
    with mock.patch.object(plugin, "_execute_module", side_effect=AssertionError("the module was executed")):
        result = plugin.run(task_vars={})
    assert result["changed"] is False
    assert "invocation" not in result


def test_check_mode_same_as_module(files):
    result = assert_same_as_module(base_args(files), check_mode=True)
    assert result["changed"] is False
    assert result["certificate"]["sans"] == ["www.example.com"]


def test_expired_and_mismatched_key_same_as_module(files, expired):
    result = assert_same_as_module(base_args(files, certificate=str(expired["certificate"]),
                                             server_name="api.example.com"))
    assert result["failed"] is True
    assert result["problem_codes"] == ["expired", "name_mismatch", "key_mismatch"]
    assert result["msg"].startswith("cert_check found 3 problems")
    assert result["certificate"]["days_remaining"] < 0
    assert "certificate_pem" not in result


def test_warning_same_as_module(files, short):
    result = assert_same_as_module(base_args(files, certificate=str(short["certificate"]),
                                             private_key=str(short["private_key"])))
    assert result.get("failed") is not True, result.get("msg")
    assert len(result["warnings"]) == 1
    assert "warn_days=30" in result["warnings"][0]


@pytest.mark.parametrize(("change", "expected"), [
    ({"server_name": None}, "missing required arguments: server_name"),
    ({"certificate": None}, "one of the following is required: certificate, certificate_content"),
    ({"certificate_content": "x"}, "parameters are mutually exclusive: certificate|certificate_content"),
    ({"min_days_valid": "soon"}, "min_days_valid"),
    ({"bogus": 1}, f"Unsupported parameters for ({MODULE}) module: bogus"),
], ids=["missing_server_name", "no_certificate", "both_certificates", "bad_int", "unsupported"])
def test_invalid_arguments_same_as_module(files, change, expected):
    result = assert_same_as_module(base_args(files, **change))
    assert result["failed"] is True
    assert expected in result["msg"]
    assert set(result) == {"failed", "msg", "invocation"}


def test_relative_paths_read_from_basedir(files, monkeypatch, tmp_path):
    # the module runs in the directory of the playbook (ActionBase._low_level_execute_command)
    args = base_args(files, certificate=files["certificate"].name, client_ca=files["client_ca"].name)
    result = as_json(run_in_process(args, basedir=files["certificate"].parent))
    monkeypatch.chdir(files["certificate"].parent)
    assert result == as_json(run_module(args))
    assert result.get("failed") is not True, result.get("msg")
    monkeypatch.chdir(tmp_path)  # not from the worker's own working directory
    assert run_in_process(args, basedir=files["certificate"].parent) == result
    assert run_in_process(args, basedir=tmp_path)["problem_codes"] == ["file_missing", "file_missing"]


@pytest.mark.parametrize("good_passphrase", [True, False])
def test_no_log_values_never_in_result(files, encrypted_key, good_passphrase):
    passphrase = PASSPHRASE if good_passphrase else PASSPHRASE[::-1]
    args = base_args(files, private_key=None, private_key_content=encrypted_key, private_key_passphrase=passphrase)
    result = assert_same_as_module(args)
    assert result.get("failed", False) is not good_passphrase
    blob = json.dumps(result)
    assert passphrase not in blob
    fragments = pki.secret_fragments(encrypted_key.encode())
    assert len(fragments) >= 5  # enough to make this able to fail
    assert not [f for f in fragments if f in blob]
    module_args = result["invocation"]["module_args"]
    assert module_args["private_key_content"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert module_args["private_key_passphrase"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"


def test_no_log_value_masked_in_messages_too(files):
    # AnsibleModule masks a no_log value wherever it shows up, here in a problem message
    args = base_args(files, private_key=None, server_name="api.example.com", private_key_passphrase="api.example.com")
    result = assert_same_as_module(args)
    assert result["problem_codes"] == ["name_mismatch", "passphrase_without_key"]
    assert "api.example.com" not in json.dumps(result)
    assert "'********'" in result["problems"][0]
    assert result["changed"] is False and result["failed"] is True  # booleans are never masked


def expect_module(plugin, task_vars=None, module_args=None):
    """The module ran with the task's arguments (or ``module_args``), and its result is the task's."""
    with mock.patch.object(plugin, "_execute_module", return_value=dict(MODULE_RESULT)) as execute, \
            mock.patch.object(plugin, "_remove_tmp_path") as remove_tmp, \
            mock.patch.object(action, "task_result", side_effect=AssertionError("checked in process")):
        result = plugin.run(task_vars=task_vars)
    assert result == MODULE_RESULT
    execute.assert_called_once()
    assert execute.call_args.kwargs["module_name"] == MODULE
    assert execute.call_args.kwargs["module_args"] == (plugin._task.args if module_args is None else module_args)
    assert execute.call_args.kwargs["module_args"] is not plugin._task.args  # _execute_module adds _ansible_* keys
    assert execute.call_args.kwargs["task_vars"] is task_vars
    return execute, remove_tmp


@pytest.mark.parametrize("transport", ["ssh", "ansible.netcommon.network_cli", "community.docker.docker"])
def test_remote_connection_runs_the_module(files, transport):
    execute, remove_tmp = expect_module(make_action(base_args(files), transport=transport), task_vars={"x": 1})
    assert execute.call_args.kwargs["wrap_async"] in (0, False)
    remove_tmp.assert_called_once()


def test_become_runs_the_module(files):
    become = mock.MagicMock(name="sudo become plugin")
    expect_module(make_action(base_args(files), become=become), task_vars={})


def test_become_from_play_context_without_connection_become(files):
    # a connection plugin without the `become` attribute: the play context says whether become is on
    plugin = make_action(base_args(files))
    del plugin._connection.become
    plugin._play_context.become = True
    expect_module(plugin, task_vars={})
    plugin._play_context.become = False
    assert run_in_process(base_args(files)).get("failed") is not True


def test_environment_keyword_runs_the_module(files):
    expect_module(make_action(base_args(files), environment=[{"SSL_CERT_FILE": "/etc/ssl/other.pem"}]),
                  task_vars={})
    # an empty environment does not count
    assert run_in_process(base_args(files), environment=[{}]).get("failed") is not True


def test_async_runs_the_module_wrapped(files):
    execute, remove_tmp = expect_module(make_action(base_args(files), async_val=30), task_vars={})
    assert execute.call_args.kwargs["wrap_async"] is True
    remove_tmp.assert_not_called()  # async_wrapper removes its own


def test_no_cryptography_on_the_controller_runs_the_module(files, monkeypatch):
    monkeypatch.setattr(action, "HAS_CRYPTOGRAPHY", False)
    expect_module(make_action(base_args(files)), task_vars={})


def test_local_without_become_does_not_run_the_module(files):
    plugin = make_action(base_args(files))
    with mock.patch.object(plugin, "_execute_module") as execute, \
            mock.patch.object(plugin, "_low_level_execute_command") as low_level:
        result = plugin.run(task_vars={})
    execute.assert_not_called()
    low_level.assert_not_called()
    assert result.get("failed") is not True, result.get("msg")


VAULT_PASSWORD = "vault-password-for-the-unit-test"


def vault_loader_action(args, **kwargs):
    plugin = make_action(args, **kwargs)
    plugin._loader.set_vault_secrets([("default", VaultSecret(VAULT_PASSWORD.encode()))])
    return plugin


def vault_encrypt(path, out):
    """``ansible-vault encrypt`` of path into out."""
    vault = VaultLib([("default", VaultSecret(VAULT_PASSWORD.encode()))])
    out.write_bytes(vault.encrypt(Path(path).read_bytes()))
    return out


@pytest.fixture(scope="module")
def vaulted(files, tmp_path_factory):
    out = tmp_path_factory.mktemp("vaulted")
    return {name: vault_encrypt(files[name], out / Path(files[name]).name)
            for name in ("certificate", "private_key", "client_ca_zip", "server_ca")}


def test_vault_encrypted_files_are_checked_like_plain_ones(files, vaulted):
    args = base_args(files, server_ca=str(files["server_ca"]))
    plain = run_in_process(args)
    vault_args = {option: str(vaulted[name]) for option, name in GOOD_FILES.items()}
    vault_args.update(server_name="www.example.com", server_ca=str(vaulted["server_ca"]))
    plugin = vault_loader_action(vault_args)
    with mock.patch.object(plugin, "_execute_module", side_effect=AssertionError("the module was executed")):
        result = plugin.run(task_vars={})
    assert result.get("failed") is not True, result.get("msg")
    assert result["certificate"] == plain["certificate"]
    assert result["server_chain_verified"] is True
    # the loader's decrypted copies are gone when the task returns
    assert not plugin._loader._tempfiles


def test_vault_file_without_the_vault_secret_says_so(files, vaulted):
    plugin = make_action(base_args(files, private_key=str(vaulted["private_key"])))
    result = plugin.run(task_vars={})
    assert result["failed"] is True
    assert result["problem_codes"] == ["file_unreadable"]
    assert "encrypted with Ansible Vault and cannot be decrypted" in result["msg"]
    assert "not PEM" not in result["msg"]


def test_vault_file_with_become_goes_to_the_module_as_content(files, vaulted):
    become = mock.MagicMock(name="sudo become plugin")
    plugin = vault_loader_action(base_args(files, private_key=str(vaulted["private_key"])), become=become)
    # not vaulted (certificate, client CA): the path, as given
    expected = base_args(files, private_key=None, private_key_content=Path(files["private_key"]).read_text())
    expect_module(plugin, task_vars={}, module_args=expected)


def test_vault_file_on_a_remote_host_is_not_touched(files, vaulted):
    plugin = vault_loader_action(base_args(files, private_key=str(vaulted["private_key"])), transport="ssh")
    execute, _remove_tmp = expect_module(plugin, task_vars={})
    assert execute.call_args.kwargs["module_args"]["private_key"] == str(vaulted["private_key"])
