# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""site_files: the module run on files in a temporary directory (as root or not)."""

from __future__ import annotations

import grp
import hashlib
import json
import os
import pwd
import re
import stat
from pathlib import Path
from unittest import mock

import pytest
from ansible.module_utils import basic

from ansible_collections.chat_callback.mtls.plugins.module_utils import _site_files
from ansible_collections.chat_callback.mtls.plugins.modules import site_files
from ansible_collections.chat_callback.mtls.tests.unit.plugins.modules.module_run import run_module as run_main

SECRET = "-----BEGIN PRIVATE KEY-----\nc2VjcmV0IGtleSBtYXRlcmlhbA==\n-----END PRIVATE KEY-----\n"
CERT = "-----BEGIN CERTIFICATE-----\nY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
OWNER = pwd.getpwuid(os.geteuid()).pw_name
GROUP = grp.getgrgid(os.getegid()).gr_name


def run_module(args, check_mode=False, diff=False):
    """The module's result as JSON would carry it, and whether it failed."""
    return run_main(site_files.main, args, check_mode, diff)


def spec(path, content, mode="0644", **extra):
    return dict(path=str(path), content=content, mode=mode, **extra)


def sha1(text):
    return hashlib.sha1(text.encode()).hexdigest()


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_new_files_are_created_with_content_mode_owner_and_group(tmp_path):
    crt, key = tmp_path / "site.crt", tmp_path / "site.key"
    result = run_module({
        "files": [spec(crt, CERT, "0644", owner=OWNER, group=GROUP)],
        "secret_files": [spec(key, SECRET, "0600", owner=OWNER, group=GROUP)],
    })
    assert result["failed"] is False
    assert result["changed"] is True
    assert crt.read_bytes() == CERT.encode()
    assert key.read_bytes() == SECRET.encode()
    assert mode_of(crt) == 0o644
    assert mode_of(key) == 0o600
    assert (key.owner(), key.group()) == (OWNER, GROUP)
    assert result["files"] == {
        str(crt): {"changed": True, "content_changed": True, "checksum": sha1(CERT)},
        # no digest of a secret leaves the host: for a short one it is the secret
        str(key): {"changed": True, "content_changed": True},
    }
    assert list(result["files"]) == [str(crt), str(key)]
    assert "diff" not in result
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site.crt", "site.key"]  # no temporary file left


def test_content_is_written_exactly_as_utf8_without_a_newline(tmp_path):
    target = tmp_path / "site.conf"
    run_module({"files": [spec(target, "server_name café.example;")]})
    assert target.read_bytes() == "server_name café.example;".encode()


def modes_right_after_the_move(args):
    """Run the module, recording the mode of each file right after atomic_move put the new content in place."""
    modes = {}
    real_move = basic.AnsibleModule.atomic_move

    def spy(module, src, dest, *args, **kwargs):
        real_move(module, src, dest, *args, **kwargs)
        modes[dest] = mode_of(dest)

    with mock.patch.object(basic.AnsibleModule, "atomic_move", spy):
        result = run_module(args)
    return result, modes


def test_a_new_file_is_private_until_its_mode_is_set(tmp_path):
    target = tmp_path / "site.crt"
    old = os.umask(0)
    try:
        result, modes = modes_right_after_the_move({"files": [spec(target, CERT, "0644")]})
        umask_after = os.umask(0)
    finally:
        os.umask(old)
    assert result["changed"] is True
    assert modes == {str(target): 0o600}
    assert mode_of(target) == 0o644
    assert umask_after == 0  # the module put the umask back


def test_new_content_never_has_the_old_looser_mode(tmp_path):
    target = tmp_path / "site.key"
    target.write_text("old secret key material\n")
    target.chmod(0o644)
    result, modes = modes_right_after_the_move({"secret_files": [spec(target, SECRET, "0600")]})
    assert result["files"][str(target)]["content_changed"] is True
    assert modes == {str(target): 0o600}
    assert target.read_text() == SECRET


