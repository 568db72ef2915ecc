# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which programs listen on a TCP port, read from /proc (Linux; private to this collection).

When the proof after a reload fails, a port another program holds is the cause to say first:
nginx -t does not bind, a reload returns before the new master fails to, and the probe then
talks to that program and reports a TLS error.
"""

from __future__ import annotations

import ipaddress
import os

_LISTEN = "0A"


def _address(hex_address):
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return str(ipaddress.IPv4Address(raw[::-1]))
    # /proc/net/tcp6: four 32-bit words, each in host (little-endian) order
    return str(ipaddress.IPv6Address(b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))))


def _listening_inodes(port, proc):
    found = {}
    for name in ("tcp", "tcp6"):
        try:
            with open(os.path.join(proc, "net", name)) as handle:
                lines = handle.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != _LISTEN:
                continue
            address, port_hex = fields[1].rsplit(":", 1)
            if int(port_hex, 16) == port:
                found[fields[9]] = _address(address)
    return found


def listeners(port, proc="/proc"):
    """[{address, pid, program}] of the sockets listening on TCP ``port``; pid 0 and program "" when unknown."""
    inodes = _listening_inodes(port, proc)
    owners = {}
    for entry in os.listdir(proc) if inodes else []:
        if not entry.isdigit():
            continue
        fd_dir = os.path.join(proc, entry, "fd")
        try:
            fds = os.listdir(fd_dir)
        except OSError:  # gone, or not ours to read
            continue
        for fd in fds:
            try:
                link = os.readlink(os.path.join(fd_dir, fd))
            except OSError:  # closed meanwhile (the listing's own fd among them)
                continue
            inode = link[len("socket:["):-1] if link.startswith("socket:[") else None
            if inode in inodes and inode not in owners:
                try:
                    with open(os.path.join(proc, entry, "comm")) as handle:
                        owners[inode] = (int(entry), handle.read().strip())
                except OSError:
                    owners[inode] = (int(entry), "")
    return [{"address": address, "pid": owners.get(inode, (0, ""))[0], "program": owners.get(inode, (0, ""))[1]}
            for inode, address in sorted(inodes.items(), key=lambda item: item[1])]


def held_by_another(port, proc="/proc"):
    """A sentence naming the programs other than nginx that listen on ``port``, or "" when there are none."""
    # a socket whose process this user cannot see (not root) may well be nginx's: only known programs count
    others = [s for s in listeners(port, proc) if s["program"] and s["program"] != "nginx"]
    if not others:
        return ""
    named = ", ".join(f"{s['program']} (pid {s['pid']}) on {s['address']}" for s in others)
    return f"port {port} is held by another program: {named}; nginx cannot listen there. "
