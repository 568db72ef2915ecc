#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Ansible module layout: py2-style boilerplate first, imports after the documentation strings.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: site_files
short_description: Write a site's small files (certificate, CA bundle, key, server block) in one module run
version_added: 0.2.0
description:
  - Writes each file of O(files) and then of O(secret_files), in the order given, with the exact content given, and
    sets its owner, group and mode. Does for several files what M(ansible.builtin.copy) with C(content) does for one,
    in one module run instead of two per file (a remote C(stat) and the copy).
  - A file whose content already has the same SHA-1 is not written; only its owner, group and mode are made right
    (and its SELinux context, as M(ansible.builtin.copy) does). A file whose content differs is written to a
    temporary file in the same directory and renamed over the old one, so a reader (nginx) never sees a half-written
    file. A symbolic link at a path is replaced by a regular file; the file it points to is not changed.
  - A new file is not readable by anyone but the user the module runs as until its owner, group and mode are set.
    An existing file whose content changes is backed up (O(backup)) and gets its owner, group and mode B(before) the
    new content is renamed over it, so the new content never has the old file's (maybe looser) mode.
  - The parent directory of each path must exist (create it beforehand, for example with M(ansible.builtin.file));
    in check mode a missing parent directory is not an error, as the task that creates it did not run either.
  - All paths, modes, owners and groups are checked before any file is touched. A failure while handling a file (a
    missing parent directory, a directory at the path, an error writing) stops the module there with a message that
    names the path; RV(files) still reports the files handled until then (with their V(backup_file)), so
    that a rescue can restore them. The files after it are not touched.
  - Uses only the Python standard library.
author:
  - chat_callback.mtls contributors (@chat-callback)
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reports which files would change (RV(files), and the diff with C(--diff)); writes nothing and makes no
      backups.
  diff_mode:
    support: full
    details:
      - One diff for each file whose content changes. For O(files), its old (empty when it is missing) and new
        content.
      - >-
        For O(secret_files), the content is never shown; the diff has the path as headers and the placeholder lines
        "(secret: old content not shown)" (empty when the file is missing) and "(secret: new content not shown)".
      - Changes of owner, group or mode only are not in the diff; see RV(files).
  platform:
    platforms: posix
options:
  files:
    description:
      - Files to write whose content may be shown in C(--diff) output (certificates, CA bundles, configuration).
    type: list
    elements: dict
    default: []
    suboptions: &file_suboptions
      path:
        description:
          - Absolute path of the file. It must not be given twice (in O(files) and O(secret_files) together).
        type: str
        required: true
      content:
        description:
          - The whole content of the file, written as UTF-8 exactly as given (no newline is added).
        type: str
        required: true
      mode:
        description:
          - Permissions of the file as a string of three or four octal digits, for example V("0644") (quote it in
            YAML, as an unquoted V(0644) is an integer).
        type: str
        required: true
      owner:
        description:
          - Name or numeric id of the user that owns the file. When not set, a new file is owned by the user the
            module runs as and an existing file keeps its owner.
        type: str
      group:
        description:
          - Name or numeric id of the group of the file. When not set, a new file gets the group of the user the
            module runs as (or of the directory when it has the setgid bit) and an existing file keeps its group.
        type: str
  secret_files:
    description:
      - Files to write whose content is secret (private keys, passphrase files), with the same suboptions as O(files).
      - Their content is not logged, never returned and never shown in C(--diff) output.
    type: list
    elements: dict
    default: []
    suboptions: *file_suboptions
  backup:
    description:
      - Before an existing file whose content differs is replaced, keep a copy of it next to it (named like the
        backups of M(ansible.builtin.copy)), returned as V(backup_file) in RV(files).
      - A file whose content is unchanged gets no backup.
    type: bool
    default: false
  backup_keep:
    description:
      - With O(backup), how many backups of each file of O(files) to keep, counting the one just made. Older
        ones (named as this module and M(ansible.builtin.copy) name backups) are removed, their paths returned as
        V(backups_removed) in RV(files). V(0) keeps them all.
      - Backups of O(secret_files) are not pruned here; remove them once they are no longer needed (the
        M(chat_callback.mtls.nginx_mtls) role does when its proof passed).
    type: int
    default: 0
    version_added: 0.2.1
notes:
  - The V(checksum) in RV(files) of a secret file is the SHA-1 of its content, as M(ansible.builtin.stat) and
    M(chat_callback.mtls.nginx_site_facts) report it for any file. For a short, guessable secret (a passphrase) that
    is enough to guess it; do not show registered results of this module where the secret matters.
seealso:
  - module: ansible.builtin.copy
  - module: chat_callback.mtls.nginx_site_facts
