# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nginx_site_info: parsing helpers and the module run against a stand-in nginx binary."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from ansible_collections.chat_callback.mtls.plugins.module_utils import _site_switch
from ansible_collections.chat_callback.mtls.plugins.modules import nginx_site_info as site_info
from ansible_collections.chat_callback.mtls.tests.unit.plugins.modules.module_run import run_module as run_main

DEBIAN_V = """nginx version: nginx/1.22.1
built with OpenSSL 3.0.11 19 Sep 2023
TLS SNI support enabled
configure arguments: --with-cc-opt='-g -O2' --prefix=/usr/share/nginx --conf-path=/etc/nginx/nginx.conf \
--http-log-path=/var/log/nginx/access.log --pid-path=/run/nginx.pid --with-http_ssl_module
"""
SOURCE_BUILD_V = """nginx version: nginx/1.27.3
configure arguments: --with-http_ssl_module
"""


def test_parse_build_info_package():
    assert site_info.parse_build_info(DEBIAN_V) == {
        "version": "1.22.1",
        "openssl_version": "3.0.11",
        "conf_path": "/etc/nginx/nginx.conf",
        "pid_path": "/run/nginx.pid",
        "log_dir": "/var/log/nginx",
        "modules_dir": "/usr/share/nginx/modules",
    }


def test_parse_build_info_prefers_the_openssl_nginx_runs_with():
    text = DEBIAN_V.replace("19 Sep 2023", "19 Sep 2023 (running with OpenSSL 3.5.1 1 Jul 2025)")
    assert site_info.parse_build_info(text)["openssl_version"] == "3.5.1"


def test_parse_build_info_source_build_defaults_under_prefix():
    assert site_info.parse_build_info(SOURCE_BUILD_V) == {
        "version": "1.27.3",
        "openssl_version": "0",
        "conf_path": "/usr/local/nginx/conf/nginx.conf",
        "pid_path": "/usr/local/nginx/logs/nginx.pid",
        "log_dir": "/usr/local/nginx/logs",
        "modules_dir": "/usr/local/nginx/modules",
    }


@pytest.mark.parametrize(
    ("listen_addresses", "listen_ipv6", "expected"),
    [
        ([], True, ["127.0.0.1", "192.0.2.10", "2001:db8::10"]),
        ([], False, ["127.0.0.1", "192.0.2.10"]),
        (["192.0.2.10"], True, ["192.0.2.10"]),
    ],
)
def test_probe_addresses_are_the_listen_addresses_or_every_reachable_one(listen_addresses, listen_ipv6, expected):
    addresses = ["127.0.0.1", "::1", "192.0.2.10", "2001:db8::10"]
    assert site_info.probe_addresses(addresses, listen_addresses, listen_ipv6) == expected


@pytest.mark.parametrize(
    ("nginx_conf", "included"),
    [
        ("http {\n\tinclude /etc/nginx/conf.d/*.conf;\n}", True),
        ("http {\n    include conf.d/*.conf;\n}", True),
        ("http {\n    include conf.d/*;\n}", True),
        ("http {\n    include '/etc/nginx/conf.d/*.conf';\n}", True),
        ("http {\n    # include /etc/nginx/conf.d/*.conf;\n}", False),
        ("http {\n    include /etc/nginx/sites-enabled/*;\n}", False),
        ("http {\n    include /etc/nginx/conf.d/other.conf;\n}", False),
        ("", False),
    ],
)
def test_includes_site_dir(nginx_conf, included):
    assert site_info.includes_site_dir(nginx_conf, "/etc/nginx", "/etc/nginx/conf.d") is included


@pytest.mark.parametrize(
    ("os_release", "family"),
    [
        ('ID=debian\nVERSION_ID="12"\n', "Debian"),
        ("ID=ubuntu\nID_LIKE=debian\n", "Debian"),
        ('ID="rocky"\nID_LIKE="rhel centos fedora"\n', "RedHat"),
        ('ID=alpine\n', "alpine"),
        ("", "unknown"),
    ],
)
def test_os_family(os_release, family):
    assert site_info.os_family(os_release) == family


def test_pid_alive(tmp_path):
    pid_file = tmp_path / "nginx.pid"
    assert not site_info.pid_alive(str(pid_file))
    pid_file.write_text(f"{os.getpid()}\n")
    assert site_info.pid_alive(str(pid_file))
    pid_file.write_text("999999999\n")
    assert not site_info.pid_alive(str(pid_file))
    pid_file.write_text("garbage")
    assert not site_info.pid_alive(str(pid_file))


