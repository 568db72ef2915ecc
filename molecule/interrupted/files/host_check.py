# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a restart of nginx would find on the host, judged from inside it (run there with python3 -c).

Reads one JSON object on stdin and prints one on stdout. Steps, in the order given:

``disk``     ``nginx -t`` on the configuration on disk; the server blocks of ``server_name`` found by
             following nginx.conf's includes as nginx does; for each ``ssl_certificate`` /
             ``ssl_certificate_key`` pair they name, whether the two hold the same public key
             (``openssl`` here), and the SHA-256 fingerprint of the certificate.
``procs``    the Ansible modules still running on the host (an ``AnsiballZ_*`` in a command line), the
             Ansible temporary directories left in root's home, and which of their files hold a
             private key (a module's arguments are in its AnsiballZ file in clear).
``restart``  ``systemctl restart nginx``, as an operator or a reboot would.
``serve``    two HTTPS requests to 127.0.0.1:``port`` with SNI ``server_name``: with the client
             certificate (``client_cert`` / ``client_key``, PEM given on stdin) and without one;
             their HTTP status and the fingerprint of the certificate served.

The client key comes on stdin and reaches OpenSSL through a pipe (/dev/fd): it is never written to a
file on the host, whose files a later test searches for every key. Only the Python standard library
and the ``openssl`` command (Debian's ca-certificates depends on it) are used.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import time

SSL_PORT_DEFAULT = 443
PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.S)
TOKEN = re.compile(r"""\s+|#[^\n]*|"((?:\\.|[^"\\])*)"|'((?:\\.|[^'\\])*)'|([{};])|([^\s{};"'#]+)""")


def run(argv, stdin=None, timeout=60):
    try:
        done = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return 127, "", str(exc)
    return done.returncode, done.stdout, done.stderr


def conf_path(binary):
    rc, _out, err = run([binary, "-V"])
    found = re.search(r"--conf-path=(\S+)", err) if rc == 0 else None
    return found.group(1) if found else "/etc/nginx/nginx.conf"


def tokens(path, conf_dir, depth=0):
    """The words, ';', '{' and '}' of a configuration file, with its includes expanded in place."""
    with open(path, encoding="utf-8", errors="replace") as handle:
        text = handle.read()
    words = []
    for match in TOKEN.finditer(text):
        dq, sq, punct, word = match.groups()
        if punct:
            words.append(("p", punct))
        elif dq is not None or sq is not None or word is not None:
            words.append(("w", dq if dq is not None else sq if sq is not None else word))
    out = []
    i = 0
    while i < len(words):
        # `include FILE;` as a directive: at the start of a statement.
        starts = i == 0 or words[i - 1][0] == "p"
        if starts and words[i] == ("w", "include") and i + 2 < len(words) and words[i + 2] == ("p", ";"):
            pattern = words[i + 1][1]
            if not os.path.isabs(pattern):
                pattern = os.path.join(conf_dir, pattern)
            if depth < 10:
                for name in sorted(glob.glob(pattern)):
                    if os.path.isfile(name):
                        out.extend(tokens(name, conf_dir, depth + 1))
            i += 3
            continue
        out.append(words[i])
        i += 1
    return out


def parse(words):
    """Nested directives: (name, args, children or None)."""
    stack = [[]]
    current = []
    for kind, value in words:
        if kind == "w":
            current.append(value)
        elif value == ";":
            if current:
                stack[-1].append((current[0], current[1:], None))
            current = []
        elif value == "{":
            block = (current[0] if current else "", current[1:], [])
            stack[-1].append(block)
            stack.append(block[2])
            current = []
        elif len(stack) > 1:
            stack.pop()
            current = []
    return stack[0]


def site_pairs(tree, server_name, conf_dir):
    """(certificate, key) paths of each server block of server_name; http-level values are inherited."""
    pairs = []

    def values(children, name):
        return [args[0] for n, args, sub in children if n == name and sub is None and args]

    def walk(children, inherited):
        certs = values(children, "ssl_certificate") or inherited[0]
        keys = values(children, "ssl_certificate_key") or inherited[1]
        for name, _args, sub in children:
            if sub is None:
                continue
            if name == "server":
                names = [word for n, args_, s in sub if n == "server_name" and s is None for word in args_]
                if server_name in names:
                    s_certs = values(sub, "ssl_certificate") or certs
                    s_keys = values(sub, "ssl_certificate_key") or keys
                    full = [[p if os.path.isabs(p) else os.path.join(conf_dir, p) for p in group]
                            for group in (s_certs, s_keys)]
                    pairs.append({"certificates": full[0], "keys": full[1]})
            else:
                walk(sub, (certs, keys))

    walk(tree, ([], []))
    return pairs


def fingerprint_of_pem(path):
    with open(path, encoding="ascii", errors="replace") as handle:
        first = PEM_CERT.search(handle.read())
    if not first:
        return None
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(first.group(0))).hexdigest()


def public_key(kind, path):
    argv = ["openssl", "x509", "-noout", "-pubkey", "-in", path] if kind == "cert" else \
        ["openssl", "pkey", "-pubout", "-passin", "pass:", "-in", path]
    rc, out, err = run(argv)
    return out.strip() if rc == 0 and out.strip() else None, err.strip()[-300:]