def test_identical_content_leaves_the_file_alone(tmp_path):
    target = tmp_path / "site.crt"
    target.write_text(CERT)
    target.chmod(0o644)
    os.utime(target, (1_000_000, 1_000_000))
    inode = target.stat().st_ino
    result = run_module({"files": [spec(target, CERT, "0644")]}, diff=True)
    assert result["changed"] is False
    assert result["files"][str(target)] == {"changed": False, "content_changed": False, "checksum": sha1(CERT)}
    assert target.stat().st_mtime == 1_000_000
    assert target.stat().st_ino == inode
    assert result["diff"] == []


def test_only_mode_differs(tmp_path):
    target = tmp_path / "site.key"
    target.write_text(SECRET)
    target.chmod(0o644)
    os.utime(target, (1_000_000, 1_000_000))
    result = run_module({"secret_files": [spec(target, SECRET, "0600")], "backup": True})
    assert result["changed"] is True
    assert result["files"][str(target)] == {"changed": True, "content_changed": False}
    assert mode_of(target) == 0o600
    assert target.stat().st_mtime == 1_000_000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site.key"]  # no backup


def test_changed_content_with_backup_keeps_the_old_file(tmp_path):
    target = tmp_path / "site.crt"
    target.write_text("old certificate\n")
    target.chmod(0o600)
    result = run_module({"files": [spec(target, CERT, "0644")], "backup": True})
    entry = result["files"][str(target)]
    assert result["changed"] is True
    assert entry["changed"] is True
    assert entry["content_changed"] is True
    backup = entry["backup_file"]
    assert os.path.dirname(backup) == str(tmp_path)
    assert os.path.basename(backup).startswith("site.crt.")
    assert Path(backup).read_text() == "old certificate\n"
    assert mode_of(backup) == 0o600  # the backup keeps the old mode
    assert target.read_text() == CERT
    assert mode_of(target) == 0o644


def test_changed_content_without_backup_makes_none(tmp_path):
    target = tmp_path / "site.crt"
    target.write_text("old certificate\n")
    result = run_module({"files": [spec(target, CERT)]})
    assert "backup_file" not in result["files"][str(target)]
    assert target.read_text() == CERT
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site.crt"]


def test_a_symlink_is_replaced_by_a_file_and_its_target_kept(tmp_path):
    real = tmp_path / "real.crt"
    real.write_text(CERT)
    link = tmp_path / "site.crt"
    link.symlink_to(real)
    result = run_module({"files": [spec(link, CERT)]})
    assert result["files"][str(link)]["content_changed"] is True
    assert not link.is_symlink()
    assert link.read_text() == CERT
    assert real.read_text() == CERT


def test_check_mode_writes_nothing_but_reports_changes(tmp_path):
    changed, same, missing = tmp_path / "changed.crt", tmp_path / "same.crt", tmp_path / "missing.conf"
    changed.write_text("old certificate\n")
    changed.chmod(0o644)
    same.write_text(CERT)
    same.chmod(0o600)
    result = run_module(
        {
            "files": [spec(changed, CERT), spec(same, CERT, "0644"), spec(missing, "server {}\n")],
            "secret_files": [spec(tmp_path / "no-such-dir" / "site.key", SECRET, "0600")],
            "backup": True,
        },
        check_mode=True,
    )
    assert result["failed"] is False
    assert result["changed"] is True
    assert result["files"][str(changed)] == {"changed": True, "content_changed": True, "checksum": sha1(CERT)}
    assert result["files"][str(same)] == {"changed": True, "content_changed": False, "checksum": sha1(CERT)}
    assert result["files"][str(missing)]["content_changed"] is True
    assert result["files"][str(tmp_path / "no-such-dir" / "site.key")]["content_changed"] is True
    assert changed.read_text() == "old certificate\n"
    assert mode_of(same) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["changed.crt", "same.crt"]