def run_module(args):
    return run_main(site_info.main, args)


@pytest.fixture
def nginx_root(tmp_path):
    conf_dir = tmp_path / "conf"
    (conf_dir / "conf.d").mkdir(parents=True)
    (conf_dir / "nginx.conf").write_text("http {\n    include conf.d/*.conf;\n}\n")
    key = conf_dir / "www.example.com.key"
    key.write_text("not really a key")
    key.chmod(0o600)
    pid = tmp_path / "nginx.pid"
    pid.write_text(f"{os.getpid()}\n")
    binary = tmp_path / "nginx"
    binary.write_text(
        "#!/bin/sh\n"
        f"echo 'nginx version: nginx/1.26.3' >&2\n"
        f"echo 'configure arguments: --conf-path={conf_dir}/nginx.conf --pid-path={pid}' >&2\n"
    )
    binary.chmod(0o755)
    return tmp_path


def test_module_reports_installed_nginx_and_files(nginx_root):
    conf_dir = str(nginx_root / "conf")
    result = run_module({
        "binary": str(nginx_root / "nginx"),
        "conf_files": ["www.example.com.key", "www.example.com.crt"],
        "site_files": ["www.example.com.conf"],
        "other_paths": [str(nginx_root / "conf" / "conf.d"), str(nginx_root / "no-exporter")],
    })
    assert result["changed"] is False
    assert result["installed"] is True
    assert result["files"][conf_dir + "/conf.d"]["exists"] is True
    assert result["files"][str(nginx_root / "no-exporter")] == {"exists": False}
    assert result["version"] == "1.26.3"
    assert result["conf_dir"] == conf_dir
    assert result["site_dir"] == conf_dir + "/conf.d"
    assert result["site_dir_exists"] is True
    assert result["site_dir_included"] is True
    assert result["running"] is True
    key = result["files"][conf_dir + "/www.example.com.key"]
    assert key["exists"] is True
    assert key["mode"] == "0600"
    assert key["checksum"] == hashlib.sha1(b"not really a key").hexdigest()
    assert result["files"][conf_dir + "/www.example.com.crt"] == {"exists": False}
    assert result["files"][conf_dir + "/conf.d/www.example.com.conf"] == {"exists": False}
    assert result["files"][conf_dir + "/nginx.conf"]["exists"] is True
    assert len(result["files"]) == 6
    assert result["paths"] == {
        "www.example.com.key": conf_dir + "/www.example.com.key",
        "www.example.com.crt": conf_dir + "/www.example.com.crt",
        "www.example.com.conf": conf_dir + "/conf.d/www.example.com.conf",
    }


def test_module_keys_the_paths_of_named_files_by_their_keys(nginx_root):
    conf_dir = str(nginx_root / "conf")
    result = run_module({
        "binary": str(nginx_root / "nginx"),
        "conf_files": {"private_key": "www.example.com.key"},
        "site_files": {"site_conf": "www.example.com.conf"},
        "read_files": ["www.example.com.key"],
    })
    assert result["contents"] == {conf_dir + "/www.example.com.key": "not really a key"}
    assert result["paths"] == {
        "private_key": conf_dir + "/www.example.com.key",
        "site_conf": conf_dir + "/conf.d/www.example.com.conf",
    }


def test_module_reports_backups_and_the_leftovers_of_killed_runs_of_the_site(nginx_root):
    conf_dir = nginx_root / "conf"
    block = str(conf_dir / "conf.d" / "www.example.com.conf")
    tag = _site_switch.site_tag(block)
    names = [
        "www.example.com.key.77.2026-11-02@10:00:00~",
        "www.example.com.key.12.2026-11-01@10:00:00~",
        f".www.example.com.key.mtls-{tag}.0123abcd",
        f".nginx.conf.mtls-{tag}.0123abcd.x8y7z6",
        ".www.example.com.key.mtls-00000000.0123abcd",  # another block's
        "www.example.com.key.bak",
    ]
    for name in names:
        (conf_dir / name).write_text("")
    result = run_module({
        "binary": str(nginx_root / "nginx"),
        "conf_files": ["www.example.com.key", "www.example.com.crt"],
        "site_files": ["www.example.com.conf"],
    })
    key = str(conf_dir / "www.example.com.key")
    assert result["backups"] == {key: [str(conf_dir / names[1]), str(conf_dir / names[0])]}
    assert result["leftovers"] == [str(conf_dir / names[3]), str(conf_dir / names[2])]


