# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What nginx_site_info reads from a host's own texts: ``nginx -V``, /etc/os-release, /proc/net."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import socket

_OS_FAMILIES = {
    "debian": "Debian",
    "ubuntu": "Debian",
    "rhel": "RedHat",
    "fedora": "RedHat",
    "centos": "RedHat",
    "rocky": "RedHat",
    "almalinux": "RedHat",
}


def parse_build_info(text):
    """Version, conf path and pid path from the output of ``nginx -V``."""

    def option(name):
        match = re.search(rf"--{re.escape(name)}=(\S+)", text)
        return match.group(1) if match else ""

    version = re.search(r"nginx/([0-9][0-9.]*)", text)
    # "built with OpenSSL 3.0.11 19 Sep 2023 (running with OpenSSL 3.0.17 1 Jul 2025)": the library loaded wins.
    openssl = re.search(r"running with OpenSSL ([0-9][0-9.]*)", text) or re.search(r"OpenSSL ([0-9][0-9.]*)", text)
    prefix = option("prefix") or "/usr/local/nginx"
    conf_path = option("conf-path") or "conf/nginx.conf"
    pid_path = option("pid-path") or "logs/nginx.pid"
    log_path = option("http-log-path") or "logs/access.log"
    modules_path = option("modules-path") or "modules"
    return {
        "version": version.group(1) if version else "0",
        "openssl_version": openssl.group(1) if openssl else "0",
        "conf_path": os.path.join(prefix, conf_path),
        "pid_path": os.path.join(prefix, pid_path),
        "log_dir": os.path.dirname(os.path.join(prefix, log_path)),
        "modules_dir": os.path.join(prefix, modules_path),
    }


def named(files):
    """``{key: file name}`` from a list of names (each its own key) or a dict."""
    return dict(files) if isinstance(files, dict) else {name: name for name in files}


def probe_addresses(addresses, listen_addresses, listen_ipv6):
    """Where a client reaches the site: the listen addresses, or the host's but ::1 for a wildcard listen."""
    if listen_addresses:
        return list(listen_addresses)
    return [address for address in addresses if address != "::1" and (listen_ipv6 or ":" not in address)]


def os_family(os_release_text):
    fields = dict(
        line.split("=", 1) for line in os_release_text.splitlines() if "=" in line and not line.startswith("#")
    )
    ids = [fields.get("ID", "").strip("\"'").lower()] + fields.get("ID_LIKE", "").strip("\"'").lower().split()
    for os_id in ids:
        if os_id in _OS_FAMILIES:
            return _OS_FAMILIES[os_id]
    return ids[0] or "unknown"


def local_addresses(fib_trie, if_inet6):
    """The host's unicast addresses from the text of /proc/net/fib_trie and /proc/net/if_inet6, loopback first."""
    found = []
    last = None
    for raw in fib_trie.splitlines():
        line = raw.strip()
        if line.startswith("|-- "):
            last = line[4:]
        elif line == "/32 host LOCAL" and last and last not in found:
            found.append(last)
    for line in if_inet6.splitlines():
        fields = line.split()
        # address, interface index, prefix length, scope (0x20: link-local, needs an interface), flags, name
        if len(fields) >= 4 and len(fields[0]) == 32 and fields[3] != "20":
            packed = bytes.fromhex(fields[0])
            address = socket.inet_ntop(socket.AF_INET6, packed)
            if address not in found:
                found.append(address)
    loopback = [a for a in ("127.0.0.1", "::1") if a in found] or ["127.0.0.1"]
    return loopback + [a for a in found if a not in loopback and not a.startswith("127.")]
