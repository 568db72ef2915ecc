# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""No module of the collection lets a secret reach the host's journal.

``AnsibleModule`` logs every run's parameters (the journal, or syslog) before the module runs.
These tests read each module's argument spec as ``AnsibleModule`` gets it, and run each module
with real secrets up to the point where it logs its invocation.
"""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from unittest import mock

import pytest
from ansible.module_utils import basic
from ansible.module_utils.testing import patch_module_args

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # tests/ for "import pki"
import pki  # noqa: E402

MODULES_DIR = Path(__file__).resolve().parents[4] / "plugins" / "modules"
PACKAGE = "ansible_collections.chat_callback.mtls.plugins.modules"

# Every option that carries a secret, by module ("parent.suboption" for suboptions). A new module
# or a new secret option is added here, and the tests below then hold it to no_log.
SECRET_OPTIONS = {
    "cert_check": {"private_key_content", "private_key_passphrase"},
    "nginx_site_info": {"secrets"},
    "site_files": {"secret_files.content"},
    "textfile_metrics": set(),
    "tls_probe": set(),
}
# Option names that look like a secret's; the ones here that are not secret are paths to a file.
SECRET_LOOKING = re.compile(r"key|pass|secret|token|password|credential", re.IGNORECASE)
PASSPHRASE = "it's a \\ \"quoted\" passphrase\nwith a second line"


class _Stop(Exception):
    pass


def module_names():
    return sorted(p.stem for p in MODULES_DIR.glob("*.py") if not p.name.startswith("_"))


def argument_spec_of(name):
    """The argument spec a module hands to AnsibleModule."""
    captured = {}

    def capture(self, argument_spec, **_kwargs):
        captured.update(argument_spec)
        raise _Stop

    module = importlib.import_module(f"{PACKAGE}.{name}")
    with mock.patch.object(basic.AnsibleModule, "__init__", capture), patch_module_args({}), pytest.raises(_Stop):
        module.main()
    return captured


def options(spec, parent=""):
    for option, opts in spec.items():
        yield parent + option, opts
        if opts.get("options"):
            yield from options(opts["options"], parent + option + ".")


def logged_invocation(name, args):
    """What the module writes to the journal for args: the message and the journal fields."""
    logged = []

    def log(self, msg, log_args=None):
        logged.append((msg, dict(log_args or {})))
        raise _Stop

    module = importlib.import_module(f"{PACKAGE}.{name}")
    with mock.patch.object(basic.AnsibleModule, "log", log), patch_module_args(args), pytest.raises(_Stop):
        module.main()
    msg, fields = logged[0]
    return "\n".join([msg] + [str(value) for value in fields.values()])


def secret_lines(*secrets):
    """Each line of each secret that could identify it (PEM header lines do not)."""
    return [line for secret in secrets for line in secret.splitlines() if line and not line.startswith("-----")]


def test_every_module_is_listed():
    assert module_names() == sorted(SECRET_OPTIONS)


@pytest.mark.parametrize("name", sorted(SECRET_OPTIONS))
def test_secret_options_are_no_log(name):
    spec = dict(options(argument_spec_of(name)))
    for option in SECRET_OPTIONS[name]:
        assert spec[option].get("no_log") is True, f"{name}: {option} must be no_log"


@pytest.mark.parametrize("name", sorted(SECRET_OPTIONS))
def test_options_that_look_secret_are_listed_or_paths(name):
    for option, opts in options(argument_spec_of(name)):
        leaf = not opts.get("options")  # a list of secret files is not itself a secret; its contents are
        if leaf and SECRET_LOOKING.search(option.rsplit(".", 1)[-1]) and option not in SECRET_OPTIONS[name]:
            assert opts.get("type") in ("path", "bool"), f"{name}: is {option} a secret? list it in SECRET_OPTIONS"


def test_site_files_logs_no_line_of_a_secret_file():
    key_pem = pki.make_leaf(pki.make_ca("no_log CA"), "www.example.com").key_pem().decode()
    logged = logged_invocation("site_files", {
        "files": [{"path": "/etc/nginx/www.example.com.crt", "content": "public\n", "mode": "0644"}],
        "secret_files": [
            {"path": "/etc/nginx/www.example.com.key", "content": key_pem, "mode": "0600", "owner": "root"},
            {"path": "/etc/nginx/www.example.com.pass", "content": PASSPHRASE + "\n", "mode": "0600"},
        ],
    })
    for line in secret_lines(key_pem, PASSPHRASE):
        assert line not in logged
    # what is not secret is still there for whoever reads the journal
    assert "/etc/nginx/www.example.com.key" in logged
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in logged


def test_cert_check_logs_no_line_of_the_key_or_passphrase():
    leaf = pki.make_leaf(pki.make_ca("no_log CA"), "www.example.com")
    key_pem = leaf.key_pem(passphrase=PASSPHRASE.encode()).decode()
    logged = logged_invocation("cert_check", {
        "certificate_content": leaf.cert_pem().decode(),
        "private_key_content": key_pem,
        "private_key_passphrase": PASSPHRASE,
        "client_ca_content": leaf.cert_pem().decode(),
        "server_name": "www.example.com",
    })
    for line in secret_lines(key_pem, PASSPHRASE):
        assert line not in logged
    assert "www.example.com" in logged
