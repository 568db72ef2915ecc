# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The site plan: the one owner of a site's names, files, modes, secrecy and refusals.

``plan`` reads the role's variables on the controller, before the host is touched: what it refuses
(``_site_rules``), the site's id, the names of its files and the sources of its inputs. ``layout``
adds what ``nginx_site_info`` found on the host: every path, the http-level names of the server
block, what the TLS profile gives on this nginx. ``deployed`` is the one shape of the
``nginx_mtls_deployed`` fact. The tasks and the template only read these; none of their names or
paths is computed anywhere else. The plan never holds a secret's value.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re

from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.chat_callback.mtls.plugins.module_utils import _site_rules as rules

# Mozilla server-side TLS guidelines 6.0, plus the vendor procedure's legacy protocols.
_MOZILLA_CIPHERS = ("ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
                    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305")
# The hybrid post-quantum group first; OpenSSL's defaults also offer X448 and secp521r1, which the guidelines reject.
_MOZILLA_GROUPS = ["X25519MLKEM768", "X25519", "prime256v1", "secp384r1"]
_LEGACY_CIPHERS = (":ECDHE-ECDSA-AES128-SHA:ECDHE-RSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:ECDHE-RSA-AES256-SHA:"
                   "AES128-SHA:AES256-SHA:@SECLEVEL=0")
PROFILES = {
    "intermediate": {"protocols": ["TLSv1.2", "TLSv1.3"], "ciphers": _MOZILLA_CIPHERS,
                     "prefer_server_ciphers": "off", "groups": _MOZILLA_GROUPS},
    "modern": {"protocols": ["TLSv1.3"], "ciphers": "", "prefer_server_ciphers": "off", "groups": _MOZILLA_GROUPS},
    # OpenSSL 3 refuses TLS 1.0/1.1 (SHA-1 handshake signatures) above security level 0; these clients
    # predate post-quantum groups.
    "legacy": {"protocols": list(rules.PROTOCOLS),
               "ciphers": _MOZILLA_CIPHERS + _LEGACY_CIPHERS,
               "prefer_server_ciphers": "on", "groups": ["X25519", "prime256v1", "secp384r1"]},
}
# The OpenSSL version that brought each group newer than 3.0: nginx refuses a group its OpenSSL lacks.
GROUP_SINCE = {"X25519MLKEM768": "3.5", "SecP256r1MLKEM768": "3.5", "SecP384r1MLKEM1024": "3.5"}
# nginx 1.23.2 rotates the ticket keys of a shared session cache itself; before it one key would
# live as long as the workers, so the guideline turns session tickets off there.
TICKET_ROTATION_SINCE = "1.23.2"
# nginx 1.25.1 replaced `listen ... http2` with the `http2` directive.
HTTP2_DIRECTIVE_SINCE = "1.25.1"
# Where Debian's prometheus-node-exporter reads *.prom files (nginx_mtls_metrics_textfile_dir: auto).
METRICS_AUTO_DIR = "/var/lib/prometheus/node-exporter"
# Every file the site may have: key -> (directory, mode, secret). The keys are nginx_site_info's paths.
FILES = {
    "certificate": ("conf", "0644", False),
    "private_key": ("conf", "0600", True),
    "password_file": ("conf", "0600", True),
    "client_ca": ("conf", "0644", False),
    "crl": ("conf", "0644", False),
    "callback_js": ("conf", "0644", False),
    "callback_conf": ("conf", "0600", True),
    "site_conf": ("site", "0644", False),
}
SECRET_KEYS = tuple(key for key, (_directory, _mode, secret) in FILES.items() if secret)
SOURCES = ("certificate", "private_key", "client_ca", "crl")
# The longest exact server name nginx's default server_names_hash_bucket_size (64) holds.
EXACT_NAME_MAX = 46
# The plan keeps these variables as given (none is a secret): the server block is made of them.
_KEPT = ("port", "listen_addresses", "listen_ipv6", "http2", "tls_profile", "ssl_protocols", "ssl_verify_depth",
         "backend", "static_root", "allowed_client_dns", "allowed_client_networks", "extra_directives",
         "callback_sdkappid", "callback_max_skew", "access_log", "ecdh_curves", "client_ca_name", "binary",
         "service_name", "backups_keep")


def site_id(server_name):
    """Short whatever the name's length, and different for every distinct name: a readable prefix and a hash.

    nginx variable names share variables_hash_bucket_size (64 by default): the longest name the block
    declares, nginx_mtls_verdict_<id>, stays at 36 characters.
    """
    prefix = re.sub(r"[^a-z0-9]+", "_", server_name.lower())[:8].strip("_")
    return f"{prefix}_{hashlib.sha256(server_name.encode('utf-8')).hexdigest()[:8]}".lstrip("_")


_INTS = ("port", "ssl_verify_depth", "backups_keep", "callback_max_skew")
_BOOLS = ("listen_ipv6", "http2", "access_log", "probe")


def _v(values, name, default=None):
    return values.get(f"nginx_mtls_{name}", default)


def typed(values):
    """The variables as the argument spec types them: `-e nginx_mtls_port=8443` gives a string, and
    `-e nginx_mtls_access_log=false` one that Jinja would take as true."""
    result = dict(values)
    for name in _INTS:
        value = _v(values, name)
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip()):
            result[f"nginx_mtls_{name}"] = int(value)
    for name in _BOOLS:
        value = _v(values, name)
        if isinstance(value, str):
            with contextlib.suppress(TypeError):
                result[f"nginx_mtls_{name}"] = boolean(value, strict=True)
    return result