def test_file_facts_give_no_checksum_for_a_symlink(tmp_path):
    target = tmp_path / "real.crt"
    target.write_text("certificate")
    link = tmp_path / "link.crt"
    link.symlink_to(target)
    assert "checksum" not in site_info.file_facts(str(link))
    assert site_info.file_facts(str(target))["checksum"] == hashlib.sha1(b"certificate").hexdigest()


def test_module_without_nginx_uses_the_default_conf_path(tmp_path):
    result = run_module({"binary": str(tmp_path / "no-nginx"), "default_conf_path": "/etc/nginx/nginx.conf"})
    assert result["installed"] is False
    assert "not found" in result["nginx_error"]
    assert result["conf_dir"] == "/etc/nginx"
    assert result["site_dir"] == "/etc/nginx/conf.d"
    assert result["version"] == "0"


def test_module_failing_nginx_reports_its_error(tmp_path):
    binary = tmp_path / "nginx"
    binary.write_text("#!/bin/sh\necho 'nginx: broken install' >&2\nexit 1\n")
    binary.chmod(0o755)
    result = run_module({"binary": str(binary)})
    assert result["installed"] is False
    assert result["nginx_error"] == "nginx: broken install"


def test_module_explicit_dirs_win(nginx_root):
    site_dir = nginx_root / "sites"
    result = run_module({
        "binary": str(nginx_root / "nginx"),
        "conf_dir": str(nginx_root / "conf"),
        "site_dir": str(site_dir),
    })
    assert result["site_dir"] == str(site_dir)
    assert result["site_dir_exists"] is False
    assert result["site_dir_included"] is False


SBIN_ONLY = next((p for p in sorted(Path("/usr/sbin").glob("*")) if os.access(p, os.X_OK)
                  and not Path("/usr/bin", p.name).exists() and not Path("/bin", p.name).exists()), None)


@pytest.mark.skipif(SBIN_ONLY is None, reason="no executable found only in /usr/sbin")
def test_module_finds_the_binary_in_sbin_without_it_on_path(monkeypatch):
    # su keeps the user's PATH (no /usr/sbin): the binary is still found, and reported absolute
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    found = run_module({"binary": SBIN_ONLY.name})["binary"]
    assert os.path.isabs(found) and Path(found).resolve() == SBIN_ONLY.resolve()  # /sbin is /usr/sbin on merged /usr


def test_module_reports_the_binary_absolute_or_empty(nginx_root, monkeypatch):
    monkeypatch.chdir(nginx_root)
    assert run_module({"binary": "./nginx"})["binary"] == str(nginx_root / "nginx")
    assert run_module({"binary": str(nginx_root / "missing")})["binary"] == ""
    assert run_module({"binary": "no-such-nginx-anywhere"})["binary"] == ""


FIB_TRIE = """Main:
  +-- 0.0.0.0/1 2 0 2
     +-- 0.0.0.0/4 2 0 2
        |-- 0.0.0.0
           /0 universe UNICAST
        +-- 10.88.0.0/16 2 0 2
              |-- 10.88.0.0
                 /16 link UNICAST
              |-- 10.88.0.17
                 /32 host LOCAL
              |-- 10.88.0.18
                 /32 host LOCAL
           |-- 10.88.255.255
              /32 link BROADCAST
     +-- 127.0.0.0/8 2 0 2
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
Local:
              |-- 10.88.0.17
                 /32 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
"""
IF_INET6 = """00000000000000000000000000000001 01 80 10 80       lo
fe800000000000008c9edffffe13342a 02 40 20 80     eth0
20010db8000000000000000000000010 02 40 00 80     eth0
"""


def test_local_addresses_loopback_first_then_every_local_unicast_address():
    addresses = site_info.local_addresses(FIB_TRIE, IF_INET6)
    assert addresses == ["127.0.0.1", "::1", "10.88.0.17", "10.88.0.18", "2001:db8::10"]


def test_local_addresses_without_proc_is_loopback_only():
    assert site_info.local_addresses("", "") == ["127.0.0.1"]


def test_module_reports_this_hosts_addresses(nginx_root):
    addresses = run_module({"binary": str(nginx_root / "nginx")})["addresses"]
    assert addresses[0] == "127.0.0.1"
    assert all(not a.startswith("fe80") for a in addresses)