def test_diff_shows_public_content_and_hides_secret_content(tmp_path):
    crt, key, new_key = tmp_path / "site.crt", tmp_path / "site.key", tmp_path / "new.key"
    crt.write_text("old certificate\n")
    key.write_text("old secret key material\n")
    result = run_module(
        {
            "files": [spec(crt, CERT), spec(tmp_path / "site.conf", "server {}\n")],
            "secret_files": [spec(key, SECRET, "0600"), spec(new_key, SECRET, "0600")],
        },
        diff=True,
    )
    assert result["diff"] == [
        {"before_header": str(crt), "after_header": str(crt), "before": "old certificate\n", "after": CERT},
        {
            "before_header": str(tmp_path / "site.conf"),
            "after_header": str(tmp_path / "site.conf"),
            "before": "",
            "after": "server {}\n",
        },
        {
            "before_header": str(key),
            "after_header": str(key),
            "before": _site_files.SECRET_BEFORE,
            "after": _site_files.SECRET_AFTER,
        },
        {"before_header": str(new_key), "after_header": str(new_key), "before": "", "after": _site_files.SECRET_AFTER},
    ]
    dumped = json.dumps(result)
    assert "c2VjcmV0IGtleSBtYXRlcmlhbA" not in dumped
    assert "old secret key material" not in dumped


def test_check_mode_diff_hides_secret_content(tmp_path):
    key = tmp_path / "site.key"
    key.write_text("old secret key material\n")
    result = run_module({"secret_files": [spec(key, SECRET, "0600")]}, check_mode=True, diff=True)
    assert result["diff"][0]["after"] == _site_files.SECRET_AFTER
    dumped = json.dumps(result)
    assert "c2VjcmV0IGtleSBtYXRlcmlhbA" not in dumped
    assert "old secret key material" not in dumped


def test_secret_content_is_not_in_a_failure(tmp_path):
    key, failing = tmp_path / "site.key", tmp_path / "other.key"
    key.write_text("old secret key material\n")
    failing.mkdir()
    result = run_module(
        {"secret_files": [spec(key, SECRET, "0600"), spec(failing, SECRET + "more", "0600")], "backup": True},
        diff=True,
    )
    assert result["failed"] is True
    assert result["msg"] == f"{failing}: is a directory"
    assert result["files"][str(key)]["content_changed"] is True
    assert key.read_text() == SECRET
    dumped = json.dumps(result)
    assert "c2VjcmV0IGtleSBtYXRlcmlhbA" not in dumped
    assert "old secret key material" not in dumped


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"path": "relative/site.crt"}, "relative/site.crt: path must be absolute"),
        ({"mode": "rw-r--r--"}, "is not three or four octal digits"),
        ({"mode": "0844"}, "is not three or four octal digits"),
        ({"owner": "no-such-user-site-files"}, "user no-such-user-site-files does not exist"),
        ({"group": "no-such-group-site-files"}, "group no-such-group-site-files does not exist"),
    ],
)
def test_invalid_request_touches_no_file(tmp_path, bad, message):
    first = tmp_path / "first.crt"
    result = run_module({"files": [spec(first, CERT), dict(spec(tmp_path / "second.crt", CERT), **bad)]})
    assert result["failed"] is True
    assert message in result["msg"]
    assert result["files"] == {}
    assert result["changed"] is False
    assert not first.exists()


def test_a_path_given_twice_is_refused(tmp_path):
    target = tmp_path / "site.key"
    result = run_module({"files": [spec(target, CERT)], "secret_files": [spec(str(tmp_path) + "//site.key", SECRET)]})
    assert result["failed"] is True
    assert "given more than once" in result["msg"]
    assert not target.exists()


def test_missing_parent_directory_fails_and_reports_earlier_files(tmp_path):
    first, later = tmp_path / "first.crt", tmp_path / "later.crt"
    first.write_text("old certificate\n")
    missing = tmp_path / "no-such-dir" / "site.conf"
    result = run_module(
        {"files": [spec(first, CERT), spec(missing, "server {}\n"), spec(later, CERT)], "backup": True}
    )
    assert result["failed"] is True
    assert result["changed"] is True
    assert result["msg"] == f"{missing}: parent directory {tmp_path / 'no-such-dir'} does not exist"
    assert result["files"][str(first)]["content_changed"] is True
    assert Path(result["files"][str(first)]["backup_file"]).read_text() == "old certificate\n"
    assert result["files"][str(missing)] == {
        "changed": False,
        "content_changed": False,
        "checksum": sha1("server {}\n"),
    }
    assert str(later) not in result["files"]
    assert not later.exists()
    assert first.read_text() == CERT


