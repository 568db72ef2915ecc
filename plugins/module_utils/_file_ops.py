# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading, writing and backing up the small files of a site (private to this collection)."""

from __future__ import absolute_import, division, print_function  # noqa: UP010

__metaclass__ = type  # noqa: UP001

import contextlib
import grp
import hashlib
import hmac
import os
import pwd
import re
import shutil
import stat
import tempfile
import time


class FileError(Exception):
    """Handling one file failed; the message is the reason (the caller adds the path)."""


def sha1(data):
    return hashlib.sha1(data).hexdigest()


def existing(path):
    """What is at path: ("missing" | "file" | "link" | "directory" | "other", content of a regular file or None)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return "missing", None
    except NotADirectoryError:
        raise FileError(f"{os.path.dirname(path)} is not a directory") from None
    if stat.S_ISREG(st.st_mode):
        with open(path, "rb") as handle:
            return "file", handle.read()
    if stat.S_ISLNK(st.st_mode):
        return "link", None
    return ("directory" if stat.S_ISDIR(st.st_mode) else "other"), None


@contextlib.contextmanager
def flushed_temp_file(directory, prefix, b_content):
    """A new file (0600) in ``directory`` named ``prefix...``, holding b_content on disk; gone afterwards unless
    the caller renamed it."""
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=prefix)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(b_content)
            handle.flush()
            os.fsync(handle.fileno())
        yield tmp
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def write_atomically(module, path, b_content, prefix=None):
    """Write b_content to a temporary file next to path (named ``prefix...``) and rename it over path."""
    prefix = prefix or "." + os.path.basename(path) + "."
    with flushed_temp_file(os.path.dirname(path), prefix, b_content) as tmp:
        # atomic_move gives a new file 0666 & ~umask until its mode is set: keep others out meanwhile
        umask = os.umask(0o077)
        try:
            module.atomic_move(tmp, path)
        finally:
            os.umask(umask)


def space_left(path):
    """Which file system ``path`` (or its nearest existing parent) is on, and how much of it is free, in words."""
    directory = path
    while directory and not os.path.isdir(directory):
        directory = os.path.dirname(directory)
    mount = os.path.realpath(directory or "/")
    while not os.path.ismount(mount):
        mount = os.path.dirname(mount)
    fs = os.statvfs(directory or "/")
    return f"the file system mounted on {mount} has {fs.f_bavail * fs.f_frsize} bytes free"


def backup_copy(path, secret):
    """A copy of ``path`` next to it, named as backup_pattern() reads (as AnsibleModule.backup_local names it).

    It is 0600 from its first byte (backup_local's copy starts 0644 under the usual umask and is
    chmod-ed only once whole, so a local user may open a copy of a private key meanwhile), takes the
    original's owner, times and, unless ``secret``, mode once whole, and is removed when the copy
    fails (a full disk leaves no partial copy). Returns its path, or "" when ``path`` is no file.
    """
    if not os.path.isfile(path) or os.path.islink(path):
        return ""
    st = os.stat(path)
    stamp = time.strftime("%Y-%m-%d@%H:%M:%S")
    for attempt in range(100):
        # the name of a backup a killed run of the same pid left in the same second is never reused
        backup = f"{path}.{os.getpid()}{attempt or ''}.{stamp}~"
        try:
            fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            break
        except FileExistsError:
            if attempt == 99:
                raise
    try:
        with os.fdopen(fd, "wb") as copy, open(path, "rb") as original:
            shutil.copyfileobj(original, copy)
            copy.flush()
            os.fsync(copy.fileno())
            os.fchown(copy.fileno(), st.st_uid, st.st_gid)
            os.fchmod(copy.fileno(), 0o600 if secret else stat.S_IMODE(st.st_mode))
        os.utime(backup, ns=(st.st_atime_ns, st.st_mtime_ns))
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(backup)
        raise
    return backup


def backup_pattern(name):
    """Names of the backups of a file called ``name``, as this collection and ansible.builtin.copy make them."""
    return re.compile(re.escape(name) + r"\.\d+\.(\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d)~$")


def prune_backups(path, keep):
    """Remove all but the ``keep`` newest backups of ``path``; returns the removed paths, oldest first."""
    directory, name = os.path.split(path)
    pattern = backup_pattern(name)
    backups = []
    for entry in os.listdir(directory):
        match = pattern.match(entry)
        if match:
            full = os.path.join(directory, entry)
            backups.append((match.group(1), os.lstat(full).st_mtime, full))
    removed = [full for _stamp, _mtime, full in sorted(backups)[:max(len(backups) - keep, 0)]]
    for full in removed:
        os.unlink(full)
    return removed


def attributes(path):
    """Whether ``path`` exists, and its owner, group and mode (names where the host knows them); not followed."""
    try:
        st = os.lstat(path)
    except OSError:
        return {"exists": False}
    try:
        owner = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        owner = str(st.st_uid)
    try:
        group = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        group = str(st.st_gid)
    return {"exists": True, "owner": owner, "group": group, "mode": f"{stat.S_IMODE(st.st_mode):04o}"}


def file_facts(path, secret=None):
    """attributes() plus, for a regular file that can be read, the SHA-1 of its content as "checksum".

    A secret file gets no checksum; with ``secret`` = (key, HMAC-SHA256 of the wanted content under
    key), "content_matches" says whether the file holds that content.
    """
    facts = attributes(path)
    if secret is not None:
        if facts["exists"] and secret[1] is not None:
            facts["content_matches"] = _hmac_matches(path, *secret)
        return facts
    if facts["exists"] and os.path.isfile(path) and not os.path.islink(path):
        try:
            digest = hashlib.sha1()
            with open(path, "rb") as handle:
                for chunk in iter(lambda: handle.read(65536), b""):
                    digest.update(chunk)
            facts["checksum"] = digest.hexdigest()
        except OSError:
            pass
    return facts


def _hmac_matches(path, key, digest):
    if not os.path.isfile(path) or os.path.islink(path):
        return False
    try:
        with open(path, "rb") as handle:
            mac = hmac.new(bytes.fromhex(key), handle.read(), hashlib.sha256)
    except (OSError, ValueError):
        return False
    return hmac.compare_digest(mac.hexdigest(), digest)


def stale(found, wanted):
    """What of a file must be written: the names among content, owner, group and mode that differ.

    ``found`` is what file_facts() says of the file, ``wanted`` holds the "checksum" (SHA-1) of the
    wanted content and, when they matter, "owner", "group" and "mode". A missing file, a link or
    one that could not be read differs in everything. The one rule for "this file is up to date":
    site_files applies it on the host, the stale_files filter on what nginx_site_info reported.
    """
    if "content_matches" in found:  # a secret file, compared on the host (nginx_site_info's secrets)
        content_differs = not found.get("exists") or not found["content_matches"]
    else:
        content_differs = not found.get("exists") or found.get("checksum") != wanted["checksum"]
    return (["content"] if content_differs else []) + [
        key for key in ("owner", "group", "mode")
        if key in wanted and str(wanted[key]) != str(found.get(key))]
