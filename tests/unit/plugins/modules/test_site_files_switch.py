# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""site_files with ``nginx``: nothing goes live before nginx -t accepts it, and a run killed between any two
file system operations leaves a configuration nginx accepts, with a matching certificate and key.

nginx itself is stood in for by a small script with the rules that matter here: includes (globs, relative to
the main file's directory), unknown directives, the files a server block names must exist, and a
certificate must be loaded with its own key.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ansible_collections.chat_callback.mtls.plugins.module_utils import _site_switch

from ansible_collections.chat_callback.mtls.tests.unit.plugins.modules.test_site_files import run_module

FAKE_NGINX = textwrap.dedent(
    """\
    import glob, os, re, sys

    def fail(text):
        print("nginx: [emerg] " + text, file=sys.stderr)
        sys.exit(1)

    def read(path, base, seen):
        with open(path) as handle:
            text = handle.read()
        for number, line in enumerate(text.splitlines(), 1):
            words = line.replace(";", " ;").split()
            if not words or words[0].startswith("#") or words[0] in ("}", "http", "events", "server"):
                continue
            name, args = words[0], [w.strip('"') for w in words[1:] if w != ";"]
            where = f"{path}:{number}"
            if name == "include":
                pattern = args[0] if os.path.isabs(args[0]) else os.path.join(base, args[0])
                for found in sorted(glob.glob(pattern)):
                    read(found, base, seen)
            elif name in ("ssl_certificate", "ssl_certificate_key", "ssl_client_certificate"):
                if not os.path.isfile(args[0]):
                    fail(f'cannot load "{args[0]}" in {where}')
                with open(args[0]) as handle:
                    seen.setdefault("pairs", []).append((name, handle.read().split()[-1], where))
            elif name == "server_name":
                if args[0] in seen.setdefault("names", []):
                    print(f'nginx: [warn] conflicting server name "{args[0]}" on 0.0.0.0:443, ignored', file=sys.stderr)
                seen["names"].append(args[0])
            elif name not in ("listen", "return", "ssl_verify_client", "worker_processes"):
                fail(f'unknown directive "{name}" in {where}')

    conf = sys.argv[sys.argv.index("-c") + 1] if "-c" in sys.argv else os.environ["FAKE_NGINX_CONF"]
    seen = {}
    read(conf, os.path.dirname(conf), seen)
    pairs = seen.get("pairs", [])
    for (name, value, where), (key_name, key_value, _w) in zip(pairs, pairs[1:]):
        if name == "ssl_certificate" and key_name == "ssl_certificate_key" and value != key_value:
            fail(f"SSL_CTX_use_PrivateKey() failed (key values mismatch) in {where}")
    print(f"nginx: the configuration file {conf} syntax is ok", file=sys.stderr)
    """
)


class Host:
    """A conf dir under tmp_path with a fake nginx, and the site www.example.com in version ``old`` or not at all."""

    def __init__(self, tmp_path, included=True):
        self.root = tmp_path
        self.conf = tmp_path / "nginx.conf"
        self.site_dir = tmp_path / "conf.d"
        self.block = self.site_dir / "www.example.com.conf"
        self.crt, self.key, self.ca = (tmp_path / n for n in ("www.example.com.crt", "www.example.com.key", "ca.crt"))
        self.nginx = tmp_path / "bin" / "nginx"
        self.nginx.parent.mkdir()
        self.nginx.write_text(f"#!{sys.executable}\n{FAKE_NGINX}")
        self.nginx.chmod(0o755)
        self.include = f"    include {self.site_dir}/*.conf;"
        self.conf.write_text("events {\n}\nhttp {\n" + (self.include + "\n" if included else "") + "}\n")
        if included:
            self.site_dir.mkdir()

    def block_text(self, extra=""):
        return (
            "server {\n    listen 443;\n    server_name www.example.com;\n"
            f"    ssl_certificate {self.crt};\n    ssl_certificate_key {self.key};\n"
            f"    ssl_client_certificate {self.ca};\n{extra}}}\n"
        )

    def args(self, version, extra="", **more):
        return dict(
            files=[
                dict(path=str(self.crt), content=f"CERT {version}\n", mode="0644"),
                dict(path=str(self.ca), content=f"CA {version}\n", mode="0644"),
                dict(path=str(self.block), content=self.block_text(extra), mode="0644"),
            ],
            secret_files=[dict(path=str(self.key), content=f"KEY {version}\n", mode="0600")],
            backup=True,
            nginx=dict(
                binary=str(self.nginx),
                conf_path=str(self.conf),
                server_block=str(self.block),
                include=self.include,
                refuse=['conflicting server name "www.example.com"'],
            ),
            **more,
        )

    def nginx_test(self):
        """What the fake nginx says of the configuration on disk (rc, output)."""
        command = [str(self.nginx), "-t", "-c", str(self.conf)]
        done = subprocess.run(command, check=False, capture_output=True, text=True)
        return done.returncode, done.stderr

    def tree(self):
        """Every file under the conf dir (but the fake nginx) with its content."""
        return {
            str(p.relative_to(self.root)): p.read_bytes()
            for p in sorted(self.root.rglob("*"))
            if p.is_file() and "bin" not in p.parts
        }

    def served(self):
        """Version of the certificate nginx would load (None when no block is live)."""
        rc, said = self.nginx_test()
        assert rc == 0, said
        if not self.block.exists() or self.include not in self.conf.read_text():
            return None
        certificate = next(
            line.split()[1].rstrip(";") for line in self.block.read_text().splitlines() if "ssl_certificate " in line
        )
        return Path(certificate).read_text().split()[-1]


def hidden_files(host):
    return sorted(name for name in host.tree() if ".mtls-" in name)


def test_nothing_goes_live_before_nginx_accepts_it(tmp_path):
    host = Host(tmp_path)
    assert not run_module(host.args("A")).get("failed")
    before = host.tree()

    result = run_module(host.args("B", extra="    no_such_directive on;\n"))

    assert result["failed"] and result["refused"] and not result["changed"]
    assert f'unknown directive "no_such_directive" in {host.block}:7' in result["msg"]
    assert "mtls-" not in result["msg"]
    assert host.tree() == before
    assert not any(entry["changed"] for entry in result["files"].values())


def test_a_conflicting_server_name_is_refused_before_it_goes_live(tmp_path):
    host = Host(tmp_path)
    (host.site_dir / "hand-made.conf").write_text("server {\n    server_name www.example.com;\n}\n")
    before = host.tree()

    result = run_module(host.args("A"))

    assert result["refused"] and 'conflicting server name "www.example.com"' in result["msg"]
    assert host.tree() == before


def test_a_new_site_gets_its_directory_and_include(tmp_path):
    host = Host(tmp_path, included=False)

    result = run_module(host.args("A"))

    assert result["changed"] and not result.get("failed"), result
    assert host.served() == "A"
    assert result["undo"]["include_added"] and result["undo"]["dir_created"]
    assert hidden_files(host) == []


def test_a_rotation_switches_certificate_and_key_together(tmp_path):
    host = Host(tmp_path)
    run_module(host.args("A"))

    result = run_module(host.args("B"))

    assert host.served() == "B"
    assert not result["files"][str(host.block)]["changed"]
    assert result["files"][str(host.key)]["backup_file"]
    assert hidden_files(host) == []


@pytest.mark.parametrize("included", [True, False])
def test_undo_puts_back_what_the_run_changed(tmp_path, included):
    host = Host(tmp_path, included=included)
    first = run_module(host.args("A"))
    before = host.tree()

    second = run_module(host.args("B", extra="    return 204;\n"))
    assert host.served() == "B"
    undone = run_module(dict(undo=second["undo"], nginx=host.args("B")["nginx"]))

    assert undone["changed"] and not undone.get("failed"), undone
    assert host.tree() == before
    undone = run_module(dict(undo=first["undo"], nginx=host.args("A")["nginx"]))
    assert not undone.get("failed"), undone
    assert host.served() is None
    assert host.site_dir.exists() is included
    assert host.conf.read_text().count(host.include) == int(included)


class Killed(BaseException):
    """The run dies here (SIGKILL of the controller, or of the module)."""


def killed_after(monkeypatch, operations, death=Killed):
    """Let ``operations`` file system changes happen, then kill the run before the next one.

    With ``death=OSError`` only that one operation fails (a full disk, say); the run goes on to handle it.
    """
    done = []

    def guard(real):
        def changed(*args, **kwargs):
            if len(done) == operations and death is OSError:
                done.append("failed")
                raise OSError(28, "the disk is full")
            if len(done) >= operations and death is Killed:
                raise Killed
            done.append(real.__name__)
            return real(*args, **kwargs)

        return changed

    for name in ("rename", "replace", "unlink", "mkdir", "rmdir", "link"):
        monkeypatch.setattr(os, name, guard(getattr(os, name)))
    return done


@pytest.mark.parametrize(
    ("start", "run", "version"),
    [
        (None, {}, "A"),  # first deploy, include added
        ("A", {}, "B"),  # rotation
        ("A", {"extra": "    return 204;\n"}, "B"),  # rotation with a new block
        ("A", {"extra": "    no_such_directive on;\n"}, "B"),  # refused
    ],
)
def test_killed_between_any_two_operations_the_configuration_stays_valid(tmp_path, start, run, version):
    """The switch is killed after 0, 1, 2, ... operations until one run completes; after each kill the
    configuration on disk passes nginx -t with a matching pair, and the next run brings the desired state."""
    kills = 0
    while True:
        host_dir = tmp_path / str(kills)
        host_dir.mkdir()
        host = Host(host_dir, included=start is not None)
        if start:
            run_module(host.args(start))
        with pytest.MonkeyPatch.context() as monkeypatch:
            killed_after(monkeypatch, kills)
            try:
                result = run_module(host.args(version, **run))
            except Killed:
                result = None
        served = host.served()
        assert served in (start, version), (kills, served)
        if result is not None:
            break
        healed = run_module(host.args(version))
        assert not healed.get("failed"), (kills, healed.get("msg"))
        assert host.served() == version and hidden_files(host) == [], kills
        kills += 1
    assert kills >= 8, "the switch should have had several operations to be killed between"


@pytest.mark.parametrize("run", [{}, {"extra": "    return 204;\n"}])
def test_a_run_failing_at_any_step_is_undone_to_the_old_files(tmp_path, run):
    """A write error between any two operations: the module fails with an undo that puts the old files back."""
    failures = 0
    while True:
        (tmp_path / str(failures)).mkdir()
        host = Host(tmp_path / str(failures))
        run_module(host.args("A"))
        before = host.tree()
        with pytest.MonkeyPatch.context() as monkeypatch:
            killed_after(monkeypatch, failures, death=OSError)
            result = run_module(host.args("B", **run))
        if not result.get("failed"):
            break
        assert "the disk is full" in result["msg"], result["msg"]
        assert host.served() in ("A", "B"), failures
        undone = run_module(dict(undo=result["undo"], nginx=host.args("A")["nginx"]))
        assert not undone.get("failed"), (failures, undone)
        assert host.tree() == before, failures
        failures += 1
    assert failures >= 8


def test_only_this_sites_leftovers_are_removed(tmp_path):
    host = Host(tmp_path)
    other = tmp_path / ".www.example.com.crt.mtls-0123abcd.89abcdef"
    other.write_text("another block's candidate")
    mine = tmp_path / f".www.example.com.crt.mtls-{_site_switch.SiteSwitch(None, host.args('A')['nginx']).tag}.0000ffff"
    mine.write_text("left by a killed run")

    run_module(host.args("A"))

    assert other.exists() and not mine.exists()