def refusals(values, deploy=True):
    """Every rule the variables break, each naming the variable; a secret's value is never shown."""
    problems = []
    for name in SOURCES[:3] if deploy else ():
        if bool(_v(values, f"{name}_src")) == bool(_v(values, f"{name}_content")):
            problems.append(f"Set exactly one of nginx_mtls_{name}_src and nginx_mtls_{name}_content.")
    server = _v(values, "server_name")
    server_refused = rules.server_name("nginx_mtls_server_name", server)
    problems += server_refused
    names = {}
    for name in ("certificate", "private_key", "client_ca", "crl", "site_conf"):
        value = names[f"nginx_mtls_{name}_name"] = _v(values, f"{name}_name")
        # a name made of a refused server name (the defaults) is refused for that reason alone
        if server_refused and isinstance(server, str) and isinstance(value, str) and server in value:
            continue
        check = rules.site_conf_name if name == "site_conf" else rules.file_name
        problems += check(f"nginx_mtls_{name}_name", value)
    del names["nginx_mtls_site_conf_name"]
    used = [n for n in names.values() if isinstance(n, str)]
    if not problems and len(set(used + list(_derived_names(server).values()))) != len(used) + 3:
        problems.append(f"nginx_mtls_certificate_name, _private_key_name, _client_ca_name and _crl_name must name "
                        f"four different files, none of them {server}.pass, .callback.js or .callback.conf: "
                        f"{rules.shown(names)}.")
    for name in ("conf_dir", "site_dir"):
        if _v(values, name):
            problems += rules.directory(f"nginx_mtls_{name}", _v(values, name))
    if _v(values, "metrics_textfile_dir") not in ("", "auto"):
        problems += rules.directory("nginx_mtls_metrics_textfile_dir", _v(values, "metrics_textfile_dir"))
    problems += rules.whole_number("nginx_mtls_port", _v(values, "port"), 1, 65535)
    problems += rules.each("nginx_mtls_listen_addresses", _v(values, "listen_addresses"), rules.ip_address)
    problems += rules.distinct("nginx_mtls_listen_addresses", _v(values, "listen_addresses"))
    return problems + (_deploy_refusals(values) if deploy else [])


