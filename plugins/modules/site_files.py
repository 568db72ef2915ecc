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
  - With O(nginx), no new content goes live before C(nginx -t) accepted it, and nginx's configuration on disk is
    valid at every instant of the run, even when the run is killed half-way (see O(nginx)).
  - Uses only the Python standard library.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - chat_callback.mtls._attributes
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
        C(chat_callback.mtls.nginx_mtls) role does when its proof passed).
    type: int
    default: 0
    version_added: 0.2.1
  nginx:
    description:
      - Switch the files as the files of one nginx server block, so that the configuration on disk is one nginx
        accepts at every instant, even when the run is killed half-way.
      - "Each file whose content changes is first written under a hidden name next to it
        (C(.<name>.mtls-<block>.<run>)), which no C(include) matches. C(nginx -t) then tests a copy of the main
        configuration (next to it, so relative paths resolve the same) in which the include of the block's directory
        lists its files one by one and the block is the I(bridge): the new block naming the hidden files. When nginx
        refuses it (or prints one of O(nginx.refuse)), the hidden files are removed and the module fails with
        V(refused) and what nginx said, the paths in it the live ones; nothing live was touched."
      - "Otherwise: the bridge replaces the block, the include line is added (O(nginx.include)), the files get the new
        content under their own names (unused meanwhile), the final block replaces the bridge and the hidden files
        are removed. Each step is a rename, so a run killed anywhere leaves the old configuration, the bridge or the
        new one. The next run removes what a killed run of the same block left (see
        M(chat_callback.mtls.nginx_site_info)' RV(chat_callback.mtls.nginx_site_info#module:leftovers))."
      - The parent directory of O(nginx.server_block) is created (mode V(0755)) when missing.
      - Another block naming a file that changes sees the new content only after the switch (a shared client CA).
    type: dict
    version_added: 0.3.0
    suboptions:
      binary:
        description: Absolute path of the nginx executable.
        type: path
        required: true
      conf_path:
        description: nginx's main configuration file.
        type: path
        required: true
      server_block:
        description:
          - The file, one of O(files), whose content names the others (as whole words, bare or quoted), and which
            O(nginx.conf_path) includes through C(include <its directory>/*.conf;) (or C(/*)).
        type: path
        required: true
      include:
        description:
          - The line to add after the C(http {) line of O(nginx.conf_path) when it does not include the server
            block's directory yet. Empty for none.
        type: str
        default: ""
      refuse:
        description: Texts that make nginx's output a refusal even when C(nginx -t) succeeds (warnings).
        type: list
        elements: str
        default: []
  undo:
    description:
      - The RV(undo) of an earlier run with O(nginx) (successful or not), to put back the files it changed, the include
        line it added and the directory it created, tested and switched the same way, then remove the backups it
        made. Requires O(nginx) (the same value); O(files) and O(secret_files) are not given.
      - Content is put back only from backups, so the earlier run needs O(backup).
    type: dict
    version_added: 0.3.0
notes:
  - RV(files) gives no V(checksum) for a file of O(secret_files), nor for any file O(undo) puts back. A digest of a
    short, guessable secret (a passphrase) is enough to guess it.
seealso:
  - module: ansible.builtin.copy
  - module: chat_callback.mtls.nginx_site_info
"""

EXAMPLES = r"""
- name: Deploy a site; nginx -t judges a copy before any file goes live, the proof failing puts the old files back
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
        nginx: &nginx
          binary: /usr/sbin/nginx
          conf_path: /etc/nginx/nginx.conf
          server_block: /etc/nginx/conf.d/www.example.com.conf
          refuse: ['conflicting server name "www.example.com"']
      register: site_files

    - name: Reload nginx
      ansible.builtin.systemd_service:
        name: nginx
        state: reloaded
      when: site_files is changed

    - name: Prove the site
      chat_callback.mtls.tls_probe:
        host: 127.0.0.1
        server_name: www.example.com
        expect_status: 400
  rescue:
    - name: Put back what the run changed (nothing when nginx refused it)
      chat_callback.mtls.site_files:
        undo: "{{ site_files.undo }}"
        nginx: *nginx
      when: site_files.undo is defined

- name: Write files with no nginx involved, one after the other
  chat_callback.mtls.site_files:
    files:
      - path: /etc/motd
        content: "Managed by Ansible\n"
        mode: "0644"
"""

RETURN = r"""
files:
  description:
    - For each file handled, keyed by its path as given, whether it V(changed) (content, owner, group or mode),
      whether its V(content_changed), the V(checksum) (SHA-1) of the content given (not for a secret file, nor with
      O(undo)) and, when a backup was made, the
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
      {changed: false, content_changed: false}
undo:
  description:
    - With O(nginx), what this run changed, for O(undo) (no content). For each changed file whether it
      V(exists) (before the run), its V(owner), V(group) and V(mode) and its V(backup_file); V(include_added),
      V(dir_created).
  returned: when O(nginx) is given
  type: dict
  sample:
    files:
      /etc/nginx/www.example.com.crt:
        exists: true
        owner: root
        group: root
        mode: "0644"
        backup_file: /etc/nginx/www.example.com.crt.1.2026-01-31@12:00:00~
    include_added: false
    include_removed: false
    dir_created: false
  version_added: 0.3.0
refused:
  description: Whether nginx refused the new configuration (then no file was changed).
  returned: when nginx refused it
  type: bool
  sample: true
  version_added: 0.3.0
nginx_said:
  description: What C(nginx -t) said of the configuration it tested, with the live paths.
  returned: when O(nginx) is given and a test ran
  type: str
  sample: "nginx: [emerg] unknown directive \"no_such_directive\" in /etc/nginx/conf.d/www.example.com.conf:23"
  version_added: 0.3.0
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
import os
import pwd
import re

from ansible_collections.chat_callback.mtls.plugins.module_utils._file_ops import FileError
from ansible_collections.chat_callback.mtls.plugins.module_utils._module import AnsibleModule
from ansible_collections.chat_callback.mtls.plugins.module_utils._site_files import (
    reason,
    undo_switched,
    write_plainly,
    write_switched,
)
from ansible_collections.chat_callback.mtls.plugins.module_utils._site_switch import Refused
_MODE = re.compile(r"^[0-7]{3,4}$")


def file_options(secret):
    return dict(
        path=dict(type="str", required=True),
        content=dict(type="str", required=True, no_log=secret),
        mode=dict(type="str", required=True),
        owner=dict(type="str"),
        group=dict(type="str"),
    )


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


def main():
    module = SiteFilesModule(
        argument_spec=dict(
            files=dict(type="list", elements="dict", default=[], options=file_options(secret=False)),
            secret_files=dict(
                type="list", elements="dict", default=[], no_log=False, options=file_options(secret=True)
            ),
            backup=dict(type="bool", default=False),
            backup_keep=dict(type="int", default=0),
            nginx=dict(
                type="dict",
                options=dict(
                    binary=dict(type="path", required=True),
                    conf_path=dict(type="path", required=True),
                    server_block=dict(type="path", required=True),
                    include=dict(type="str", default=""),
                    refuse=dict(type="list", elements="str", default=[]),
                ),
            ),
            undo=dict(type="dict"),
        ),
        required_by={"undo": "nginx"},
        mutually_exclusive=[("undo", "files"), ("undo", "secret_files")],
        supports_check_mode=True,
    )
    entries = [(spec, False) for spec in module.params["files"]]
    entries += [(spec, True) for spec in module.params["secret_files"]]

    error = request_error(entries, check_ids=not module.check_mode)
    if module.params["backup_keep"] < 0:
        error = f"backup_keep must be 0 (keep all) or more, not {module.params['backup_keep']}"
    if error:
        module.fail_json(msg=error, changed=False, files={})

    files, diffs, result = {}, [], {}
    module.handling_file = True
    try:
        if module.params["undo"] is not None:
            undo_switched(module, files, result)
        elif module.params["nginx"]:
            write_switched(module, entries, files, diffs, result)
        else:
            write_plainly(module, entries, files, diffs)
        error = None
    except Refused as ex:
        error = f"nginx -t refused the new configuration (no file was changed): {ex}"
        result.update(refused=True, nginx_said=str(ex))
    except Exception as ex:  # AnsibleModule's atomic_move raises plain Exception
        error = reason(ex, os.path.dirname((module.params["nginx"] or {}).get("conf_path") or "") or None)
    finally:
        module.handling_file = False
    # a digest of a short secret is the secret: none leaves the host
    for spec, secret in entries:
        if secret and spec["path"] in files:
            files[spec["path"]].pop("checksum", None)
    changed = result.pop("changed", None)
    if changed is None:
        changed = any(e["changed"] for e in files.values())
    if error:
        module.fail_json(msg=error, changed=changed, files=files, **result)
    if module._diff:
        result["diff"] = diffs
    module.exit_json(changed=changed, files=files, **result)


if __name__ == "__main__":
    main()
