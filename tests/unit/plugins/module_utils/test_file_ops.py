# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""_file_ops and its neighbours: a replaced private key is never readable by others, not even for an instant;
nginx -t cannot hang a run (#22)."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from ansible_collections.chat_callback.mtls.plugins.module_utils import _file_ops, _site_switch

KEY = b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIBn2\n-----END PRIVATE KEY-----\n"


@pytest.fixture
def sudo_umask():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path_or_fd):
    st = os.fstat(path_or_fd) if isinstance(path_or_fd, int) else os.stat(path_or_fd)
    return stat.S_IMODE(st.st_mode)


@pytest.mark.usefixtures("sudo_umask")
@pytest.mark.parametrize(("secret", "original", "final"), [(True, 0o600, 0o600), (True, 0o640, 0o600),
                                                           (False, 0o644, 0o644)])
def test_a_backup_is_0600_from_its_first_byte(tmp_path, monkeypatch, secret, original, final):
    key = tmp_path / "www.example.com.key"
    key.write_bytes(KEY)
    key.chmod(original)
    seen = []
    real = shutil.copyfileobj

    def copy(source, destination, *args):
        seen.append(mode(destination.fileno()))  # before the first byte
        real(source, destination, *args)
        seen.append(mode(destination.fileno()))  # once whole, before the original's mode is given back

    monkeypatch.setattr(shutil, "copyfileobj", copy)
    backup = _file_ops.backup_copy(str(key), secret)
    assert seen == [0o600, 0o600]
    assert _file_ops.backup_pattern(key.name).match(os.path.basename(backup))
    assert (Path(backup).read_bytes(), mode(backup)) == (KEY, final)
    assert os.stat(backup).st_mtime_ns == key.stat().st_mtime_ns


def test_a_copy_that_fails_leaves_no_partial_backup(tmp_path, monkeypatch):
    key = tmp_path / "www.example.com.key"
    key.write_bytes(KEY)

    def full_disk(source, destination, *args):
        destination.write(source.read(10))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(shutil, "copyfileobj", full_disk)
    with pytest.raises(OSError, match="No space left"):
        _file_ops.backup_copy(str(key), True)
    assert sorted(p.name for p in tmp_path.iterdir()) == [key.name]


def test_the_backup_of_a_killed_run_of_the_same_pid_and_second_is_left_alone(tmp_path):
    key = tmp_path / "www.example.com.key"
    key.write_bytes(KEY)
    first = _file_ops.backup_copy(str(key), True)
    key.write_bytes(KEY + b"\n")
    second = _file_ops.backup_copy(str(key), True)
    assert first != second and Path(first).read_bytes() == KEY and Path(second).read_bytes() == KEY + b"\n"


def test_no_file_no_backup(tmp_path):
    assert _file_ops.backup_copy(str(tmp_path / "missing.key"), True) == ""
    (tmp_path / "link.key").symlink_to(tmp_path / "missing.key")
    assert _file_ops.backup_copy(str(tmp_path / "link.key"), True) == ""


def test_a_full_disk_says_which_file_system_and_what_is_free(tmp_path):
    said = _file_ops.space_left(str(tmp_path / "no" / "such" / "file"))
    assert said.startswith("the file system mounted on /") and said.endswith(" bytes free")


def test_a_hung_nginx_t_is_killed_and_said_so(tmp_path):
    """nginx -t has a timeout (#22): a stuck mount or resolver must not hold the run and the host."""
    nginx = tmp_path / "nginx"
    nginx.write_text("#!/bin/sh\nexec sleep 30\n")
    nginx.chmod(0o755)
    module = SimpleNamespace(get_bin_path=shutil.which, run_command=run_command)
    with pytest.raises(_file_ops.FileError, match=r"nginx -t did not end within 1 s \(killed\); nothing was changed"):
        _site_switch.nginx_test(module, str(nginx), str(tmp_path / "nginx.conf"), timeout=1)
    assert _site_switch.nginx_test(module, "/bin/true", "x") == (0, "", "")


def run_command(argv):
    """AnsibleModule.run_command's answer, without the module."""
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return done.returncode, done.stdout, done.stderr
