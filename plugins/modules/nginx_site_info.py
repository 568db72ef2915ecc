#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Ansible module layout: py2-style boilerplate first, imports after the documentation strings.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: nginx_site_info
short_description: Read in one pass what the nginx_mtls role needs to know about a web host
version_added: 0.1.0
description:
  - Asks C(nginx -V) how nginx was built (version, conf path, pid path), tells whether nginx is running, whether
    C(nginx.conf) includes the directory of the site's server block, which init system runs the host, its OS
    family, and the owner, mode and existence of the files the role manages.
  - One module run instead of a fact gathering, a C(command), a C(slurp) and a C(stat) per file, so a run where
    nothing changes costs few round trips.
  - Uses only the Python standard library. Never changes anything; RV(ignore:changed) is always V(false).
  - Called C(chat_callback.mtls.nginx_site_facts) before 0.3.0 (it returns no C(ansible_facts)); that name still
    works, with a deprecation warning, until 1.0.0.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - chat_callback.mtls._attributes
  - chat_callback.mtls._attributes.read_only
options:
  binary:
    description:
      - The nginx executable, a name looked up in C(PATH) and the C(sbin) directories (C(/sbin), C(/usr/sbin),
        C(/usr/local/sbin), which a C(PATH) set by C(su) lacks), or a path.
    type: str
    default: nginx
  conf_dir:
    description:
      - nginx's conf dir. When empty, the directory of C(--conf-path) from C(nginx -V); when nginx is missing, the
        directory of O(default_conf_path).
    type: str
    default: ""
  default_conf_path:
    description:
      - C(nginx.conf) to assume when nginx is not installed (yet).
    type: str
    default: /etc/nginx/nginx.conf
  site_dir:
    description:
      - Directory of the server block files. When empty, C(<conf_dir>/conf.d).
    type: str
    default: ""
  conf_files:
    description:
      - File names in the conf dir to report on in RV(files) (certificate, key, client CA, ...). C(nginx.conf)
        itself is always reported.
      - A list of names, or (since 0.4.0) a dict of names whose keys are the keys of their paths in RV(paths).
    type: raw
    default: []
  site_files:
    description:
      - File names in the site dir to report on in RV(files) (the server block), given as O(conf_files) are.
    type: raw
    default: []
  listen_addresses:
    description:
      - The addresses the site's C(listen) directives name, for RV(probe_addresses). Empty for a wildcard C(listen).
    type: list
    elements: str
    default: []
    version_added: 0.4.0
  listen_ipv6:
    description:
      - Whether a wildcard C(listen) also listens on C([::]), for RV(probe_addresses).
    type: bool
    default: true
    version_added: 0.4.0
  other_paths:
    description:
      - Absolute paths elsewhere to report on in RV(files), such as the directory of node_exporter's textfile
        collector (whether it exists).
    type: list
    elements: path
    default: []
    version_added: 0.4.0
  no_checksum:
    description:
      - Keys of O(conf_files) and O(site_files) whose files are secret (a private key, a passphrase, a token).
        RV(files) gives them no V(checksum).
    type: list
    elements: str
    default: []
    version_added: 0.4.0
  secrets:
    description:
      - What to compare the files of O(no_checksum) with on the host - V(key), a hex HMAC-SHA256 key made for this call,
        and V(digests), the HMAC of each file's wanted content by its key. RV(files) then says V(content_matches) for
        them, and nothing derived from their content leaves the host. Never logged.
    type: dict
    version_added: 0.4.0
  read_files:
    description:
      - File names among O(conf_files) whose text to return in RV(contents), for the deployed certificate and
        client CA (so that no C(slurp) is needed). A file that holds a private key is never returned; the module
        fails instead.
    type: list
    elements: str
    default: []
    version_added: 0.3.0
seealso:
  - module: chat_callback.mtls.tls_probe
"""

EXAMPLES = r"""
- name: Ask the host about nginx and the site's files
  chat_callback.mtls.nginx_site_info:
    conf_files: [www.example.com.crt, www.example.com.key, TencentQQAuthCA.crt]
    site_files: [www.example.com.conf]
  register: host

- name: Show where the files go
  ansible.builtin.debug:
    msg: "nginx {{ host.version }} reads {{ host.conf_path }}; running: {{ host.running }}"
"""

RETURN = r"""
installed:
  description: Whether C(nginx -V) ran.
  returned: always
  type: bool
  sample: true
