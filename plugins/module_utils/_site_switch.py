# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Switching a site's files so that nginx's configuration on disk is valid at every instant (private).

A site is a server block and the files it names (certificate, key, client CA, ...). Renaming one
file is atomic, renaming several is not: a certificate renamed in before its key is a pair nginx
refuses, and a block written before ``nginx -t`` judged it is live for any restart. So:

1. **Stage**: every file whose content changes is written under a hidden candidate name
   (``.<name>.mtls-<site>.<run>``) that no ``include`` glob matches and no block names.
2. **Test**: ``nginx -t -c`` on a copy of the main configuration, next to it (same prefix for
   relative paths), in which the include of the block's directory is spelled out file by file
   and the block is the *bridge*: the new block naming the candidates instead of the live names.
   Refused: the candidates are removed and nothing live was touched.
3. **Switch**, each step a rename (or an unlink) that leaves a configuration nginx accepts:
   the bridge over the block (now the tested configuration is live), the include line, then the
   live names (unused by the bridge meanwhile), then the final block, then the candidates go.

A run killed anywhere leaves either the old configuration, or the bridge (new files under
candidate names), or the new one; the next run starts again from what is on disk and removes the
candidates of this block's earlier runs once its own final block is in.
"""

from __future__ import absolute_import, division, print_function  # noqa: UP010

__metaclass__ = type  # noqa: UP001

import binascii
import contextlib
import fnmatch
import hashlib
import os
import re

from ansible_collections.chat_callback.mtls.plugins.module_utils._file_ops import (
    FileError,
    attributes,
    existing,
    flushed_temp_file,
    write_atomically,
)
from ansible_collections.chat_callback.mtls.plugins.module_utils._site_rules import quoted

_HTTP_LINE = re.compile(r"(?m)^\s*http\s*\{.*$")


def include_of(nginx_conf, conf_dir, site_dir):
    """The match of the ``include <site_dir>/*.conf;`` (or ``/*``) statement in nginx.conf text, or None.

    Group ``glob`` is the file pattern (``*`` or ``*.conf``).
    """
    spellings = [re.escape(site_dir.rstrip("/"))]
    if site_dir.startswith(conf_dir.rstrip("/") + "/"):
        spellings.append(re.escape(site_dir[len(conf_dir.rstrip("/")) + 1:].rstrip("/")))
    alternatives = "|".join(spellings)
    pattern = rf"(?m)^[ \t]*include\s+[\"']?(?:{alternatives})/(?P<glob>\*(?:\.conf)?)[\"']?\s*;[ \t]*\n?"
    return re.search(pattern, nginx_conf)


def site_tag(server_block):
    """The part of the hidden names that says which server block's runs made them."""
    return hashlib.sha1(server_block.encode("utf-8", "surrogateescape")).hexdigest()[:8]


def leftovers(server_block, directories):
    """Hidden files the runs for ``server_block`` made (and a killed run left) in ``directories``."""
    pattern = re.compile(rf"^\..+\.mtls-{site_tag(server_block)}\.[0-9a-f]{{8}}(\..+)?$")
    found = []
    for directory in sorted(set(directories)):
        if os.path.isdir(directory):
            found += [os.path.join(directory, name) for name in sorted(os.listdir(directory)) if pattern.match(name)]
    return found


def _reference(path):
    """A regex of ``path`` as a whole token of an nginx configuration (bare or quoted)."""
    return re.compile(r"(?<![^\s\"'])" + re.escape(path) + r"(?![^\s;\"'{}])")


def references(text, path):
    return _reference(path).search(text) is not None


class SiteSwitch:
    """One run's switch of the files of one server block; see the module docstring."""

    def __init__(self, module, nginx):
        """``nginx``: the module's ``nginx`` option (binary, conf_path, server_block, include, refuse)."""
        self.module = module
        self.binary = nginx["binary"]
        self.conf_path = nginx["conf_path"]
        self.block = server_block = nginx["server_block"]
        self.include_line = nginx.get("include") or ""
        self.refuse = [text for text in nginx.get("refuse") or () if text]
        # one tag per block, so that only this site's leftovers are ever removed
        self.tag = site_tag(server_block)
        self.run = binascii.hexlify(os.urandom(4)).decode()
        self.made = []  # this run's candidate and test files
        self.bridged = False  # whether the live block names this run's hidden files
        self.undo = {"files": {}, "include_added": False, "include_removed": False, "dir_created": False}
        self.names = {}  # the paths the test output shows, by what they stand for

    # -- names -------------------------------------------------------------------------------
    def hidden(self, path, directory=None):
        """This run's hidden name for ``path`` (in ``directory``, default next to it)."""
        name = f".{os.path.basename(path)}.mtls-{self.tag}.{self.run}"
        return os.path.join(directory or os.path.dirname(path), name)

    # -- reading the main configuration ----------------------------------------------------------
    def conf_text(self):
        try:
            with open(self.conf_path, "rb") as handle:
                return handle.read().decode("utf-8", "surrogateescape")
        except OSError as ex:
            raise FileError(f"{self.conf_path}: cannot read the main configuration: {ex.strerror}") from None

    def included(self, text=None):
        site_dir = os.path.dirname(self.block)
        return include_of(self.conf_text() if text is None else text, os.path.dirname(self.conf_path), site_dir)

    def with_include(self, text):
        """nginx.conf text with the include line added after the ``http {`` line, as lineinfile would."""
        matches = list(_HTTP_LINE.finditer(text))
        if not matches:
            raise FileError(f"{self.conf_path}: no 'http {{' line to add '{self.include_line.strip()}' after")
        end = matches[-1].end()
        return text[:end] + "\n" + self.include_line + text[end:]

    def without_include(self, text):
        lines = text.splitlines(True)
        return "".join(line for line in lines if line.rstrip("\r\n") != self.include_line)

    # -- the test ------------------------------------------------------------------------------
    def test(self, block_text, include):
        """Let nginx -t judge the main configuration with ``block_text`` as the block (None: no block).

        ``include`` is "add", "remove" or None (as it is). Raises Refused with nginx's words.
        """
        conf_dir = os.path.dirname(self.conf_path)
        text = self.conf_text()
        if include == "add":
            text = self.with_include(text)
        match = self.included(text)
        if match is None and block_text is not None:
            raise FileError(
                f"{self.conf_path} does not include {os.path.dirname(self.block)}/*.conf, so the new block cannot be"
                " tested; add the include or let the module add it (nginx.include)"
            )
        includes = ""
        made = [self.hidden(self.conf_path)]
        if match is not None and include != "remove":
            site_dir = os.path.dirname(self.block)
            names = sorted(os.listdir(site_dir)) if os.path.isdir(site_dir) else []
            glob = match.group("glob")
            paths = [os.path.join(site_dir, n) for n in names if not n.startswith(".") and fnmatch.fnmatchcase(n, glob)]
            paths = [p for p in paths if p != self.block]
            if block_text is not None:
                made.append(self.hidden(self.block, conf_dir))
                self.write_new(made[-1], block_text.encode("utf-8", "surrogateescape"))
                self.names[made[-1]] = self.block
                # where the glob puts it: nginx sorts the names as bytes, as sorted() does here
                paths = sorted(paths + [made[-1]], key=lambda p: self.names.get(p, p))
            indent = re.match(r"[ \t]*", match.group(0)).group(0)
            includes = "".join(f"{indent}include {quoted(p)};\n" for p in paths)
        if match is not None:
            text = text[:match.start()] + includes + text[match.end():]
        self.names[made[0]] = self.conf_path
        self.write_new(made[0], text.encode("utf-8", "surrogateescape"))
        try:
            rc, out, err = nginx_test(self.module, self.binary, made[0])
        finally:
            for path in made:
                self.remove(path)
        said = self.in_live_names((err or "") + (out or "")).strip()
        if rc != 0 or any(warning in said for warning in self.refuse):
            raise Refused(said or f"{self.binary} -t exited with {rc}")
        return said

    def in_live_names(self, text):
        for hidden, live in sorted(self.names.items(), key=lambda item: -len(item[0])):
            text = text.replace(hidden, live)
        return text

    # -- writing -------------------------------------------------------------------------------
    def write_new(self, path, b_content, file_args=None):
        """Create the hidden file ``path`` with ``b_content`` and (then) ``file_args``; remembered for cleanup."""
        self.made.append(path)
        with flushed_temp_file(os.path.dirname(path), os.path.basename(path) + ".", b_content) as tmp:
            if file_args:
                self.module.set_fs_attributes_if_different(dict(file_args, path=tmp), False, expand=False)
            os.rename(tmp, path)

    def remove(self, path):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        if path in self.made:
            self.made.remove(path)

    def discard(self):
        """Remove this run's hidden files (a refused or failed run), unless the live block is the bridge naming them."""
        if not self.bridged:
            for path in list(self.made):
                self.remove(path)

    def keep_copy(self, path):
        """A hidden copy of ``path`` (the block) for an undo of a run that failed while the bridge was live."""
        copy = self.hidden(path) + ".orig"
        with open(path, "rb") as handle:
            self.write_new(copy, handle.read())  # 0600, as mkstemp makes it
        self.made.remove(copy)  # undo data, like a backup: a failed run keeps it for its undo
        return copy

    def place(self, path, b_content, file_args):
        """Write ``path`` atomically with its owner, group and mode set before the new content appears."""
        kind, _old = existing(path)
        if kind == "file":
            self.module.set_fs_attributes_if_different(file_args, False, expand=False)
        # a temporary file left by a kill is named like the candidates, so the next run removes it
        write_atomically(self.module, path, b_content, self.hidden(path) + ".")
        self.module.set_fs_attributes_if_different(file_args, False, expand=False)

    def record(self, path, backup=None):
        """Remember how ``path`` was before this run changes it (for an undo), backing it up when asked."""
        if path in self.undo["files"]:
            return
        entry = self.undo["files"][path] = attributes(path)
        if backup and entry["exists"] and os.path.isfile(path) and not os.path.islink(path):
            entry["backup_file"] = backup(path)

    def set_include(self, add):
        text = self.conf_text()
        new = self.with_include(text) if add else self.without_include(text)
        if new != text:
            write_atomically(
                self.module, self.conf_path, new.encode("utf-8", "surrogateescape"), self.hidden(self.conf_path) + "."
            )
            self.undo["include_added" if add else "include_removed"] = True

    # -- the switch ----------------------------------------------------------------------------
    def apply(self, wanted, changed, *, include=None, make_dir=False, remove_dir=False, backup=None):
        """Bring the files of ``wanted`` to their content, keeping the configuration valid at every step.

        ``wanted``: {path: (b_content or None for absent, file_args)}, the server block among them;
        ``changed``: the paths whose content differs from ``wanted``; ``include``: "add" / "remove" /
        None; ``backup(path)``: called before a file is replaced or removed, returns its backup path.
        Returns the text nginx -t said. Raises Refused (nothing changed) or FileError.
        """
        final_block = wanted[self.block][0]
        final_text = None if final_block is None else final_block.decode("utf-8", "surrogateescape")
        block_changed = self.block in changed
        if final_block is None and os.path.lexists(self.block):
            block_changed = True
        staged = {}
        for path in changed:
            content, file_args = wanted[path]
            if path != self.block and content is not None and references(final_text or "", path):
                staged[path] = self.hidden(path)
                self.write_new(staged[path], content, file_args)
                self.names[staged[path]] = path
        bridge = final_text
        if final_text is not None:
            for path, hidden in staged.items():
                bridge = _reference(path).sub(lambda _m, h=hidden: h, bridge)
        said = self.test(bridge, include)

        if make_dir:
            os.mkdir(os.path.dirname(self.block), 0o755)
            self.undo["dir_created"] = True
        for path in sorted(changed):
            self.record(path, backup)
        # The block is rewritten (as the bridge) even when its content stays: an undo of a run that
        # fails half-way needs it, an undo after a successful run does not.
        bridged_only = bool(staged) and self.block not in changed and os.path.lexists(self.block)
        if bridged_only:
            self.record(self.block, self.keep_copy)
        # 1. the block: the tested bridge, the final block at once when it names nothing new, or gone
        if final_block is None:
            if os.path.lexists(self.block):
                os.unlink(self.block)
        elif staged:
            self.place(self.block, bridge.encode("utf-8", "surrogateescape"), wanted[self.block][1])
            self.bridged = True
        elif block_changed:
            self.place(self.block, final_block, wanted[self.block][1])
        # 2. the include: the block it brings in is already the tested one
        if include:
            self.set_include(include == "add")
        # 3. the live names, unused by the bridge meanwhile
        for path in changed:
            content, file_args = wanted[path]
            if path == self.block:
                continue
            if content is None:
                if os.path.lexists(path):
                    os.unlink(path)
            else:
                self.place(path, content, file_args)
        # 4. the final block, naming the live files again
        if staged:
            self.place(self.block, final_block, wanted[self.block][1])
            self.bridged = False
        if bridged_only:
            del self.undo["files"][self.block]
        if remove_dir:
            with contextlib.suppress(OSError):  # other blocks live there too
                os.rmdir(os.path.dirname(self.block))
        self.tidy(wanted)
        return said

    def tidy(self, paths):
        """Remove the hidden files of this block's runs; only once the live block names none of them."""
        for path in leftovers(self.block, [os.path.dirname(p) for p in paths] + [os.path.dirname(self.conf_path)]):
            self.remove(path)


# nginx -t reads a few files and opens the listen sockets' certificates: seconds at most. A hung
# one (a stuck NFS mount, a resolver nginx waits for) must not hold the run, and the host, forever.
NGINX_TEST_TIMEOUT = 60


def nginx_test(module, binary, conf_path, timeout=NGINX_TEST_TIMEOUT):
    """(rc, stdout, stderr) of ``nginx -t -c conf_path``; FileError when it does not end in ``timeout`` s.

    coreutils' timeout bounds it (run_command has no timeout of its own); where there is none, it runs unbounded.
    """
    wrapper = module.get_bin_path("timeout")
    argv = ([wrapper, "--kill-after=5", str(timeout)] if wrapper else []) + [binary, "-t", "-c", conf_path]
    rc, out, err = module.run_command(argv)
    if wrapper and rc in (124, 137):  # timed out; killed after the grace period
        raise FileError(f"{binary} -t did not end within {timeout} s (killed); nothing was changed")
    return rc, out, err


class Refused(Exception):
    """nginx -t refused the candidate configuration; the message is what nginx said (live paths)."""