def test_a_directory_at_the_path_fails(tmp_path):
    (tmp_path / "site.conf").mkdir()
    result = run_module({"files": [spec(tmp_path / "site.conf", "server {}\n")]}, check_mode=True)
    assert result["failed"] is True
    assert result["msg"] == f"{tmp_path / 'site.conf'}: is a directory"
    assert result["changed"] is False


def test_a_write_error_names_the_path_and_leaves_no_temporary_file(tmp_path):
    target = tmp_path / "site.crt"
    target.write_text("old certificate\n")
    with mock.patch.object(basic.AnsibleModule, "atomic_move", side_effect=OSError(28, "No space left on device")):
        result = run_module({"files": [spec(target, CERT)]})
    assert result["failed"] is True
    assert re.fullmatch(rf"{re.escape(str(target))}: \[Errno 28\] No space left on device: the file system mounted "
                        rf"on /\S* has \d+ bytes free", result["msg"]), result["msg"]
    assert result["files"][str(target)]["content_changed"] is False
    assert target.read_text() == "old certificate\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["site.crt"]


def test_a_failing_attribute_change_is_reported_with_the_path(tmp_path):
    target = tmp_path / "site.crt"
    with mock.patch("os.lchown", side_effect=PermissionError(1, "Operation not permitted")):
        result = run_module({"files": [spec(target, CERT, owner=str(os.geteuid() + 1))]})
    assert result["failed"] is True
    assert result["msg"].startswith(f"{target}: chown failed")
    assert "Operation not permitted" in result["msg"]
    assert result["files"][str(target)]["content_changed"] is True


@pytest.mark.skipif(os.geteuid() != 0, reason="changing a file's owner needs root")
def test_owner_and_group_are_changed_as_root(tmp_path):
    target = tmp_path / "site.crt"
    target.write_text(CERT)
    target.chmod(0o644)
    result = run_module({"files": [spec(target, CERT, owner="65534", group="65534")]})
    assert result["files"][str(target)] == {"changed": True, "content_changed": False, "checksum": sha1(CERT)}
    assert (target.stat().st_uid, target.stat().st_gid) == (65534, 65534)


def test_an_empty_call_changes_nothing():
    result = run_module({}, diff=True)
    assert result == {"failed": False, "changed": False, "files": {}, "diff": []}


def old_backup(path, stamp):
    backup = Path(f"{path}.4711.{stamp}~")
    backup.write_text(f"backup of {stamp}")
    return backup


def test_backup_keep_prunes_the_oldest_backups_of_public_files(tmp_path):
    crt, key = tmp_path / "site.crt", tmp_path / "site.key"
    crt.write_text("old cert")
    key.write_text("old key")
    old = [old_backup(crt, f"2026-0{month}-01@00:00:00") for month in (3, 1, 2)]
    old_key = old_backup(key, "2026-01-01@00:00:00")
    unrelated = tmp_path / "site.crt.bak~"
    unrelated.write_text("someone else's")
    result = run_module({"files": [spec(crt, CERT)], "secret_files": [spec(key, SECRET, "0600")],
                         "backup": True, "backup_keep": 3})
    entry = result["files"][str(crt)]
    # the new backup and the two newest old ones stay
    assert entry["backups_removed"] == [str(old[1])]
    assert sorted(p.name for p in tmp_path.glob("site.crt.*~")) == sorted(
        [Path(entry["backup_file"]).name, old[2].name, old[0].name, unrelated.name])
    # secret backups are the role's to remove after its proof; never pruned here
    assert old_key.exists()
    assert "backups_removed" not in result["files"][str(key)]


def test_backup_keep_zero_keeps_every_backup(tmp_path):
    crt = tmp_path / "site.crt"
    crt.write_text("old cert")
    old = [old_backup(crt, f"2026-0{month}-01@00:00:00") for month in (1, 2, 3, 4)]
    result = run_module({"files": [spec(crt, CERT)], "backup": True})
    assert all(p.exists() for p in old)
    assert "backups_removed" not in result["files"][str(crt)]


def test_negative_backup_keep_is_refused_before_any_write(tmp_path):
    crt = tmp_path / "site.crt"
    result = run_module({"files": [spec(crt, CERT)], "backup": True, "backup_keep": -1})
    assert result["failed"] and "backup_keep" in result["msg"]
    assert not crt.exists()
