# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""textfile_metrics: an atomic, readable .prom file, written only when it changes."""

from __future__ import annotations

import os


from ansible_collections.chat_callback.mtls.plugins.modules import textfile_metrics
from ansible_collections.chat_callback.mtls.tests.unit.plugins.modules.module_run import run_module as run_main

SAMPLES = [{"name": "nginx_mtls_certificate_not_after_seconds", "help": "Expiry.",
            "labels": {"server_name": "www.example.com"}, "value": 1798761600}]
STAMP = {"name": "nginx_mtls_last_deploy_timestamp_seconds", "help": "Last change.",
         "labels": {"server_name": "www.example.com"}}


def run_module(args, check_mode=False):
    return run_main(textfile_metrics.main, args, check_mode)


def test_writes_a_world_readable_file_once_then_leaves_it_alone(tmp_path):
    path = tmp_path / "nginx_mtls_www.example.com.prom"
    args = {"path": str(path), "samples": SAMPLES, "stamp": STAMP}
    os.umask(0o077)
    first = run_module(args)
    assert first["changed"] and first["written"], first
    assert oct(path.stat().st_mode & 0o777) == "0o644"
    assert 'nginx_mtls_certificate_not_after_seconds{server_name="www.example.com"} 1798761600\n' in path.read_text()
    assert sorted(os.listdir(tmp_path)) == [path.name]  # no temporary file left
    text = path.read_text()
    again = run_module(args)
    assert again["changed"] is False and path.read_text() == text


def test_check_mode_writes_nothing(tmp_path):
    path = tmp_path / "x.prom"
    result = run_module({"path": str(path), "samples": SAMPLES, "stamp": STAMP}, check_mode=True)
    assert result["changed"] and not path.exists()


def test_a_missing_directory_is_skipped_or_named(tmp_path):
    args = {"path": str(tmp_path / "none" / "x.prom"), "samples": SAMPLES, "stamp": STAMP}
    skipped = run_module(dict(args, skip_missing_dir=True))
    assert skipped["changed"] is False and "does not exist; no metrics written" in skipped["msg"]
    failed = run_module(args)
    assert failed["failed"] and f"{tmp_path / 'none'} does not exist" in failed["msg"]


def test_a_bad_sample_fails_before_writing(tmp_path):
    path = tmp_path / "x.prom"
    result = run_module({"path": str(path), "samples": [{"name": "bad name", "value": 1}], "stamp": STAMP})
    assert result["failed"] and "not a valid metric name" in result["msg"] and not path.exists()
