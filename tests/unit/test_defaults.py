# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cert_check's defaults are written once (module_utils/_cert_options.py): the role and the docs follow."""

from __future__ import annotations

from pathlib import Path

import yaml

from ansible_collections.chat_callback.mtls.plugins.module_utils._cert_options import DEFAULTS
from ansible_collections.chat_callback.mtls.plugins.modules import cert_check

ROLE = Path(__file__).resolve().parents[2] / "roles" / "nginx_mtls"
# role variable -> cert_check option it is handed to
HANDED_ON = {"nginx_mtls_min_days_valid": "min_days_valid", "nginx_mtls_warn_days": "warn_days",
             "nginx_mtls_min_rsa_bits": "min_rsa_bits"}


def test_the_role_defaults_are_cert_checks():
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    specs = yaml.safe_load((ROLE / "meta" / "argument_specs.yml").read_text())["argument_specs"]["main"]["options"]
    for variable, option in HANDED_ON.items():
        assert defaults[variable] == DEFAULTS[option], variable
        assert specs[variable]["default"] == DEFAULTS[option], variable


def test_the_module_documents_the_defaults_it_has():
    documented = yaml.safe_load(cert_check.DOCUMENTATION)["options"]
    for option, default in DEFAULTS.items():
        assert documented[option].get("default") == default, option