def _deploy_refusals(values):
    """The rules of what only a deploy renders or writes."""
    problems = rules.service_name("nginx_mtls_service_name", _v(values, "service_name"))
    problems += rules.whole_number("nginx_mtls_ssl_verify_depth", _v(values, "ssl_verify_depth"), *rules.VERIFY_DEPTH)
    problems += rules.whole_number("nginx_mtls_backups_keep", _v(values, "backups_keep"), 0, 100)
    problems += rules.each("nginx_mtls_allowed_client_networks", _v(values, "allowed_client_networks"),
                           rules.ip_network)
    problems += rules.distinct("nginx_mtls_allowed_client_networks", _v(values, "allowed_client_networks"))
    problems += rules.each("nginx_mtls_ssl_protocols", _v(values, "ssl_protocols"),
                           lambda n, v: rules.choice(n, v, rules.PROTOCOLS))
    problems += rules.distinct("nginx_mtls_ssl_protocols", _v(values, "ssl_protocols"))
    problems += rules.each("nginx_mtls_ecdh_curves", _v(values, "ecdh_curves"),
                           lambda n, v: rules.choice(n, v, rules.GROUPS))
    problems += rules.distinct("nginx_mtls_ecdh_curves", _v(values, "ecdh_curves"))
    problems += rules.each("nginx_mtls_allowed_client_dns", _v(values, "allowed_client_dns"), rules.client_dn)
    problems += rules.each("nginx_mtls_extra_directives", _v(values, "extra_directives"), rules.extra_directive)
    if _v(values, "backend"):
        problems += rules.backend("nginx_mtls_backend", _v(values, "backend"))
    else:
        problems += rules.directory("nginx_mtls_static_root", _v(values, "static_root"), relative=True)
    problems += rules.choice("nginx_mtls_tls_profile", _v(values, "tls_profile"), tuple(PROFILES))
    problems += rules.passphrase("nginx_mtls_private_key_passphrase", _v(values, "private_key_passphrase", ""))
    token = _v(values, "callback_token", "")
    if token:
        problems += rules.secret("nginx_mtls_callback_token", token, rules.TOKEN,
                                 "1 to 128 characters among A-Z a-z 0-9 _ . ~ + / = : @ % -")
    problems += rules.sdkappid("nginx_mtls_callback_sdkappid", _v(values, "callback_sdkappid", ""))
    problems += rules.whole_number("nginx_mtls_callback_max_skew", _v(values, "callback_max_skew"), *rules.MAX_SKEW)
    return problems


def warnings(values):
    found = []
    if "nginx_mtls_verify" in values:
        found.append("DEPRECATION: nginx_mtls_verify is now called nginx_mtls_probe (it probes the site after the "
                     "reload); the old name still works and will be removed in 1.0.0.")
    if _v(values, "tls_profile") == "legacy":
        found.append(f"WARNING: nginx_mtls_tls_profile=legacy enables TLSv1 and TLSv1.1 at OpenSSL security level 0 "
                     f"on {_v(values, 'server_name')}. Use it only while a client cannot do TLSv1.2.")
    return found


def _derived_names(server):
    return {"password_file": f"{server}.pass", "callback_js": f"{server}.callback.js",
            "callback_conf": f"{server}.callback.conf"}


def find_source(src, src_dirs, search_path):
    """Where a controller path given as ``src`` is, and where it was looked for.

    A relative path is looked up in ``src_dirs`` first (the shipped playbooks put the directory
    ansible-playbook runs in there), then as ansible.builtin.copy looks (each of Ansible's search
    path: its files/, then itself); it stays as given when found nowhere.
    """
    src = os.path.expanduser(src)
    if os.path.isabs(src):
        return src, []
    candidates = [os.path.join(d, src) for d in src_dirs]
    candidates += [os.path.join(d, sub, src) for d in search_path for sub in ("files", "")]
    for candidate in candidates:
        if os.path.isfile(candidate):
            return candidate, []
    return src, [os.path.dirname(os.path.normpath(c)) for c in candidates]


def plan(values, search_path=(), deploy=True):
    """The site as the variables ask for it, before the host is touched (tasks/plan.yml).

    ``deploy``: whether the main entry point deploys it (every rule, and the inputs found on the
    controller), or inspect and audit only read it (the rules of names, paths and addresses).
    """
    values = typed(values)
    server = _v(values, "server_name")
    found = dict.fromkeys(SOURCES, "")
    problems = refusals(values, deploy)
    for name in SOURCES if deploy else ():
        src = _v(values, f"{name}_src") or ""
        found[name], looked = find_source(src, _v(values, "src_dirs") or [], search_path) if src else ("", [])
        if src and not os.path.isfile(found[name]):
            where = ", ".join(dict.fromkeys(looked)) or "that absolute path"
            problems.append(f"nginx_mtls_{name}_src: {src} not found. Looked in {where}.")
    metrics_dir = _v(values, "metrics_textfile_dir", "auto")
    result = {
        "server_name": server,
        "refusals": problems,
        "warnings": warnings(values),
        "sources": found,
        "passphrase": bool(_v(values, "private_key_passphrase")),
        "callback": bool(_v(values, "callback_token")),
        "crl": bool(_v(values, "crl_src")),
        "probe": bool(_v(values, "probe", True)),
        "metrics_dir": METRICS_AUTO_DIR if metrics_dir == "auto" else metrics_dir,
        "metrics_auto": metrics_dir == "auto",
        "conf_dir": _v(values, "conf_dir", ""),
        "site_dir": _v(values, "site_dir", ""),
    }
    result.update({name: _v(values, name) for name in _KEPT})
    if problems:
        return result
    result["id"] = site_id(server)
    result["conf_files"] = dict({name: _v(values, f"{name}_name") for name in SOURCES[:4]}, **_derived_names(server))
    result["site_files"] = {"site_conf": _v(values, "site_conf_name")}
    result["no_checksum"] = list(SECRET_KEYS)
    result["other_paths"] = [result["metrics_dir"]] if result["metrics_auto"] else []
    return result