def step_disk(req, result):
    binary = req.get("nginx", "nginx")
    rc, _out, err = run([binary, "-t"])
    result["nginx_t_rc"] = rc
    result["nginx_t_output"] = err.strip()[-600:]
    path = conf_path(binary)
    conf_dir = os.path.dirname(path)
    try:
        blocks = site_pairs(parse(tokens(path, conf_dir)), req["server_name"], conf_dir)
    except OSError as exc:
        blocks = []
        result["parse_error"] = str(exc)
    result["blocks"] = blocks
    pairs = []
    for block in blocks:
        certs, keys = block["certificates"], block["keys"]
        if not certs or len(certs) != len(keys):
            pairs.append({"certificate": certs, "key": keys, "match": False, "error": "no ssl_certificate / key pair"})
            continue
        for cert, key in zip(certs, keys):
            entry = {"certificate": cert, "key": key}
            cert_pub, cert_err = public_key("cert", cert)
            key_pub, key_err = public_key("key", key)
            entry["match"] = cert_pub is not None and cert_pub == key_pub
            try:
                entry["fingerprint"] = fingerprint_of_pem(cert)
            except OSError as exc:
                entry["fingerprint"] = None
                cert_err = cert_err or str(exc)
            if not entry["match"]:
                entry["error"] = (cert_err if cert_pub is None else key_err if key_pub is None else
                                  "the key's public key is not the certificate's")
            pairs.append(entry)
    result["pairs"] = pairs
    result["pair_ok"] = bool(pairs) and all(p["match"] for p in pairs)
    result["disk_fingerprints"] = sorted({p.get("fingerprint") or "" for p in pairs})


def step_procs(_req, result):
    modules = []
    for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
        if cmdline == f"/proc/{os.getpid()}/cmdline":
            continue
        try:
            with open(cmdline, "rb") as handle:
                args = handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except OSError:
            continue
        modules.extend(re.findall(r"AnsiballZ_(\w+)\.py", args))
    result["modules_running"] = sorted(set(modules))
    left = sorted(glob.glob(os.path.expanduser("~/.ansible/tmp/ansible-tmp-*")))
    result["tmp_dirs_left"] = len(left)
    names = []
    with_key = []
    for directory in left:
        for name in os.listdir(directory) if os.path.isdir(directory) else []:
            names.extend(re.findall(r"AnsiballZ_(\w+)\.py", name))
            path = os.path.join(directory, name)
            try:
                with open(path, "rb") as handle:
                    # A module's arguments are in its AnsiballZ file in clear, a private key too.
                    if b"PRIVATE KEY-----" in handle.read():
                        with_key.append(path)
            except OSError:
                continue
    result["tmp_modules_left"] = sorted(set(names))
    result["tmp_files_with_key"] = with_key


def step_restart(req, result):
    service = req.get("service", "nginx")
    rc, _out, err = run(["systemctl", "restart", service], timeout=90)
    result["restart_rc"] = rc
    result["restart_output"] = err.strip()[-400:]
    if rc != 0:
        _rc, out, _err = run(["journalctl", "-u", service, "-n", "5", "--no-pager", "-o", "cat"])
        result["restart_output"] += " | " + out.strip().replace("\n", " | ")[-600:]


def request(server_name, port, cert_pem=None, key_pem=None, timeout=5.0):
    """(status or None, served fingerprint or None, error)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    # Which certificate is served is judged by fingerprint, not by a trust store.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if cert_pem:
        pipes = []
        try:
            for pem in (cert_pem, key_pem):
                read_end, write_end = os.pipe()
                pipes.append(read_end)
                # Far below the pipe's buffer: written whole before OpenSSL reads it.
                with os.fdopen(write_end, "w") as writer:
                    writer.write(pem)
            context.load_cert_chain(f"/dev/fd/{pipes[0]}", f"/dev/fd/{pipes[1]}")
        finally:
            for fd in pipes:
                os.close(fd)
    served = None
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as raw, \
                context.wrap_socket(raw, server_hostname=server_name) as tls:
            der = tls.getpeercert(binary_form=True)
            served = hashlib.sha256(der).hexdigest() if der else None
            tls.sendall(f"GET / HTTP/1.1\r\nHost: {server_name}\r\nConnection: close\r\n\r\n".encode())
            head = b""
            while b"\r\n" not in head:
                chunk = tls.recv(4096)
                if not chunk:
                    break
                head += chunk
        status = re.match(rb"HTTP/\d(?:\.\d)? (\d{3})", head)
        if not status:
            return None, served, f"no HTTP status line: {head[:80]!r}"
        return int(status.group(1)), served, ""
    except (OSError, ssl.SSLError) as exc:
        return None, served, f"{type(exc).__name__}: {exc}"


def step_serve(req, result):
    port = int(req.get("port", SSL_PORT_DEFAULT))
    deadline = time.monotonic() + float(req.get("serve_wait", 10))
    # nginx just (re)started may need a moment before it accepts.
    while True:
        with_cert = request(req["server_name"], port, req["client_cert"], req["client_key"])
        if with_cert[0] is not None or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    without = request(req["server_name"], port)
    result["status_with_client_cert"], result["served_fingerprint"], result["error_with_client_cert"] = with_cert
    result["status_without_client_cert"], served_without, result["error_without_client_cert"] = without
    result["served_fingerprint_without"] = served_without


STEPS = {"disk": step_disk, "procs": step_procs, "restart": step_restart, "serve": step_serve}


def main():
    req = json.load(sys.stdin)
    result = {}
    for step in req["steps"]:
        STEPS[step](req, result)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
