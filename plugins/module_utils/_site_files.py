# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the site_files module writes its files: one by one, or switched under nginx's eye (private)."""

from __future__ import absolute_import, division, print_function  # noqa: UP010

__metaclass__ = type  # noqa: UP001

import errno
import os

from ansible.module_utils.common.text.converters import to_bytes, to_text

from ansible_collections.chat_callback.mtls.plugins.module_utils._file_ops import (
    FileError,
    attributes,
    backup_copy,
    existing,
    stale,
    prune_backups,
    sha1,
    space_left,
    write_atomically,
)
from ansible_collections.chat_callback.mtls.plugins.module_utils._site_switch import SiteSwitch

SECRET_BEFORE = "(secret: old content not shown)\n"
SECRET_AFTER = "(secret: new content not shown)\n"


def file_diff(path, secret, kind, old, content):
    if secret:
        before, after = (SECRET_BEFORE if kind == "file" else ""), SECRET_AFTER
    else:
        before, after = (to_text(old, errors="surrogate_or_replace") if kind == "file" else ""), content
    return {"before_header": path, "after_header": path, "before": before, "after": after}


def file_arguments(module, spec, path):
    file_args = module.load_file_common_arguments(spec, path=path)
    file_args["path"] = path  # exactly as given: no ~ or $VAR expansion
    return file_args


def recorded_arguments(module, path, was):
    """File arguments that give ``path`` the owner, group and mode ``was`` records (attributes())."""
    return file_arguments(module, {key: was.get(key) for key in ("mode", "owner", "group")}, path)


def make_backup(module, path, entry, secret):
    backup_file = backup_copy(path, secret)
    if backup_file:
        entry["backup_file"] = backup_file
        if module.params["backup_keep"] and not secret:
            entry["backups_removed"] = prune_backups(path, module.params["backup_keep"])
    return backup_file


def inspect(module, spec, secret, entry, must_have_parent=True):
    """(kind, file args, whether the content differs, diff or None) of one file, before anything is written."""
    path = spec["path"]
    kind, old = existing(path)
    if kind == "directory":
        raise FileError("is a directory")
    if kind == "other":
        raise FileError("exists and is neither a regular file nor a symbolic link")
    parent = os.path.dirname(path)
    if must_have_parent and kind == "missing" and not module.check_mode and not os.path.isdir(parent):
        raise FileError(f"parent directory {parent} does not exist")
    found = {"exists": kind != "missing", "checksum": sha1(old) if kind == "file" else None}
    differs = "content" in stale(found, {"checksum": entry["checksum"]})
    diff = file_diff(path, secret, kind, old, spec["content"]) if differs and module._diff else None
    return kind, file_arguments(module, spec, path), differs, diff


def handle_file(module, spec, b_content, secret, entry):
    """Write one file as spec says, recording in entry what was done; the diff of its content, or None."""
    kind, file_args, differs, diff = inspect(module, spec, secret, entry)
    if not differs:
        entry["changed"] = module.set_fs_attributes_if_different(file_args, False, expand=False)
        return None
    if module.check_mode:
        entry.update(changed=True, content_changed=True)
        return diff
    if module.params["backup"] and kind != "missing":
        make_backup(module, spec["path"], entry, secret)
    if kind == "file":
        # owner, group and mode first: atomic_move gives the new content the attributes of the file it replaces
        entry["changed"] = module.set_fs_attributes_if_different(file_args, False, expand=False)
    write_atomically(module, spec["path"], b_content)
    entry.update(changed=True, content_changed=True)
    module.set_fs_attributes_if_different(file_args, True, expand=False)
    return diff


def reason(ex, path=None):
    """What went wrong, in words; a full disk also says which file system and how much is free."""
    text = str(ex) or type(ex).__name__
    cause = ex.__cause__
    if cause is not None and str(cause) not in text:
        text = f"{text} ({cause})"
    full = [e for e in (ex, cause) if isinstance(e, OSError) and e.errno == errno.ENOSPC] or (
        [ex] if "No space left on device" in text else [])
    where = getattr(full[0], "filename", None) or path if full else None
    if where:
        text = f"{text}: {space_left(where)}"
    return text


def new_switch(module):
    return SiteSwitch(module, module.params["nginx"])