def _written(site):
    """The keys of the files this deploy writes."""
    optional = {"password_file": site["passphrase"], "crl": site["crl"],
                "callback_js": site["callback"], "callback_conf": site["callback"]}
    return [key for key in FILES if optional.get(key, True)]


def _version(text):
    return tuple(int(part) for part in re.findall(r"\d+", str(text))[:3]) or (0,)


def server_name_match(name):
    """What server_name says: the name, or an anchored regex for a name nginx's names hash cannot hold.

    nginx hashes exact names in buckets of server_names_hash_bucket_size (64 by default on x86),
    which holds a name of at most 46 characters; regexes are not hashed. nginx lowercases the
    name a client sends before it matches.
    """
    if len(name) <= EXACT_NAME_MAX:
        return name
    return "~^" + name.lower().replace(".", "\\.") + "$"


def dn_key(dn):
    """The map key of an allowed client DN: a ~regex as given, an exact DN as an anchored regex.

    nginx's map hash holds exact keys only up to map_hash_bucket_size (64 by default, less its own
    overhead), which a real subject DN often exceeds; regexes are not hashed. The ~ stays inside
    the quotes: nginx reads ~"..." as a literal key.
    """
    return dn if dn.startswith("~") else f"~^{re.escape(dn)}$"


def layout(site, nginx, contents=None):
    """The plan on this host: every path, the block's http-level names and TLS settings, the files to write.

    With ``contents`` (the text of each input by key, and ``passphrase`` and ``token``), the files
    come split into ``public_files`` and ``secret_files`` as site_files takes them.
    """
    if site.get("refusals"):
        raise ValueError("the plan refused the variables: " + " ".join(site["refusals"]))
    paths = dict(nginx["paths"])
    ident, profile = site["id"], PROFILES[site["tls_profile"]]
    nginx_version, openssl = _version(nginx.get("version", "0")), _version(nginx.get("openssl_version", "0"))
    http2_directive = nginx_version >= _version(HTTP2_DIRECTIVE_SINCE)
    suffix = " ssl" + (" http2" if site["http2"] and not http2_directive else "")
    port = site["port"]
    if site["listen_addresses"]:
        listen = [(f"[{a}]" if ":" in a else a) + f":{port}{suffix}" for a in site["listen_addresses"]]
    else:
        listen = [f"{port}{suffix}"] + ([f"[::]:{port}{suffix}"] if site["listen_ipv6"] else [])

    def offered(group):  # nginx refuses a group its OpenSSL lacks
        return _version(GROUP_SINCE.get(group, "0")) <= openssl

    groups = site["ecdh_curves"] or [g for g in profile["groups"] if offered(g)]
    lacking = [g for g in site["ecdh_curves"] if not offered(g)]
    if lacking:
        raise ValueError(f"nginx_mtls_ecdh_curves names {', '.join(lacking)}, which the OpenSSL nginx runs with on "
                         f"this host ({nginx.get('openssl_version')}) lacks (OpenSSL "
                         f"{', '.join(sorted({GROUP_SINCE[g] for g in lacking}))} has it).")
    files = [{"key": key, "path": paths[key], "mode": FILES[key][1], "owner": "root", "group": "root",
              "secret": FILES[key][2]} for key in _written(site)]
    result = dict(site, **{
        "paths": paths,
        "files": files,
        "secret_paths": [paths[key] for key in SECRET_KEYS],
        "include_line": f"    include {nginx['site_dir']}/*.conf;",
        "log_file": os.path.join(nginx["log_dir"], f"{site['server_name']}.mtls.log"),
        "metrics_file": os.path.join(site["metrics_dir"], f"nginx_mtls_{site['server_name']}.prom")
        if site["metrics_dir"] else "",
        "conflict": f'conflicting server name "{site["server_name"]}"',
        # Every name the block declares at http level is the site's own.
        "names": {"network": f"nginx_mtls_net_{ident}", "client_dn": f"nginx_mtls_dn_{ident}",
                  "verdict": f"nginx_mtls_verdict_{ident}", "log_format": f"nginx_mtls_{ident}",
                  "session_cache": f"nginx_mtls_{ident}"},
        "listen": listen,
        "server_name_match": server_name_match(site["server_name"]),
        "http2_directive": site["http2"] and http2_directive,
        "tls": {"protocols": " ".join(site["ssl_protocols"] or profile["protocols"]),
                "ciphers": profile["ciphers"], "groups": ":".join(groups),
                "prefer_server_ciphers": profile["prefer_server_ciphers"],
                "tickets_off": nginx_version < _version(TICKET_ROTATION_SINCE)},
        "client_dn_keys": [rules.quoted(dn_key(dn)) for dn in site["allowed_client_dns"]],
        "sdkappid_quoted": rules.quoted(site["callback_sdkappid"] or ""),
    })
    if contents is not None:
        result["public_files"], result["secret_files"] = _with_contents(files, contents)
    return result


