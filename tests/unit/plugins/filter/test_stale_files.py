# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""stale_files and the rule it shares with site_files (_file_ops.stale)."""

from __future__ import annotations

import hashlib
import hmac

from ansible_collections.chat_callback.mtls.plugins.filter.stale_files import stale_files
from ansible_collections.chat_callback.mtls.plugins.module_utils._file_ops import file_facts, stale

CONTENT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
SHA1 = hashlib.sha1(CONTENT.encode()).hexdigest()
SPEC = {"path": "/etc/nginx/a.crt", "content": CONTENT, "mode": "0644", "owner": "root", "group": "root"}
UP_TO_DATE = {"exists": True, "owner": "root", "group": "root", "mode": "0644", "checksum": SHA1}


def test_an_up_to_date_file_is_not_stale():
    assert stale_files([SPEC], {SPEC["path"]: UP_TO_DATE}) == []


def test_each_difference_makes_a_file_stale():
    for key, value in (("checksum", "0" * 40), ("mode", "0640"), ("owner", "www-data"), ("group", "adm")):
        assert stale_files([SPEC], {SPEC["path"]: dict(UP_TO_DATE, **{key: value})}) == [SPEC["path"]], key


def test_missing_unreported_and_unreadable_files_are_stale():
    other = dict(SPEC, path="/etc/nginx/b.crt")
    unreadable = {k: v for k, v in UP_TO_DATE.items() if k != "checksum"}
    assert stale_files([SPEC, other], {SPEC["path"]: {"exists": False}}) == [SPEC["path"], other["path"]]
    assert stale_files([SPEC], {SPEC["path"]: unreadable}) == [SPEC["path"]]


def test_stale_names_what_differs():
    assert stale({"exists": False}, {"checksum": SHA1, "mode": "0644"}) == ["content", "mode"]
    assert stale(dict(UP_TO_DATE, mode="0600"), {"checksum": SHA1, "mode": "0644"}) == ["mode"]
    assert stale(UP_TO_DATE, {"checksum": "0" * 40}) == ["content"]
    assert stale(UP_TO_DATE, {"checksum": SHA1}) == []


def test_the_filter_agrees_with_what_file_facts_reads_on_disk(tmp_path):
    path = tmp_path / "a.crt"
    path.write_text(CONTENT)
    path.chmod(0o644)
    found = file_facts(str(path))
    spec = dict(SPEC, path=str(path), owner=found["owner"], group=found["group"])
    assert stale_files([spec], {str(path): found}) == []
    path.write_text(CONTENT + "\n")
    assert stale_files([spec], {str(path): file_facts(str(path))}) == [str(path)]


def test_a_secret_file_is_judged_by_what_the_host_compared(tmp_path):
    """nginx_site_info's content_matches (an HMAC compared on the host) stands for the checksum it withholds."""
    secret = {"exists": True, "owner": "root", "group": "root", "mode": "0644"}
    assert stale_files([SPEC], {SPEC["path"]: dict(secret, content_matches=True)}) == []
    assert stale_files([SPEC], {SPEC["path"]: dict(secret, content_matches=False)}) == [SPEC["path"]]
    assert stale_files([SPEC], {SPEC["path"]: dict(secret, content_matches=True, mode="0600")}) == [SPEC["path"]]
    path = tmp_path / "a.key"
    path.write_text(CONTENT)
    key = "00" * 32
    digest = hmac.new(bytes(32), CONTENT.encode(), hashlib.sha256).hexdigest()
    assert file_facts(str(path), (key, digest))["content_matches"] is True
    assert file_facts(str(path), (key, "0" * 64))["content_matches"] is False
    assert "checksum" not in file_facts(str(path), (key, digest))