"""

EXAMPLES = r"""
- name: Deploy the site, and put the replaced files back when nginx refuses the new configuration
  block:
    - name: Write the site's files in one module run
      chat_callback.mtls.site_files:
        files:
          - path: /etc/nginx/www.example.com.crt
            content: "{{ lookup('ansible.builtin.file', 'pki/www.example.com.crt') }}\n"
            mode: "0644"
            owner: root
            group: root
          - path: /etc/nginx/conf.d/www.example.com.conf
            content: "{{ lookup('ansible.builtin.template', 'site.conf.j2') }}"
            mode: "0644"
        secret_files:
          - path: /etc/nginx/www.example.com.key
            content: "{{ lookup('ansible.builtin.file', 'pki/www.example.com.key') }}\n"
            mode: "0600"
            owner: root
            group: root
        backup: true
      register: site_files

    - name: Test the new configuration
      ansible.builtin.command: nginx -t
      changed_when: false
  rescue:
    - name: Restore the files that were replaced (a failed site_files run reports them too)
      ansible.builtin.copy:
        src: "{{ item.value.backup_file }}"
        dest: "{{ item.key }}"
        remote_src: true
        mode: preserve
      loop: "{{ site_files.files | dict2items | selectattr('value.backup_file', 'defined') }}"
      loop_control:
        label: "{{ item.key }}"
"""

RETURN = r"""
files:
  description:
    - For each file handled, keyed by its path as given, whether it V(changed) (content, owner, group or mode),
      whether its V(content_changed), the V(checksum) (SHA-1) of the content given and, when a backup was made, the
      V(backup_file) and (with O(backup_keep)) the older backups it removed as V(backups_removed). Never the
      content.
    - In check mode, what would change; no backups.
    - When the module fails on a file, the files handled before it, and the failing file with what was done to it
      up to the failure.
  returned: always
  type: dict
  sample:
    /etc/nginx/www.example.com.crt:
      changed: true
      content_changed: true
      checksum: 2aae6c35c94fcfb415dbe95f408b9ce91ee846ed
      backup_file: /etc/nginx/www.example.com.crt.4711.2025-01-31@12:00:00~
    /etc/nginx/www.example.com.key:
      {changed: false, content_changed: false, checksum: 7c4a8d09ca3762af61e59520943dc26494f8941b}
diff:
  description:
    - With C(--diff), one entry for each file whose content changes (see O(files) and O(secret_files) for what
      is shown), as C(before_header), C(after_header) (the path), C(before) and C(after).
  returned: when diff mode is on and the module succeeds
  type: list
  elements: dict
  sample:
    - before_header: /etc/nginx/conf.d/www.example.com.conf
      after_header: /etc/nginx/conf.d/www.example.com.conf
      before: "server {\n    listen 443 ssl;\n}\n"
      after: "server {\n    listen 8443 ssl;\n}\n"
"""

import grp
import hashlib
import os
import pwd
import re
import stat
import tempfile

from ansible.module_utils.common.text.converters import to_bytes, to_text

from ansible_collections.chat_callback.mtls.plugins.module_utils._module import AnsibleModule

SECRET_BEFORE = "(secret: old content not shown)\n"
SECRET_AFTER = "(secret: new content not shown)\n"
_MODE = re.compile(r"^[0-7]{3,4}$")


def file_options(secret):
    return dict(
        path=dict(type="str", required=True),
        content=dict(type="str", required=True, no_log=secret),
        mode=dict(type="str", required=True),
        owner=dict(type="str"),
        group=dict(type="str"),
    )


class FileError(Exception):
    """Handling one file failed; the message is the reason (the path is added by the caller)."""


class SiteFilesModule(AnsibleModule):
    """AnsibleModule whose fail_json raises FileError while a file is handled.

    The file helpers of AnsibleModule (set_owner_if_different, ...) end the module with fail_json on an error; here
    such a failure is reported like any other, with the files handled before it.
    """

    handling_file = False

    def fail_json(self, msg, **kwargs):
        if self.handling_file:
            exception = kwargs.get("exception")
            raise FileError(f"{msg}: {exception}" if isinstance(exception, BaseException) else msg)
        super().fail_json(msg, **kwargs)


def request_error(entries, check_ids):
    """Why the request cannot be done at all (checked before any file is touched), or None."""
    seen = set()
    for spec, _secret in entries:
        path = spec["path"]
        if not os.path.isabs(path):
            return f"{path}: path must be absolute"
        if os.path.normpath(path) in seen:
            return f"{path}: path given more than once"
        seen.add(os.path.normpath(path))
        if not _MODE.match(spec["mode"]):
            return f"{path}: mode {spec['mode']!r} is not three or four octal digits"
        if check_ids:
            for kind, name, lookup in (("user", spec["owner"], pwd.getpwnam), ("group", spec["group"], grp.getgrnam)):
                if name is not None and not name.isdigit():
                    try:
                        lookup(name)
                    except KeyError:
                        return f"{path}: {kind} {name} does not exist"
    return None


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


def write_atomically(module, path, b_content):
    """Write b_content to a temporary file next to path and rename it over path."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix="." + os.path.basename(path) + ".")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(b_content)
            handle.flush()
            os.fsync(handle.fileno())
        # atomic_move gives a new file 0666 & ~umask until its mode is set: keep others out meanwhile
        umask = os.umask(0o077)
        try:
            module.atomic_move(tmp, path)
        finally:
            os.umask(umask)
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)