def _content(key, contents):
    """The text of the file ``key``: as given, or made of the passphrase or the token."""
    if key == "password_file":
        return f"{contents.get('passphrase', '')}\n"
    if key == "callback_conf":
        return f'set $nginx_mtls_callback_token "{contents.get("token", "")}";\n'
    return contents[key]


def _with_contents(files, contents):
    public, secret = [], []
    for spec in files:
        entry = {key: spec[key] for key in ("path", "mode", "owner", "group")}
        entry["content"] = _content(spec["key"], contents)
        (secret if spec["secret"] else public).append(entry)
    return public, secret


def secret_digests(site, contents):
    """What nginx_site_info compares the site's secret files with, on the host (its no_log option secrets).

    A digest of a secret in a task result is the secret when it is short (sha1("hunter2\n") is a
    dictionary look-up away): the host compares HMACs under a key made for this call alone, never
    shown, and answers only whether each file matches.
    """
    key = os.urandom(32)
    digests = {}
    for name in _written(site):
        if name in SECRET_KEYS:
            text = _content(name, contents).encode("utf-8", "surrogateescape")
            digests[name] = hmac.new(key, text, hashlib.sha256).hexdigest()
    return {"key": key.hex(), "digests": digests}


def deployed(site, nginx, check=None, proven=None):
    """nginx_mtls_deployed, the same keys after inspect, main and audit.

    ``check`` is cert_check's result on the deployed files (inspect), ``proven`` its result on the
    inputs a deploy just proved (main).
    """
    paths = nginx.get("paths", {})
    contents = nginx.get("contents", {})
    result = proven or check or {}
    exists = proven is not None or paths.get("certificate") in contents
    # cert_check ran (failed_when: false hides its failure) but neither parsed nor judged the files
    unchecked = proven is None and bool(result.get("msg")) and not result.get("skipped") \
        and "problems" not in result and "certificate" not in result
    return {
        "server_name": site["server_name"],
        "id": site.get("id", ""),
        "nginx": {"installed": bool(nginx.get("installed")), "error": nginx.get("nginx_error", ""),
                  "binary": site.get("binary", ""), "conf_dir_given": bool(site.get("conf_dir"))},
        "certificate_path": paths.get("certificate", ""),
        "client_ca_path": paths.get("client_ca", ""),
        "site_conf_path": paths.get("site_conf", ""),
        "exists": bool(exists),
        "client_ca_exists": proven is not None or paths.get("client_ca") in contents,
        "certificate": result.get("certificate", {}),
        "client_cas": result.get("client_cas", []),
        "problems": [] if proven is not None else result.get("problems", []),
        "problem": "" if proven is not None else (result.get("msg") or "not parsed"),
        # a bad option, a missing cryptography
        "check_error": result["msg"] if unchecked else "",
    }
