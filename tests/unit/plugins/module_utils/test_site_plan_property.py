# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whatever the variables hold, the plan refuses them naming a variable, or nginx reads the block the plan meant.

Hypothesis draws every variable that reaches server_block.conf.j2: valid values, and in most draws one
hostile one (; { } quotes newlines # $ spaces ../ * unicode mixed with valid fragments). Either every
refusal names a variable and no secret, or the rendered block, parsed by crossplane (NGINX's own Python
parser), holds exactly the directives the plan intends with the values as given: nothing injected,
nothing lost. crossplane is made to split words as nginx does (``AS_NGINX``); the few texts it still
reads otherwise are never drawn (``crossplane_reads_as_nginx``). Fixed seed: the same cases every run;
each test prints how many it generated and how they ended.
"""

from __future__ import annotations

import collections
import os
import re
from pathlib import Path
from unittest import mock

import crossplane
import jinja2
import pytest
import yaml
from crossplane import analyzer
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from ansible_collections.chat_callback.mtls.plugins.module_utils import _site_plan as site_plan
from ansible_collections.chat_callback.mtls.plugins.module_utils import _site_rules as rules

ROLE = Path(__file__).resolve().parents[4] / "roles" / "nginx_mtls"
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
ENV = jinja2.Environment(trim_blocks=True, keep_trailing_newline=True, undefined=jinja2.StrictUndefined)
TEMPLATE = ENV.from_string((ROLE / "templates" / "server_block.conf.j2").read_text())
# the defaults as Ansible resolves them ("{{ nginx_mtls_server_name }}.crt"), compiled once
RESOLVE = {key: ENV.from_string(value).render for key, value in DEFAULTS.items()
           if isinstance(value, str) and "{{" in value}
# crossplane 0.5.8 predates njs 0.7.7 (js_import and js_set in a server block) and nginx 1.25.1 (http2).
_ANY_HTTP = analyzer.NGX_HTTP_MAIN_CONF | analyzer.NGX_HTTP_SRV_CONF | analyzer.NGX_HTTP_LOC_CONF
NEWER = {"js_import": [_ANY_HTTP | analyzer.NGX_CONF_TAKE13], "js_set": [_ANY_HTTP | analyzer.NGX_CONF_TAKE23],
         "http2": [analyzer.NGX_HTTP_MAIN_CONF | analyzer.NGX_HTTP_SRV_CONF | analyzer.NGX_CONF_FLAG]}
# What the server block sets itself: never an extra directive, at any depth.
ROLE_SETS = {"listen", "server_name", "ssl_certificate", "ssl_certificate_key", "ssl_password_file", "ssl_crl",
             "ssl_verify_client", "ssl_client_certificate", "ssl_verify_depth", "ssl_protocols", "ssl_ciphers",
             "ssl_ecdh_curve", "ssl_prefer_server_ciphers", "ssl_session_cache", "ssl_session_tickets", "http2",
             "js_import", "js_set"}
SECRET = "S3CRET"  # in every drawn token and passphrase: never in a refusal, the plan or the layout
# (nginx, OpenSSL): tickets off before 1.23.2, listen ... http2 before 1.25.1, hybrid groups from OpenSSL 3.5
VERSIONS = [("1.22.1", "3.0.15"), ("1.24.0", "3.5.1"), ("1.26.2", "3.0.15"), ("1.27.4", "3.5.1")]

# nginx splits words on space, tab, CR and LF only; crossplane (and _site_rules.parse) on str.isspace(): the
# others go to crossplane as word characters (private-use stand-ins, put back in every token).
PYTHON_ONLY_SPACE = [c for c in map(chr, range(0x3001)) if c.isspace() and c not in " \t\r\n"]
AS_NGINX = str.maketrans({c: chr(0xE000 + i) for i, c in enumerate(PYTHON_ONLY_SPACE)})
BACK = str.maketrans({chr(0xE000 + i): c for i, c in enumerate(PYTHON_ONLY_SPACE)})
# what nginx reads specially, and "\u00a0#": a comment to Python, a word to nginx
HOSTILE = [";", "{", "}", '"', "'", "\n", "#", "$", " ", "\t", "../", "*", "\\", "%", "~", "é", "名", "\u00a0",
           "\x0b", "\u00a0#"]


def hostile(*fragments):
    """Text of valid fragments and characters nginx reads specially, in any order."""
    return st.lists(st.sampled_from(HOSTILE + list(fragments)), max_size=6).map("".join)


def unique(*elements, size=3):
    return st.lists(st.sampled_from(elements), unique=True, max_size=size)


def few(element, size=3):
    return st.lists(element, max_size=size)


# Extra directives: statements of nginx words, hostile or not, blocks nested, comments, odd separators.
HEADS = ["add_header", "return", "location", "if", "set", "error_page", "include", "gzip", "proxy_pass", "listen",
         "ssl_verify_client", "server_name", "ssl_protocols", "http2", "js_set", '"listen"', "'ssl_verify_client'",
         "lis\\ten"]
ARGS = ["X-A", "200", "/x", "=", "8080", "off", "on", "TLSv1", "$x", "${host}x", "($request_method", "POST)", '"ok"',
        '"a\\"b"', "'a;b{c}'", "\\;", "http://127.0.0.1:9000", "/etc/passwd", "evil;", "#c\n", "listen"]
QUOTED = hostile().map(lambda text: '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"')
WORD = st.one_of(*[st.sampled_from(ARGS)] * 6, QUOTED, st.sampled_from(HOSTILE))
HEAD = st.one_of(*[st.sampled_from(HEADS)] * 8, WORD)
STATEMENT = st.recursive(
    st.builds(lambda head, args: " ".join([head, *args]) + ";", HEAD, st.lists(WORD, max_size=3)),
    lambda inner: st.builds(lambda head, args, body: " ".join([head, *args]) + " { " + " ".join(body) + " }",
                            HEAD, st.lists(WORD, max_size=2), st.lists(inner, max_size=3)),
    max_leaves=4)
SEPARATOR = st.sampled_from(["", " ", " ", " ", "\n", "\t", " # note\n", "#"])
DIRECTIVE = st.lists(st.tuples(SEPARATOR, STATEMENT), min_size=1, max_size=3).map(
    lambda parts: "".join(sep + statement for sep, statement in parts))


def crossplane_reads_as_nginx(text):
    """crossplane reads "${" on to the next "}" or space (nginx: to the word's end), "${name}" then a space as one
    word with the next, and "\\${" as "${" (nginx: "$", then a block). nginx -t refuses an unclosed "${" itself;
    no draw holds one, nor "\\r" (crossplane reads the file with universal newlines)."""
    return not re.search(r"\\\$\{|\$\{(?!host\}\S)", text)


SCOPED = st.lists(st.sampled_from(["eth0", " ", ";", "\n", "{", "}", "#", '"', "listen", "8080", "1", "]:443 ssl"]),
                  min_size=1, max_size=6).map(lambda parts: "fe80::1%" + "".join(parts))
DN_TEXT = st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=20)
DNS = ["CN=client.example.com,O=Example", "~^CN=[a-z]+\\.example\\.com$", 'CN=a "quoted", name', "CN=back\\slash",
       "CN=Jörg,O=Ünï", "default", "~*^cn=${x};{}#'", "\\include"]
EXTRA = ['location /health { return 200 "ok"; }', 'add_header X-A "${host}x";', "client_max_body_size 1m;",
         "location = /x { return 204; } # note", "if ($request_method = POST) { return 405; }", "error_page 404 /x;",
         "add_header X-B 'a;b{c}' always;", "gzip on;\ngzip_types text/plain;"]
# variable (less its nginx_mtls_) -> (valid values, hostile ones); "{server}" stands for the server name
FIELDS = {
    "server_name": (st.sampled_from(["www.example.com", "a", "api-v2.example.com", "x" * 48 + ".example.com",
                                     "xn--bcher-kva.example", "10.example"]),
                    hostile("www", ".example.com", "-", "a" * 63, "*.")),
    "port": (st.integers(1, 65535), st.sampled_from([0, 65536, -1, "443", True, None, 443.0])),
    "listen_addresses": (unique("127.0.0.1", "::1", "192.0.2.10", "2001:db8::1", "0.0.0.0", "::"),
                         few(st.sampled_from(["127.0.0.1", "::1"]) | hostile("127.0.0.1", ":443") | SCOPED, 2)),
    "listen_ipv6": (st.booleans(), st.booleans()),
    "http2": (st.booleans(), st.booleans()),
    "tls_profile": (st.sampled_from(list(site_plan.PROFILES)), hostile("intermediate", "modern") | st.none()),
    "ssl_protocols": (unique(*rules.PROTOCOLS, size=4),
                      few(st.sampled_from(rules.PROTOCOLS) | hostile("TLSv1.2", "TLSv1.3")) | st.just("TLSv1.2")),
    "ssl_verify_depth": (st.integers(1, 100), st.sampled_from([0, 101, "2", 2.5, False])),
    "backend": (st.sampled_from(["", "", "http://127.0.0.1:8080", "https://[::1]:8443/cb", "http://unix:/run/app.sock:",
                                 "http://app_upstream", "https://backend.example.com/a/b~c@d%20e"]),
                hostile("http://", "127.0.0.1", ":8080", "/cb", "unix:/run/app.sock", "app_upstream", "[::1]")),
    "static_root": (st.sampled_from(["html", "/srv/www", "site/public", "/"]), hostile("html", "/srv", "..", "/")),
    "allowed_client_dns": (few(st.sampled_from(DNS) | DN_TEXT),
                           few(hostile("CN=", "~", "default", "include", "\\", "O=Example"))),
    "allowed_client_networks": (unique("10.0.0.0/8", "192.0.2.0/24", "2001:db8::/32", "::1", "127.0.0.1", "fd00::/8"),
                                few(st.sampled_from(["10.0.0.1/8", "10.0.0.0/8"]) | hostile("10.0.0.0", "/8", "::")
                                    | SCOPED, 2)),
    "extra_directives": (few(st.sampled_from(EXTRA)), st.lists(
        st.one_of(DIRECTIVE, DIRECTIVE, DIRECTIVE, hostile(*HEADS, *ARGS)).filter(crossplane_reads_as_nginx),
        min_size=1, max_size=2)),
    "callback_token": (st.sampled_from(["", f"{SECRET}-token_0.~+/=:@%"]), hostile(SECRET, "tok")),
    "callback_sdkappid": (st.sampled_from(["", "1400000000", "1" * 20]),
                          st.sampled_from(["1400\n", "1400$host", '14"00', "1" * 21]) | hostile("1400", "0", "$host")),
    "callback_max_skew": (st.integers(1, 3600), st.sampled_from([0, 3601, -1, "60", None])),
    "access_log": (st.booleans(), st.booleans()),
    "ecdh_curves": (unique(*rules.GROUPS), few(hostile("X25519", ":", "prime256v1"))),
    "crl_src": (st.sampled_from(["", "ca.crl"]), hostile("ca.crl", "/")),
    "private_key_passphrase": (st.sampled_from(["", f"correct horse {SECRET}"]), hostile(SECRET, "pass")),
    "certificate_name": (st.sampled_from(["{server}.crt", "site.crt", "a_b+c@d-e.pem"]), hostile("{server}", ".crt")),
    "private_key_name": (st.sampled_from(["{server}.key", "site.key", "a_b+c@d-e.pem"]), hostile("{server}", ".key")),
    "client_ca_name": (st.sampled_from(["TencentQQAuthCA.crt", "ca.crt"]), hostile("ca", ".crt")),
    "crl_name": (st.sampled_from(["TencentQQAuthCA.crl", "ca.crl"]), hostile("ca", ".crl")),
    "site_conf_name": (st.sampled_from(["{server}.conf", "site.conf"]), hostile("{server}", ".conf")),
    "conf_dir": (st.sampled_from(["", "/etc/nginx", "/opt/nginx-1.26/conf"]), hostile("/etc", "nginx")),
}
# the fields drawn hostile, those parsed or quoted more often; what one needs to reach the block
HOSTILE_FIELDS = sorted(FIELDS) + ["extra_directives"] * 12 + ["allowed_client_dns", "allowed_client_networks",
                                                               "listen_addresses", "callback_sdkappid"] * 2
REACHES = {"callback_sdkappid": {"callback_token": f"{SECRET}-token"}, "callback_max_skew": {"callback_token": "t"},
           "static_root": {"backend": ""}, "crl_name": {"crl_src": "ca.crl"}}


@st.composite
def role_values(draw, bad_fields=HOSTILE_FIELDS, **given):
    """The role's variables: its defaults, then each field drawn (from ``given``; else valid, or hostile for
    one field in most draws, so that a refusal is that field's)."""
    bad = {draw(st.sampled_from(bad_fields))} if bad_fields and draw(st.integers(0, 4)) else set()
    drawn = {field: draw(given[field] if field in given else FIELDS[field][field in bad]) for field in FIELDS}
    drawn.update(REACHES.get(next(iter(bad), None), {}))
    server = drawn["server_name"]
    values = {key: RESOLVE[key](nginx_mtls_server_name=server) if key in RESOLVE else value
              for key, value in DEFAULTS.items()}
    values.update(nginx_mtls_certificate_content="CERT", nginx_mtls_private_key_content="KEY",
                  nginx_mtls_client_ca_content="CA")
    values.update({f"nginx_mtls_{field}": value.replace("{server}", server) if isinstance(value, str) else value
                   for field, value in drawn.items()})
    return values


def host(site, nginx_version, openssl_version):
    """nginx_site_info's answer: the plan's file names joined to the host's directories."""
    conf = site["conf_dir"] or "/etc/nginx"
    paths = {key: os.path.join(conf, name) for key, name in site["conf_files"].items()}
    paths.update({key: os.path.join(conf, "conf.d", name) for key, name in site["site_files"].items()})
    return {"paths": paths, "site_dir": f"{conf}/conf.d", "log_dir": "/var/log/nginx", "version": nginx_version,
            "openssl_version": openssl_version}


def parse(path, text, checks=False):
    """crossplane's statements of ``text`` at http level, as (directive, args, block), and its errors less their
    place. With ``checks`` it judges each directive's context and arguments, drops one it refuses, and then may
    read on its block's "}" as the end of the enclosing one: the statements are only read with the checks off."""
    path.write_text(f"events {{}}\nhttp {{\n{text}\n}}\n".translate(AS_NGINX), encoding="utf-8")
    with mock.patch.dict(analyzer.DIRECTIVES, NEWER):
        payload = crossplane.parse(str(path), single=True, strict=False, check_ctx=checks, check_args=checks,
                                   comments=False)
    errors = collections.Counter(error["error"].rsplit(" in ", 1)[0] for error in payload["errors"])
    if checks:
        return None, errors
    statements = _statements(payload["config"][0]["parsed"])
    assert [s[0] for s in statements] == ["events", "http"], statements
    return statements[1][2], errors


def _statements(parsed):
    return [(s["directive"].translate(BACK), [arg.translate(BACK) for arg in s["args"]],
             _statements(s["block"]) if "block" in s else None) for s in parsed]


def directives(statements):
    for directive, _args, block in statements:
        yield directive
        yield from directives(block or [])


def nginx_word(token):
    """The word nginx reads for crossplane's token: nginx also unescapes \\\\ \\' \\t \\r \\n (crossplane only \\")."""
    escapes = {"t": "\t", "r": "\r", "n": "\n", '"': '"', "'": "'", "\\": "\\"}
    return re.sub(r"\\(.)", lambda m: escapes.get(m[1], m[0]), token, flags=re.S)


def matches_only(key, text):
    """Whether nginx's map key (crossplane's token) matches exactly ``text`` (a ~regex key: as given)."""
    word = nginx_word(key)
    if text.startswith("~"):
        return word == text
    if word.startswith("~"):
        pattern, flags = (word[2:], re.I) if word.startswith("~*") else (word[1:], 0)
        return bool(re.fullmatch(pattern, text, flags)) and not any(
            re.search(pattern, other, flags) for other in (f"x{text}", f"{text}x"))
    return word not in ("default", "include") and (word[1:] if word.startswith("\\") else word) == text


def version(text):
    return tuple(int(part) for part in text.split("."))


def check_block(values, nginx, placed, http, extra):
    """The http level and the server block hold what the plan intends, with the values as given."""
    v = {key[len("nginx_mtls_"):]: value for key, value in values.items()}
    names, conf, server, port = placed["names"], v["conf_dir"] or "/etc/nginx", v["server_name"], v["port"]
    nets, dns, callback = v["allowed_client_networks"], v["allowed_client_dns"], bool(v["callback_token"])
    profile, nginx_version = site_plan.PROFILES[v["tls_profile"]], version(nginx["version"])
    http2_directive = v["http2"] and nginx_version >= (1, 25, 1)
    tickets_off = nginx_version < (1, 23, 2)
    assert [s[0] for s in http] == ["geo"] * bool(nets) + ["map", "log_format"] * v["access_log"] + \
        ["map"] * bool(dns) + ["server"]
    if nets:
        assert http[0][1:] == (["$" + names["network"]], [("default", ["0"], None)] + [(n, ["1"], None) for n in nets])
    if v["access_log"]:
        assert http[bool(nets)][1] == ["$nginx_mtls_verdict", "$" + names["verdict"]]
        log_format = http[bool(nets) + 1][1]
        assert log_format[:2] == [names["log_format"], "escape=json"]
        assert sum(f'"callback":"${names["verdict"]}"' in arg for arg in log_format) == 1
    if dns:
        assert http[-2][1] == ["$ssl_client_s_dn", "$" + names["client_dn"]]
        assert http[-2][2][0] == ("default", ["0"], None) and len(http[-2][2]) == len(dns) + 1
        for (key, args, _block), dn in zip(http[-2][2][1:], dns):
            assert args == ["1"] and matches_only(key, dn), (key, dn)
    block = http[-1][2]
    if extra:
        assert block[-1 - len(extra):-1] == extra
        assert not set(directives(extra)) & ROLE_SETS, extra
    own = block[:len(block) - 1 - len(extra)] + block[-1:]
    addresses = [f"[{a}]:{port}" if ":" in a else f"{a}:{port}" for a in v["listen_addresses"]] or \
        [str(port)] + [f"[::]:{port}"] * v["listen_ipv6"]
    expected = collections.Counter(
        listen=len(addresses), http2=http2_directive, server_name=1, ssl_certificate=1, ssl_certificate_key=1,
        ssl_password_file=bool(v["private_key_passphrase"]), ssl_verify_client=1, ssl_client_certificate=1,
        ssl_verify_depth=1, ssl_crl=bool(v["crl_src"]), ssl_protocols=1, ssl_ciphers=bool(profile["ciphers"]),
        ssl_ecdh_curve=1, ssl_prefer_server_ciphers=1, ssl_session_cache=1, ssl_session_timeout=1,
        ssl_session_tickets=tickets_off, access_log=v["access_log"], js_import=callback, js_set=callback,
        include=callback, set=3 if callback else 1, location=1, **{"if": bool(nets) + bool(dns) + 2 * callback})
    assert collections.Counter(s[0] for s in own) == +expected, own
    groups = v["ecdh_curves"] or [g for g in profile["groups"]
                                  if "MLKEM" not in g or version(nginx["openssl_version"]) >= (3, 5)]
    one = {s[0]: s[1] for s in own}
    want = {"ssl_certificate": [f"{conf}/{v['certificate_name']}"], "ssl_verify_client": ["on"],
            "ssl_certificate_key": [f"{conf}/{v['private_key_name']}"], "ssl_ecdh_curve": [":".join(groups)],
            "ssl_client_certificate": [f"{conf}/{v['client_ca_name']}"],
            "ssl_verify_depth": [str(v["ssl_verify_depth"])],
            "ssl_protocols": list(v["ssl_protocols"] or profile["protocols"]),
            "ssl_prefer_server_ciphers": [profile["prefer_server_ciphers"]],
            "ssl_session_cache": [f"shared:{names['session_cache']}:10m"]}
    want.update({name: args for name, (args, wanted) in {
        "ssl_ciphers": ([profile["ciphers"]], profile["ciphers"]), "http2": (["on"], http2_directive),
        "ssl_password_file": ([f"{conf}/{server}.pass"], v["private_key_passphrase"]),
        "ssl_crl": ([f"{conf}/{v['crl_name']}"], v["crl_src"]), "ssl_session_tickets": (["off"], tickets_off),
        "access_log": ([f"/var/log/nginx/{server}.mtls.log", names["log_format"]], v["access_log"]),
        "js_import": (["nginx_mtls_callback", "from", f"{conf}/{server}.callback.js"], callback),
        "include": ([f"{conf}/{server}.callback.conf"], callback)}.items() if wanted})
    assert {name: one[name] for name in want} == want
    assert len(one["server_name"]) == 1 and matches_only(one["server_name"][0], server), one["server_name"]
    http2_flag = ["http2"] if v["http2"] and not http2_directive else []
    assert [s[1] for s in own if s[0] == "listen"] == [[address, "ssl", *http2_flag] for address in addresses]
    for name, on in (("network", nets), ("client_dn", dns)):
        assert not on or ("if", [f"${names[name]}", "=", "0"], [
            ("set", ["$nginx_mtls_verdict", name], None), ("return", ["403"], None)]) in own
    sets = [s[1] for s in own if s[0] == "set"]
    if callback:
        [sdkappid] = [args[1] for args in sets if args[0] == "$nginx_mtls_callback_sdkappid"]
        assert nginx_word(sdkappid) == v["callback_sdkappid"] and "$" not in sdkappid  # nginx expands a $ in set
        assert ["$nginx_mtls_callback_max_skew", str(v["callback_max_skew"])] in sets
    location = own[-1]
    assert location[:2] == ("location", ["/"])
    inside = [s for s in location[2] if s[0] in ("proxy_pass", "root")]
    assert inside == ([("proxy_pass", [v["backend"]], None)] if v["backend"] else [("root", [v["static_root"]], None)])


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    path = tmp_path_factory.mktemp("site_plan")
    (path / "ca.crl").write_text("CRL")
    return path


def judge(values, versions, workdir, seen):
    """Every refusal names a variable and no secret; or crossplane reads the rendered block as the plan means it."""
    site = site_plan.plan(values, search_path=[str(workdir)])
    refusals = site["refusals"]
    assert all(m.startswith(("nginx_mtls_", "Set exactly one of nginx_mtls_")) for m in refusals), refusals
    assert SECRET not in repr(site)
    assert set(site_plan.plan(values, search_path=[str(workdir)], deploy=False)["refusals"]) <= set(refusals)
    if refusals:
        seen["refused"] += 1
        return
    nginx = host(site, *versions)
    try:
        placed = site_plan.layout(site, nginx)
    except ValueError as error:  # a group the host's OpenSSL lacks: refused once the host is known
        assert str(error).startswith("nginx_mtls_ecdh_curves names "), error
        seen["refused on the host"] += 1
        return
    assert SECRET not in repr(placed)
    text = TEMPLATE.render(__nginx_mtls_layout=placed, ansible_managed="Ansible managed")
    extra, refused_alone = [], False
    for directive in site["extra_directives"]:  # crossplane's reading of each alone, in a server block
        extra += parse(workdir / "alone.conf", f"server {{\n    {directive}\n}}")[0][0][2]
        refused_alone |= bool(parse(workdir / "alone.conf", f"server {{\n    {directive}\n}}", checks=True)[1])
    # nginx -t refuses an extra directive crossplane's checks refuse: the plan leaves that to it
    errors = parse(workdir / "nginx.conf", text, checks=True)[1]
    assert not errors or refused_alone, errors
    seen["rendered, an extra directive nginx -t refuses"] += refused_alone
    http = parse(workdir / "nginx.conf", text)[0]
    check_block(values, nginx, placed, http, extra)
    seen["rendered"] += 1


def cases(strategy, examples, workdir, label):
    """Judge ``examples`` draws of ``strategy``, always the same ones; print and return how they ended."""
    seen = collections.Counter()

    @seed(20261206)
    @settings(max_examples=examples, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(values=strategy, versions=st.sampled_from(VERSIONS))
    def check(values, versions):
        seen["cases"] += 1
        judge(values, versions, workdir, seen)

    check()
    print(f"\n{label}: {seen['cases']} generated cases: {dict(seen)}")
    return seen


def test_every_variable_refused_by_name_or_rendered_as_given(workdir):
    seen = cases(role_values(), 1000, workdir, "every variable")
    assert seen["refused"] > 250 and seen["rendered"] > 250, seen


def test_extra_directives_refused_or_read_as_given(workdir):
    seen = cases(role_values(bad_fields=(), extra_directives=st.lists(
        DIRECTIVE.filter(crossplane_reads_as_nginx), min_size=1, max_size=2)), 700, workdir, "extra directives")
    assert seen["refused"] > 100 and seen["rendered"] > 100, seen