addresses:
  description:
    - The host's own IP addresses a client can reach a wildcard C(listen) on, loopback first (C(127.0.0.1), C(::1)),
      then the others in the order the kernel lists them; IPv6 link-local addresses are left out. Read from
      C(/proc/net/fib_trie) and C(/proc/net/if_inet6) (Linux); only the loopback address elsewhere.
    - What the role probes after a reload, so that a site of another server block on one of them is caught.
  returned: always
  type: list
  elements: str
  sample: [127.0.0.1, "::1", 192.0.2.10]
binary:
  description:
    - The absolute path of the nginx executable, to run nginx by whatever C(PATH) the caller has (C(su) keeps the
      user's, without C(/usr/sbin)). Empty when it was not found.
  returned: always
  type: str
  sample: /usr/sbin/nginx
nginx_error:
  description: Why C(nginx -V) did not run; empty when it did.
  returned: always
  type: str
  sample: ""
version:
  description: nginx version, C(0) when nginx is not installed.
  returned: always
  type: str
  sample: 1.22.1
openssl_version:
  description:
    - The OpenSSL version nginx runs with (C(running with) in C(nginx -V)), else the one it was built with; C(0)
      when C(nginx -V) names none.
  returned: always
  type: str
  sample: 3.0.17
  version_added: 0.4.0
dynamic_modules:
  description:
    - The dynamic modules installed in nginx's modules directory (C(--modules-path), else C(<prefix>/modules)),
      such as C(ngx_http_js_module.so) (njs). Installed is not loaded; C(nginx -t) tells.
  returned: always
  type: list
  elements: str
  sample: [ngx_http_js_module.so]
  version_added: 0.4.0
log_dir:
  description: The directory of nginx's access log (C(--http-log-path), else C(<prefix>/logs)).
  returned: always
  type: str
  sample: /var/log/nginx
  version_added: 0.4.0
probe_addresses:
  description:
    - The addresses a client reaches the site on, which the role probes after a reload. O(listen_addresses) when
      given; for a wildcard C(listen) every address of RV(addresses) but C(::1), which no client uses, and IPv6
      ones only with O(listen_ipv6) (another server block's C(listen <address>:443) wins over a wildcard there).
  returned: always
  type: list
  elements: str
  sample: [127.0.0.1, 192.0.2.10]
  version_added: 0.4.0
conf_path:
  description: Path of C(nginx.conf).
  returned: always
  type: str
  sample: /etc/nginx/nginx.conf
conf_dir:
  description: The conf dir, where the certificate, key and client CA go.
  returned: always
  type: str
  sample: /etc/nginx
site_dir:
  description: The directory of the server block files.
  returned: always
  type: str
  sample: /etc/nginx/conf.d
site_dir_exists:
  description: Whether RV(site_dir) is a directory.
  returned: always
  type: bool
  sample: true
site_dir_included:
  description: Whether C(nginx.conf) has an C(include) of C(<site_dir>/*.conf) (absolute or relative to the conf dir).
  returned: always
  type: bool
  sample: true
pid_path:
  description: The pid file nginx was built with.
  returned: always
  type: str
  sample: /run/nginx.pid
running:
  description: Whether the pid file names a live process.
  returned: always
  type: bool
  sample: true
service_mgr:
  description: V(systemd) when systemd runs the host, V(other) otherwise.
  returned: always
  type: str
  sample: systemd
os_family:
  description: V(Debian), V(RedHat) or the C(ID) of C(/etc/os-release) for other systems.
  returned: always
  type: str
  sample: Debian
paths:
  description:
    - The absolute path of each file of O(conf_files) and O(site_files), keyed by its name, or by its key when they
      are dicts (a key in both is given its O(site_files) path). The only place the role joins a directory and a
      file name.
  returned: always
  type: dict
  sample:
    www.example.com.crt: /etc/nginx/www.example.com.crt
    www.example.com.conf: /etc/nginx/conf.d/www.example.com.conf
  version_added: 0.4.0
files:
  description:
    - For each requested file, keyed by its absolute path, V(exists) and, when it exists, V(mode), V(owner) and
      V(group).
    - V(checksum) is the SHA-1 of a regular file's content (as M(ansible.builtin.stat) reports it), so that a caller
      can tell an up-to-date file without one more round trip. Symbolic links and unreadable files have none.
    - A file of O(no_checksum) has no V(checksum) (a digest of a short secret is the secret); when O(secrets) has a
      digest for it, V(content_matches) says whether it holds that content.
  returned: always
  type: dict
  sample:
    /etc/nginx/www.example.com.key: {exists: true, mode: "0600", owner: root, group: root, content_matches: true}
    /etc/nginx/www.example.com.crt:
      {exists: true, mode: "0644", owner: root, group: root, checksum: 2aae6c35c94fcfb415dbe95f408b9ce91ee846ed}
    /etc/nginx/conf.d/www.example.com.conf: {exists: false}
backups:
  description:
    - For each requested file that has backups next to it (named as M(chat_callback.mtls.site_files) and
      M(ansible.builtin.copy) name them), keyed by its absolute path, their paths, oldest first.
  returned: always
  type: dict
  sample:
    /etc/nginx/www.example.com.key: [/etc/nginx/www.example.com.key.4711.2026-01-31@12:00:00~]
  version_added: 0.3.0
contents:
  description:
    - The text of each existing file of O(read_files), keyed by its absolute path (at most 1 MiB each).
  returned: always
  type: dict
  sample:
    /etc/nginx/www.example.com.crt: "-----BEGIN CERTIFICATE-----\n..."
  version_added: 0.3.0
reload_pending:
  description:
    - Whether one of the requested files (not C(nginx.conf), which others edit too) changed after the running
      nginx last loaded its configuration (the start of its newest worker process). A run killed between writing
      the files and the reload leaves that, and the next run reloads. V(false) when nginx does not run.
  returned: always
  type: bool
  sample: false
  version_added: 0.3.0
leftovers:
  description:
    - Hidden files a killed M(chat_callback.mtls.site_files) run for one of the O(site_files) left (candidates of
      new files, copies of the configuration it tested). nginx never reads them; the next site_files run for that
      server block removes them.
  returned: always
  type: list
  elements: str
  sample: [/etc/nginx/.www.example.com.crt.mtls-1a2b3c4d.89abcdef]
  version_added: 0.3.0
"""

import os
import time

from ansible_collections.chat_callback.mtls.plugins.module_utils._file_ops import backup_pattern, file_facts
from ansible_collections.chat_callback.mtls.plugins.module_utils._module import AnsibleModule
from ansible_collections.chat_callback.mtls.plugins.module_utils._nginx_host import (
    local_addresses,
    named,
    os_family,
    parse_build_info,
    probe_addresses,
)
from ansible_collections.chat_callback.mtls.plugins.module_utils._site_switch import include_of, leftovers


def includes_site_dir(nginx_conf, conf_dir, site_dir):
    """Whether ``nginx.conf`` text includes ``<site_dir>/*.conf`` (or ``/*``), absolute or relative."""
    return include_of(nginx_conf, conf_dir, site_dir) is not None


def backups_of(paths):
    """{path: its backups, oldest first} for the paths that have any."""
    found = {}
    for path in paths:
        directory, name = os.path.split(path)
        pattern = backup_pattern(name)
        names = os.listdir(directory) if os.path.isdir(directory) else []
        matches = sorted((m.group(1), os.path.join(directory, n)) for n in names for m in [pattern.match(n)] if m)
        if matches:
            found[path] = [full for _stamp, full in matches]
    return found


def master_pid(pid_path):
    """The pid in nginx's pid file when that process lives, else 0."""
    try:
        with open(pid_path) as handle:
            pid = int(handle.read().strip() or 0)
    except (OSError, ValueError):
        return 0
    return pid if pid > 0 and os.path.exists(f"/proc/{pid}") else 0


def pid_alive(pid_path):
    return master_pid(pid_path) > 0


def process_started(stat_text, boot_time, ticks):
    """When a process started (epoch seconds) and its parent pid, from the text of /proc/<pid>/stat."""
    fields = stat_text[stat_text.rindex(")") + 2:].split()  # the name in parentheses may hold spaces
    return boot_time + int(fields[19]) / ticks, int(fields[1])


def last_load(master):
    """When nginx last loaded its configuration: the start of its newest worker (a reload starts new ones)."""
    try:
        # /proc/stat's btime is whole seconds; uptime is to the hundredth, as process start times are
        boot_time = time.time() - float(_read("/proc/uptime").split()[0])
        ticks = os.sysconf("SC_CLK_TCK")
    except (IndexError, ValueError, OSError):
        return None
    newest = None
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            text = _read(f"/proc/{entry}/stat")
            if text:
                started, parent = process_started(text, boot_time, ticks)
                if parent == master and (newest is None or started > newest):
                    newest = started
    return newest


def reload_pending(master, paths):
    """Whether a file of ``paths`` changed after the running nginx last loaded its configuration."""
    loaded = last_load(master) if master else None
    if loaded is None:
        return False
    changed = [os.lstat(p).st_mtime for p in paths if os.path.lexists(p)]
    # start times are known to a clock tick or two (10 ms each)
    return bool(changed) and max(changed) > loaded + 0.05


MAX_READ = 1024 * 1024


def _read(path, limit=None):
    try:
        with open(path, errors="replace") as handle:
            return handle.read(limit)
    except OSError:
        return ""


def main():
    module = AnsibleModule(
        argument_spec=dict(
            binary=dict(type="str", default="nginx"),
            conf_dir=dict(type="str", default=""),
            default_conf_path=dict(type="str", default="/etc/nginx/nginx.conf"),
            site_dir=dict(type="str", default=""),
            conf_files=dict(type="raw", default=[]),
            site_files=dict(type="raw", default=[]),
            listen_addresses=dict(type="list", elements="str", default=[]),
            listen_ipv6=dict(type="bool", default=True),
            read_files=dict(type="list", elements="str", default=[]),
            other_paths=dict(type="list", elements="path", default=[]),
            no_checksum=dict(type="list", elements="str", default=[]),
            secrets=dict(type="dict", no_log=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    result = {"changed": False, "installed": False, "nginx_error": ""}

    binary = module.get_bin_path(params["binary"]) if "/" not in params["binary"] else params["binary"]
    usable = bool(binary) and os.access(binary, os.X_OK)
    result["binary"] = os.path.abspath(binary) if usable else ""
    build = {"version": "0", "openssl_version": "0", "conf_path": params["default_conf_path"],
             "pid_path": "/run/nginx.pid", "log_dir": "/var/log/nginx", "modules_dir": ""}
    if usable:
        rc, out, err = module.run_command([binary, "-V"])
        if rc == 0:
            result["installed"] = True
            build = parse_build_info(out + err)
        else:
            result["nginx_error"] = (err or out).strip() or f"{binary} -V exited with {rc}"
    else:
        result["nginx_error"] = f"{params['binary']} not found"
    modules_dir = build.pop("modules_dir")
    result.update(build, dynamic_modules=sorted(os.listdir(modules_dir)) if os.path.isdir(modules_dir) else [])

    conf_dir = params["conf_dir"] or os.path.dirname(build["conf_path"])
    site_dir = params["site_dir"] or os.path.join(conf_dir, "conf.d")
    conf_path = os.path.join(conf_dir, "nginx.conf") if params["conf_dir"] else build["conf_path"]
    addresses = local_addresses(_read("/proc/net/fib_trie"), _read("/proc/net/if_inet6"))
    result.update(
        conf_path=conf_path,
        conf_dir=conf_dir,
        site_dir=site_dir,
        site_dir_exists=os.path.isdir(site_dir),
        site_dir_included=includes_site_dir(_read(conf_path), conf_dir, site_dir),
        running=pid_alive(build["pid_path"]),
        addresses=addresses,
        probe_addresses=probe_addresses(addresses, params["listen_addresses"], params["listen_ipv6"]),
        service_mgr="systemd" if os.path.isdir("/run/systemd/system") else "other",
        os_family=os_family(_read("/etc/os-release")),
    )
    conf_names, site_names = named(params["conf_files"]), named(params["site_files"])
    conf_paths = dict((key, os.path.join(conf_dir, name)) for key, name in conf_names.items())
    block_paths = dict((key, os.path.join(site_dir, name)) for key, name in site_names.items())
    conf_files, blocks = list(conf_paths.values()), list(block_paths.values())
    result["paths"] = dict(conf_paths, **block_paths)
    reported = [conf_path] + conf_files + blocks + params["other_paths"]
    paths, secrets = result["paths"], params["secrets"] or {}
    secret = dict((paths[key], (secrets.get("key"), secrets.get("digests", {}).get(key)))
                  for key in params["no_checksum"] if key in paths)
    result["files"] = dict((path, file_facts(path, secret.get(path))) for path in reported)
    result["backups"] = backups_of(conf_files + blocks)
    directories = [conf_dir, site_dir, os.path.dirname(conf_path)]
    result["leftovers"] = [path for block in blocks for path in leftovers(block, directories)]
    unknown = sorted(set(params["read_files"]) - set(conf_names.values()))
    if unknown:
        module.fail_json(msg=f"read_files must be among conf_files: {', '.join(unknown)}", **result)
    result["contents"] = {}
    for path in [os.path.join(conf_dir, name) for name in params["read_files"]]:
        text = _read(path, limit=MAX_READ) if os.path.isfile(path) else None
        if text is not None and "PRIVATE KEY-----" in text:
            module.fail_json(msg=f"{path} holds a private key: read_files never returns one", **result)
        if text is not None:
            result["contents"][path] = text
    # the site's own files only: an edit of nginx.conf by someone else is theirs to reload
    result["reload_pending"] = reload_pending(master_pid(build["pid_path"]), conf_files + blocks)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
