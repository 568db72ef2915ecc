# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the nginx_mtls role refuses: every rule for a value that reaches nginx's configuration or a path.

Each check returns the problems of one variable as sentences that start with its name. A secret's
check never shows the value. Values come from inventories, AWX surveys and CMDBs: a newline, a
``;``, a ``../`` or a trailing space is refused here, before anything is rendered or touched.
"""

from __future__ import annotations

import ipaddress
import json
import re

# RFC 1123 labels; a server name is one host: no wildcard (its files would be named by a glob).
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOST_NAME = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+@-]{0,254}")
# An absolute or relative path as nginx reads it unquoted: no space, ;, {, }, quote, $, # or glob.
_PATH = re.compile(r"[A-Za-z0-9_.+@/-]+")
_UNIT = re.compile(r"[A-Za-z0-9:_.@-]+")
_UPSTREAM = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?")
_URL_PATH = re.compile(r"/[A-Za-z0-9_.~!&()*+,=:@%/-]*")
# The characters of a token none of which is special inside an nginx string.
TOKEN = re.compile(r"[A-Za-z0-9_.~+/=:@%-]{1,128}")
SDKAPPID = re.compile(r"[0-9]{1,20}")
PROTOCOLS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
# The key exchange groups nginx's OpenSSL 3 knows by these names.
GROUPS = ("X25519MLKEM768", "SecP256r1MLKEM768", "SecP384r1MLKEM1024", "X25519", "X448", "prime256v1",
          "secp384r1", "secp521r1", "P-256", "P-384", "P-521", "ffdhe2048", "ffdhe3072", "ffdhe4096",
          "ffdhe6144", "ffdhe8192")
MAX_SKEW = (1, 3600)
SERVER_NAME_MAX = 239
VERIFY_DEPTH = (1, 100)

# Directives the server block sets from a variable (or always): an extra directive may not set them again.
OWNED = {
    "listen": "nginx_mtls_listen_addresses and nginx_mtls_port",
    "server_name": "nginx_mtls_server_name",
    "ssl_certificate": "nginx_mtls_certificate_src or nginx_mtls_certificate_content",
    "ssl_certificate_key": "nginx_mtls_private_key_src or nginx_mtls_private_key_content",
    "ssl_password_file": "nginx_mtls_private_key_passphrase",
    "ssl_verify_client": "the role itself (always on: mutual TLS is what it deploys)",
    "ssl_client_certificate": "nginx_mtls_client_ca_src or nginx_mtls_client_ca_content",
    "ssl_verify_depth": "nginx_mtls_ssl_verify_depth",
    "ssl_crl": "nginx_mtls_crl_src",
    "ssl_protocols": "nginx_mtls_ssl_protocols or nginx_mtls_tls_profile",
    "ssl_ciphers": "nginx_mtls_tls_profile",
    "ssl_ecdh_curve": "nginx_mtls_ecdh_curves or nginx_mtls_tls_profile",
    "ssl_prefer_server_ciphers": "nginx_mtls_tls_profile",
    "ssl_session_cache": "the role itself (one cache per site)",
    "ssl_session_tickets": "the role itself (by nginx's version)",
    "http2": "nginx_mtls_http2",
    "js_import": "nginx_mtls_callback_token",
    "js_set": "nginx_mtls_callback_token",
}


def shown(value):
    """A value as the message shows it: quoted, with a newline or a trailing space visible."""
    return json.dumps(value, ensure_ascii=False)


def whole_number(name, value, low, high):
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        return [f"{name} must be a whole number from {low} to {high}, not {shown(value)}."]
    return []


def _list(name, value):
    return [] if isinstance(value, list) else [f"{name} must be a list, not {shown(value)}."]


def each(name, values, check):
    """Each element of the list ``values`` through ``check(label, value)``."""
    problems = _list(name, values)
    for index, value in enumerate(values if not problems else []):
        label = f"{name}[{index}]"
        if not isinstance(value, str):
            problems.append(f"{label} must be a string, not {shown(value)}.")
            continue
        problems += check(label, value)
    return problems


def server_name(name, value):
    # the longest file named after it, nginx_mtls_<name>.prom, must fit in 255 characters
    if not isinstance(value, str) or len(value) > SERVER_NAME_MAX or not _HOST_NAME.fullmatch(value):
        return [f"{name} must be one host name (letters, digits, hyphens and dots, at most {SERVER_NAME_MAX} "
                f"characters; no wildcard, space or other character), not {shown(value)}."]
    return []


def file_name(name, value):
    if not isinstance(value, str) or not _FILE_NAME.fullmatch(value) or value in (".", ".."):
        return [f"{name} must be a plain file name (letters, digits and _ . + @ -, not starting with a dot; "
                f"no /, .., space or glob character), not {shown(value)}."]
    return []


def site_conf_name(name, value):
    problems = file_name(name, value)
    if not problems and not value.endswith(".conf"):
        problems.append(f"{name} must end in .conf: nginx.conf includes the site dir's *.conf, not {shown(value)}.")
    return problems


def directory(name, value, relative=False):
    """An absolute directory (or, with ``relative``, one relative to nginx's prefix) without any .. part."""
    parts = value.split("/") if isinstance(value, str) else []
    if (not isinstance(value, str) or not _PATH.fullmatch(value) or ".." in parts
            or (not relative and not value.startswith("/"))):
        kind = "a path" if relative else "an absolute path"
        return [f"{name} must be {kind} of letters, digits and _ . + @ - / without a .. part, not {shown(value)}."]
    return []


def service_name(name, value):
    if not isinstance(value, str) or not _UNIT.fullmatch(value):
        return [f"{name} must be a systemd unit name, not {shown(value)}."]
    return []


def _unscoped(parse, value):
    """ipaddress's reading of ``value``, refusing an IPv6 scope: ipaddress takes any text after its %,
    and nginx refuses one in listen and geo anyway."""
    if "%" in value:
        raise ValueError(f"{value!r} has a scope id")
    return parse(value)


def ip_address(name, value):
    try:
        _unscoped(ipaddress.ip_address, value)
    except ValueError:
        return [f"{name} must be an IP address (IPv6 without brackets, no port), not {shown(value)}."]
    return []


def ip_network(name, value):
    try:
        network = _unscoped(lambda v: ipaddress.ip_network(v, strict=True), value)
    except ValueError as error:
        why = " with no host bits set (the network's own address)" if "host bits" in str(error) else ""
        return [f"{name} must be an IP address or network in CIDR notation{why}, not {shown(value)}."]
    if network.prefixlen == 0:
        # geo's default covers it already: nginx warns of a duplicate network
        return [f"{name} admits every address ({value}): leave nginx_mtls_allowed_client_networks empty instead."]
    return []


def backend(name, value):
    """A URL proxy_pass takes as it is: http(s)://, a host, IP or upstream name, a port, a path; or a unix socket."""
    match = re.fullmatch(r"(https?)://(?:unix:(/[A-Za-z0-9_.+@/-]+):?|(\[[0-9A-Fa-f:.]+\]|[^/:\[\]]+)(?::([0-9]{1,5}))?"
                         r"(/.*)?)", value) if isinstance(value, str) else None
    good = bool(match)
    if match and not match.group(2):
        host, port, path = match.group(3), match.group(4), match.group(5)
        good = (_UPSTREAM.fullmatch(host) is not None or not ip_address("", host.strip("[]"))) \
            and (port is None or 1 <= int(port) <= 65535) and (path is None or _URL_PATH.fullmatch(path) is not None)
    if not good:
        return [f"{name} must be a URL nginx proxies to (http:// or https://, a host, IP address or upstream name, "
                f"an optional port and path, or unix:/socket; no space, ;, {{, }}, quote or $), not {shown(value)}."]
    return []


def choice(name, value, known):
    if value not in known:
        return [f"{name} must be one of {', '.join(known)}, not {shown(value)}."]
    return []


def distinct(name, values):
    if isinstance(values, list) and len(set(map(str, values))) != len(values):
        return [f"{name} names an element twice: {shown(values)}."]
    return []


def client_dn(name, value):
    if not value or re.search(r"[\x00-\x1f\x7f]", value):
        return [f"{name} must be a non-empty subject DN (or ~regex) without a control character, not {shown(value)}."]
    return []


def secret(name, value, pattern, rule):
    """A secret's check: the message says the rule, never the value."""
    if not isinstance(value, str) or not pattern.fullmatch(value):
        return [f"{name} must be {rule} (the value is not shown: it is a secret; look for a trailing newline "
                f"or space)."]
    return []


def sdkappid(name, value):
    if value != "" and not (isinstance(value, str) and SDKAPPID.fullmatch(value)):
        return [f"{name} must be the app's SDKAppID, 1 to 20 digits only, not {shown(value)}."]
    return []


def passphrase(name, value):
    # nginx's ssl_password_file holds one passphrase a line.
    if isinstance(value, str) and re.search(r"[\x00-\x1f\x7f]", value):
        return [f"{name} must not hold a newline or another control character (the value is not shown: it is a "
                f"secret; look for a trailing newline)."]
    return []


def extra_directive(name, value):
    """One entry of nginx_mtls_extra_directives: complete statements, none a directive the role sets."""
    try:
        statements = parse(value)
    except ValueError as error:
        return [f"{name} must be complete nginx statements, each ending in ; or a {{ }} block ({error}): "
                f"{shown(value)}."]
    problems = []
    for directive in sorted({d for d in _directives(statements) if d in OWNED}):
        problems.append(f"{name} sets {directive}, which the role sets from {OWNED[directive]}: {shown(value)}.")
    return problems


def _directives(statements):
    for directive, _args, block in statements:
        yield directive
        yield from _directives(block or [])


def quoted(text):
    """``text`` as one nginx string: in double quotes, its backslashes and double quotes escaped."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


# The only characters nginx splits words on (ngx_conf_read_token); str.isspace() knows many more.
_BLANK = " \t\r\n"


def parse(text):
    """nginx's own reading of ``text`` (ngx_conf_read_token): [(directive, args, block or None)].

    Raises ValueError for what nginx would reject as incomplete: an open quote or block, a statement
    without its ``;``, a ``}`` without its ``{``.
    """
    if not isinstance(text, str):
        raise ValueError("not a string")
    stack, words = [[]], []
    for token, bare in _tokens(text):
        if bare and token == ";":
            if not words:
                raise ValueError("a ; without a directive")
            stack[-1].append((words[0], words[1:], None))
            words = []
        elif bare and token == "{":
            if not words:
                raise ValueError("a { without a directive")
            block = []
            stack[-1].append((words[0], words[1:], block))
            stack.append(block)
            words = []
        elif bare and token == "}":
            if words or len(stack) == 1:
                raise ValueError("a } without its {" if not words else f"{words[0]} does not end in ;")
            stack.pop()
        else:
            words.append(token)
    if words:
        raise ValueError(f"{words[0]} does not end in ;")
    if len(stack) > 1:
        raise ValueError("a { without its }")
    if not stack[0]:
        raise ValueError("no statement")
    return stack[0]


def _tokens(text):
    """(token, bare) pairs: bare only for the ; { } that end a statement or a block; a word's are text."""
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in _BLANK:
            i += 1
        elif ch == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
        elif ch in ";{}":
            yield ch, True
            i += 1
        elif ch in "\"'":
            j, value = i + 1, []
            while j < n and text[j] != ch:
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                value.append(text[j])
                j += 1
            if j >= n:
                raise ValueError("an unclosed quote")
            if j + 1 < n and not (text[j + 1] in _BLANK or text[j + 1] in ";{)"):
                raise ValueError(f"text right after a closing quote: {text[j + 1]}")
            yield "".join(value), False
            i = j + 1
        else:
            # variable: the previous character was a $ that no backslash escaped, so a { is ${name}
            j, value, brace, variable = i, [], False, False
            while j < n:
                c = text[j]
                if c in _BLANK or c == ";":
                    break
                if (c == "{" and not variable) or (c == "}" and not brace):
                    break
                if c == "\\" and j + 1 < n:
                    j += 1
                    value.append(text[j])
                    j, variable = j + 1, False
                    continue
                if c in "{}":
                    brace = c == "{"
                variable = c == "$"
                value.append(c)
                j += 1
            yield "".join(value), False
            i = j