def prune_backups(path, keep):
    """Remove all but the ``keep`` newest backups of ``path``; returns the removed paths, oldest first."""
    directory, name = os.path.split(path)
    pattern = re.compile(re.escape(name) + r"\.\d+\.(\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d)~$")
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


def file_diff(path, secret, kind, old, content):
    if secret:
        before, after = (SECRET_BEFORE if kind == "file" else ""), SECRET_AFTER
    else:
        before, after = (to_text(old, errors="surrogate_or_replace") if kind == "file" else ""), content
    return {"before_header": path, "after_header": path, "before": before, "after": after}


def handle_file(module, spec, b_content, secret, entry):
    """Write one file as spec says, recording in entry what was done; the diff of its content, or None."""
    path = spec["path"]
    kind, old = existing(path)
    if kind == "directory":
        raise FileError("is a directory")
    if kind == "other":
        raise FileError("exists and is neither a regular file nor a symbolic link")
    parent = os.path.dirname(path)
    if kind == "missing" and not module.check_mode and not os.path.isdir(parent):
        raise FileError(f"parent directory {parent} does not exist")

    file_args = module.load_file_common_arguments(spec, path=path)
    file_args["path"] = path  # exactly as given: no ~ or $VAR expansion
    if kind == "file" and sha1(old) == entry["checksum"]:
        entry["changed"] = module.set_fs_attributes_if_different(file_args, False, expand=False)
        return None

    diff = file_diff(path, secret, kind, old, spec["content"]) if module._diff else None
    if module.check_mode:
        entry.update(changed=True, content_changed=True)
        return diff
    if module.params["backup"] and kind != "missing":
        backup_file = module.backup_local(path)
        if backup_file:
            entry["backup_file"] = backup_file
            if module.params["backup_keep"] and not secret:
                entry["backups_removed"] = prune_backups(path, module.params["backup_keep"])
    if kind == "file":
        # owner, group and mode first: atomic_move gives the new content the attributes of the file it replaces
        entry["changed"] = module.set_fs_attributes_if_different(file_args, False, expand=False)
    write_atomically(module, path, b_content)
    entry.update(changed=True, content_changed=True)
    module.set_fs_attributes_if_different(file_args, True, expand=False)
    return diff


def reason(ex):
    text = str(ex) or type(ex).__name__
    cause = ex.__cause__
    if cause is not None and str(cause) not in text:
        text = f"{text} ({cause})"
    return text


def main():
    module = SiteFilesModule(
        argument_spec=dict(
            files=dict(type="list", elements="dict", default=[], options=file_options(secret=False)),
            secret_files=dict(
                type="list", elements="dict", default=[], no_log=False, options=file_options(secret=True)
            ),
            backup=dict(type="bool", default=False),
            backup_keep=dict(type="int", default=0),
        ),
        supports_check_mode=True,
    )
    entries = [(spec, False) for spec in module.params["files"]]
    entries += [(spec, True) for spec in module.params["secret_files"]]

    error = request_error(entries, check_ids=not module.check_mode)
    if module.params["backup_keep"] < 0:
        error = f"backup_keep must be 0 (keep all) or more, not {module.params['backup_keep']}"
    if error:
        module.fail_json(msg=error, changed=False, files={})

    files = {}
    diffs = []
    for spec, secret in entries:
        b_content = to_bytes(spec["content"], errors="surrogate_or_strict")
        entry = files[spec["path"]] = {"changed": False, "content_changed": False, "checksum": sha1(b_content)}
        module.handling_file = True
        try:
            diff = handle_file(module, spec, b_content, secret, entry)
            error = None
        except Exception as ex:  # AnsibleModule's backup_local and atomic_move raise plain Exception
            error = f"{spec['path']}: {reason(ex)}"
        finally:
            module.handling_file = False
        if error:
            module.fail_json(msg=error, changed=any(e["changed"] for e in files.values()), files=files)
        if diff:
            diffs.append(diff)

    result = dict(changed=any(e["changed"] for e in files.values()), files=files)
    if module._diff:
        result["diff"] = diffs
    module.exit_json(**result)


if __name__ == "__main__":
    main()