def test_reload_is_pending_for_files_changed_after_the_newest_worker_started(tmp_path):
    block = tmp_path / "www.example.com.conf"
    block.write_text("loaded")
    time.sleep(0.2)
    worker = subprocess.Popen(["sleep", "30"])  # a child of this process stands for a worker of "master" os.getpid()
    try:
        assert site_info.reload_pending(os.getpid(), [str(block), str(tmp_path / "missing")]) is False
        time.sleep(0.2)
        block.write_text("written after the reload")
        assert site_info.reload_pending(os.getpid(), [str(block)]) is True
        assert site_info.reload_pending(0, [str(block)]) is False
    finally:
        worker.kill()
        worker.wait()


def test_process_start_is_read_past_a_name_with_spaces_and_parentheses():
    stat_text = "42 (nginx: worker (x) y) S 7 " + " ".join(["0"] * 17) + " 250 0 0"
    assert site_info.process_started(stat_text, 1000, 100) == (1002.5, 7)


def test_read_files_returns_certificates_but_never_a_key(nginx_root):
    conf_dir = nginx_root / "conf"
    (conf_dir / "www.example.com.crt").write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    args = {"binary": str(nginx_root / "nginx"), "conf_files": ["www.example.com.crt", "www.example.com.key", "ca.crt"]}

    result = run_module(dict(args, read_files=["www.example.com.crt", "ca.crt"]))
    pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    assert not result["failed"] and result["contents"] == {str(conf_dir / "www.example.com.crt"): pem}

    (conf_dir / "www.example.com.key").write_text("-----BEGIN PRIVATE KEY-----\nsecret\n-----END PRIVATE KEY-----\n")
    result = run_module(dict(args, read_files=["www.example.com.key"]))
    assert result["failed"] and "holds a private key" in result["msg"] and "secret" not in json.dumps(result)

    result = run_module(dict(args, read_files=["elsewhere.crt"]))
    assert result["failed"] and "must be among conf_files: elsewhere.crt" in result["msg"]


def test_an_edit_of_nginx_conf_alone_is_not_the_sites_reload_to_do(nginx_root):
    conf_dir = nginx_root / "conf"
    args = {"binary": str(nginx_root / "nginx"), "conf_files": ["www.example.com.key"]}
    worker = subprocess.Popen(["sleep", "30"])  # a worker of the "master" in the fixture's pid file: this process
    try:
        time.sleep(0.2)
        (conf_dir / "nginx.conf").write_text("http {\n    include conf.d/*.conf;\n    # edited, not reloaded\n}\n")
        assert run_module(args)["reload_pending"] is False
        (conf_dir / "www.example.com.key").write_text("the site's own file, written after the reload")
        assert run_module(args)["reload_pending"] is True
    finally:
        worker.kill()
        worker.wait()


def test_a_secret_file_gets_no_checksum_and_is_compared_on_the_host(nginx_root):
    """No value derived from a key, passphrase or token leaves the host (#22): sha1("hunter2\\n") is a look-up away."""
    conf_dir = nginx_root / "conf"
    (conf_dir / "www.example.com.pass").write_text("hunter2\n")
    key = os.urandom(32)

    def digest(text):
        return hmac.new(key, text, hashlib.sha256).hexdigest()

    args = {"binary": str(nginx_root / "nginx"),
            "conf_files": {"private_key": "www.example.com.key", "password_file": "www.example.com.pass",
                           "callback_conf": "www.example.com.callback.conf"},
            "no_checksum": ["private_key", "password_file", "callback_conf"]}
    result = run_module(dict(args, secrets={"key": key.hex(), "digests": {
        "private_key": digest(b"not really a key"), "password_file": digest(b"hunter3\n"),
        "callback_conf": digest(b"set $nginx_mtls_callback_token \"t\";\n")}}))
    files = {os.path.basename(path): facts for path, facts in result["files"].items()}
    assert files["www.example.com.key"] == {"exists": True, "owner": files["www.example.com.key"]["owner"],
                                            "group": files["www.example.com.key"]["group"], "mode": "0600",
                                            "content_matches": True}
    assert files["www.example.com.pass"]["content_matches"] is False
    assert files["www.example.com.callback.conf"] == {"exists": False}
    shown = json.dumps(result)
    for secret in (b"not really a key", b"hunter2\n"):
        for derived in (hashlib.sha1(secret).hexdigest(), hashlib.sha256(secret).hexdigest(), digest(secret)):
            assert derived not in shown
    assert key.hex() not in shown
    without = run_module(args)  # inspect: no digests to compare with, and still no checksum
    assert all("checksum" not in facts and "content_matches" not in facts
               for path, facts in without["files"].items() if path.endswith((".key", ".pass")))