def write_plainly(module, entries, files, diffs):
    """Each file in turn, as given (no nginx option)."""
    for spec, secret in entries:
        b_content = to_bytes(spec["content"], errors="surrogate_or_strict")
        files[spec["path"]] = entry = {"changed": False, "content_changed": False, "checksum": sha1(b_content)}
        try:
            diff = handle_file(module, spec, b_content, secret, entry)
        except Exception as ex:  # AnsibleModule's atomic_move raises plain Exception
            raise FileError(f"{spec['path']}: {reason(ex, spec['path'])}") from None
        if diff:
            diffs.append(diff)


def write_switched(module, entries, files, diffs, result):
    """All files through a SiteSwitch: tested by nginx before any goes live (see _site_switch)."""
    switch = new_switch(module)
    result["undo"] = switch.undo
    wanted, changed, same, secrets = {}, [], [], set()
    for spec, secret in entries:
        path = spec["path"]
        b_content = to_bytes(spec["content"], errors="surrogate_or_strict")
        files[path] = entry = {"changed": False, "content_changed": False, "checksum": sha1(b_content)}
        try:
            _kind, file_args, differs, diff = inspect(module, spec, secret, entry, path != switch.block)
        except FileError as ex:
            raise FileError(f"{path}: {reason(ex)}") from None
        wanted[path] = (b_content, file_args)
        (changed if differs else same).append(path)
        if secret:
            secrets.add(path)
        if diff:
            diffs.append(diff)
    if switch.block not in wanted:
        raise FileError(f"nginx.server_block {switch.block} is not one of the files")
    make_dir = not os.path.isdir(os.path.dirname(switch.block))
    include = None
    if switch.include_line and not (module.check_mode and not os.path.exists(switch.conf_path)):
        include = "add" if switch.included() is None else None
    for path in changed:
        files[path].update(changed=True, content_changed=True)
    if module.check_mode:
        result["changed"] = bool(changed or include or make_dir)
        return
    if changed or include or make_dir:
        def backup(path):
            return make_backup(module, path, files[path], path in secrets) if module.params["backup"] else None

        try:
            result["nginx_said"] = switch.apply(wanted, changed, include=include, make_dir=make_dir, backup=backup)
        except Exception:
            switch.discard()
            if not switch.undo["files"] and not switch.undo["dir_created"]:
                for path in changed:
                    files[path].update(changed=False, content_changed=False)
            raise
    for path in same:
        switch.record(path)
        files[path]["changed"] = module.set_fs_attributes_if_different(wanted[path][1], False, expand=False)
        if not files[path]["changed"]:
            del switch.undo["files"][path]
    if not changed:
        switch.tidy(wanted)  # what a killed run left once its final block was in
    result["changed"] = bool(changed or include or make_dir or any(e["changed"] for e in files.values()))


def undo_switched(module, files, result):
    """Put back what an earlier run's ``undo`` recorded, through a SiteSwitch."""
    switch = new_switch(module)
    undo = module.params["undo"]
    wanted, changed, same = {}, [], []
    for path, was in sorted(undo.get("files", {}).items()):
        kind, now = existing(path)
        files[path] = {"changed": False, "content_changed": False}
        if not was.get("exists"):
            wanted[path] = (None, None)
            (changed if kind != "missing" else same).append(path)
            continue
        file_args = recorded_arguments(module, path, was)
        content = now
        if was.get("backup_file"):
            with open(was["backup_file"], "rb") as handle:
                content = handle.read()
        wanted[path] = (content, file_args)
        (changed if content != now or kind != "file" else same).append(path)
    if switch.block not in wanted:
        _kind, now = existing(switch.block)
        args = recorded_arguments(module, switch.block, attributes(switch.block)) if now is not None else None
        wanted[switch.block] = (now, args)
    include = "remove" if undo.get("include_added") else None
    for path in changed:
        files[path].update(changed=True, content_changed=True)
    if module.check_mode:
        result["changed"] = bool(changed or include)
        return
    if changed or include or undo.get("dir_created"):
        try:
            switch.apply(wanted, changed, include=include, remove_dir=bool(undo.get("dir_created")))
        except Exception:
            switch.discard()
            raise
    for path in same:
        if wanted[path][1]:
            files[path]["changed"] = module.set_fs_attributes_if_different(wanted[path][1], False, expand=False)
    for was in undo.get("files", {}).values():
        if was.get("backup_file") and os.path.lexists(was["backup_file"]):
            os.unlink(was["backup_file"])
    result["changed"] = bool(changed or include or any(e["changed"] for e in files.values()))
