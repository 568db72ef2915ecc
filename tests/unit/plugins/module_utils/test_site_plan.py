# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The site plan (module_utils/_site_plan.py) is the one owner of a site's names, paths and refusals.

Values reach the role from inventories, AWX surveys and CMDBs: each example here is one the plan
must refuse, naming the variable (and never a secret's value), or one it must take as it is; then
what the plan lays out on a host, by nginx's and OpenSSL's versions, and the one shape of the
nginx_mtls_deployed fact. The property test next to this file renders the template for drawn inputs.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from pathlib import Path

import jinja2.nativetypes
import pytest
import yaml

from ansible_collections.chat_callback.mtls.plugins.module_utils import _site_plan as site_plan

ROLE = Path(__file__).resolve().parents[4] / "roles" / "nginx_mtls"
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
NAME = "www.example.com"
SECRET_KEYS = {"private_key", "password_file", "callback_conf"}


def values_for(server_name=NAME, **overrides):
    """The role's variables for a site: its defaults as Ansible resolves them, the three inputs given as content."""
    env = jinja2.nativetypes.NativeEnvironment()
    values = {key: env.from_string(value).render(nginx_mtls_server_name=server_name)
              if isinstance(value, str) and "{{" in value else value for key, value in DEFAULTS.items()}
    values.update(nginx_mtls_server_name=server_name, nginx_mtls_certificate_content="CERT",
                  nginx_mtls_private_key_content="KEY", nginx_mtls_client_ca_content="CA")
    values.update({f"nginx_mtls_{name}": value for name, value in overrides.items()})
    return values


def host(site, version="1.26.0", openssl="3.0.15"):
    """nginx_site_info's answer for the plan: its file names joined to the host's directories."""
    conf = site["conf_dir"] or "/etc/nginx"
    site_dir = site["site_dir"] or f"{conf}/conf.d"
    paths = {key: os.path.join(conf, name) for key, name in site["conf_files"].items()}
    paths.update({key: os.path.join(site_dir, name) for key, name in site["site_files"].items()})
    return {"paths": paths, "site_dir": site_dir, "log_dir": "/var/log/nginx", "version": version,
            "openssl_version": openssl, "installed": True, "contents": {}}


def test_the_defaults_resolve_to_a_plan_with_no_refusal():
    assert "{{" not in repr(values_for())
    site = site_plan.plan(values_for())
    assert site["refusals"] == []
    assert site["conf_files"]["certificate"] == f"{NAME}.crt"


# (overrides, how a refusal starts, what else it says)
REFUSED = [
    ({"allowed_client_networks": ["203.0.113.0/24 1;\n    0.0.0.0/0"]}, "nginx_mtls_allowed_client_networks[0] ", ""),
    ({"backend": "http://127.0.0.1:8080; return 200"}, "nginx_mtls_backend ", ""),
    ({"static_root": "html; autoindex on"}, "nginx_mtls_static_root ", ""),
    ({"private_key_name": "../../tmp/evil.key"}, "nginx_mtls_private_key_name ", ""),
    ({"callback_max_skew": -1}, "nginx_mtls_callback_max_skew ", ""),
    ({"listen_addresses": ["127.0.0.1:443 ssl; listen 8443"]}, "nginx_mtls_listen_addresses[0] ", ""),
    ({"ssl_protocols": ["TLSv1.2; ssl_verify_client off"]}, "nginx_mtls_ssl_protocols[0] ", ""),
    ({"extra_directives": ["ssl_verify_client optional;"]}, "nginx_mtls_extra_directives[0] sets ssl_verify_client",
     "the role itself"),
    ({"server_name": "*.example.com"}, "nginx_mtls_server_name ", ""),
    ({"callback_token": "xxxxyyyy\n"}, "nginx_mtls_callback_token ", "not shown"),
    ({"callback_sdkappid": "1400000000\n"}, "nginx_mtls_callback_sdkappid ", ""),
    ({"server_name": f"{NAME} "}, "nginx_mtls_server_name ", ""),
    ({"private_key_passphrase": "correct horse\n"}, "nginx_mtls_private_key_passphrase ", "not shown"),
    ({"site_conf_name": f"{NAME}.cfg"}, "nginx_mtls_site_conf_name ", ".conf"),
    ({"certificate_name": "site.pem", "private_key_name": "site.pem"}, "nginx_mtls_certificate_name, _private_key_name",
     "different files"),
    ({"allowed_client_networks": ["10.0.0.1/8"]}, "nginx_mtls_allowed_client_networks[0] ", "host bits"),
    ({"extra_directives": ["add_header X-A b"]}, "nginx_mtls_extra_directives[0] ", "does not end in ;"),
    ({"extra_directives": ["location /x { return 200;"]}, "nginx_mtls_extra_directives[0] ", "without its }"),
    ({"extra_directives": ['"ssl_protocols" TLSv1;']}, "nginx_mtls_extra_directives[0] sets ssl_protocols",
     "nginx_mtls_ssl_protocols"),
    ({"extra_directives": ["location /x { ssl_verify_client off; }"]},
     "nginx_mtls_extra_directives[0] sets ssl_verify_client", ""),
]


@pytest.mark.parametrize(("overrides", "start", "says"), REFUSED, ids=[repr(case[0])[:60] for case in REFUSED])
def test_refused_naming_the_variable(overrides, start, says):
    site = site_plan.plan(values_for(**overrides))
    assert [m for m in site["refusals"] if m.startswith(start) and says in m], site["refusals"]
    assert "id" not in site and "conf_files" not in site


@pytest.mark.parametrize(("variable", "secret"), [("callback_token", "xxxxyyyy\n"),
                                                  ("private_key_passphrase", "correct horse\n")])
def test_a_refused_secret_is_never_shown(variable, secret):
    site = site_plan.plan(values_for(**{variable: secret}))
    assert site["refusals"]
    assert secret.strip() not in repr(site)


def test_the_plan_and_layout_never_hold_a_secret():
    site = site_plan.plan(values_for(callback_token="tok-S3CRET", private_key_passphrase="pass S3CRET"))
    assert site["refusals"] == [] and site["callback"] and site["passphrase"]
    assert "S3CRET" not in repr(site) + repr(site_plan.layout(site, host(site)))


@pytest.mark.parametrize("overrides", [
    {"backend": "http://127.0.0.1:8080"}, {"backend": "https://[::1]:8443/cb"},
    {"backend": "http://unix:/run/app.sock:"}, {"backend": "http://app_upstream"},
    {"extra_directives": ['location /health { return 200 "ok"; }']},
    {"extra_directives": ['add_header X-A "${host}x";']},
    {"allowed_client_networks": ["2001:db8::/32", "::1", "fd00::/8"]},
    {"server_name": "x" * 48 + ".example.com"},
], ids=repr)
def test_accepted(overrides):
    site = site_plan.plan(values_for(**overrides))
    assert site["refusals"] == []
    assert site["id"]


def hostname(length):
    """A valid host name of ``length`` characters: labels of 63, a dot between."""
    return ".".join(["a" * 63] * 4)[:length]


def test_names_that_differ_only_in_punctuation_get_different_ids():
    ids = [site_plan.plan(values_for(name))["id"] for name in ("api-v2.example.com", "api.v2.example.com")]
    assert ids[0] != ids[1]


def test_an_id_is_short_whatever_the_names_length():
    ids = {site_plan.site_id(hostname(length)) for length in range(1, 254)}
    assert len(ids) == 253
    assert max(map(len, ids)) <= 17


@pytest.mark.parametrize("length", [1, 63, 65, 239])
def test_the_blocks_http_level_names_stay_short(length):
    # a long name gives long default file names: name the files
    site = site_plan.plan(values_for(hostname(length), certificate_name="site.crt", private_key_name="site.key",
                                     site_conf_name="site.conf"))
    assert site["refusals"] == []
    names = site_plan.layout(site, host(site))["names"].values()
    assert all(re.fullmatch(r"nginx_mtls_[a-z0-9_]+", name) for name in names)
    assert max(len(name) for name in names) <= 40


def test_a_server_name_longer_than_its_files_names_can_be_is_refused():
    # nginx_mtls_<name>.prom must fit in a file name of 255 characters
    [refusal] = site_plan.plan(values_for(hostname(240), certificate_name="site.crt", private_key_name="site.key",
                                          site_conf_name="site.conf"))["refusals"]
    assert refusal.startswith("nginx_mtls_server_name must be one host name") and "at most 239" in refusal


def test_a_group_the_hosts_openssl_lacks_is_refused_on_the_host():
    site = site_plan.plan(values_for(ecdh_curves=["X25519MLKEM768", "X25519"]))
    assert site["refusals"] == []
    with pytest.raises(ValueError, match=r"^nginx_mtls_ecdh_curves names X25519MLKEM768, .*\(3\.0\.15\)"):
        site_plan.layout(site, host(site, openssl="3.0.15"))
    assert site_plan.layout(site, host(site, openssl="3.5.1"))["tls"]["groups"] == "X25519MLKEM768:X25519"


def test_a_relative_src_is_found_in_src_dirs_then_files_then_the_search_path(tmp_path):
    src_dir, search = tmp_path / "cwd", tmp_path / "role"
    candidates = [src_dir / "site.crt", search / "files" / "site.crt", search / "site.crt"]
    for candidate in candidates:
        candidate.parent.mkdir(parents=True, exist_ok=True)
        candidate.write_text("PEM")
    values = values_for(certificate_src="site.crt", certificate_content="", src_dirs=[str(src_dir)])
    for candidate in candidates:
        site = site_plan.plan(values, search_path=[str(search)])
        assert site["refusals"] == []
        assert site["sources"]["certificate"] == str(candidate)
        candidate.unlink()
    [refusal] = site_plan.plan(values, search_path=[str(search)])["refusals"]
    assert refusal.startswith("nginx_mtls_certificate_src")
    assert refusal.endswith(f"Looked in {src_dir}, {search / 'files'}, {search}.")


def test_inspect_applies_only_the_rules_of_names_paths_and_addresses():
    values = values_for(certificate_content="", private_key_content="", client_ca_content="",
                        backend="http://a b", callback_max_skew=-1, extra_directives=["ssl_verify_client off;"])
    deployed = " ".join(site_plan.plan(values)["refusals"])
    for refused in ("of nginx_mtls_certificate_src", "nginx_mtls_backend ", "nginx_mtls_callback_max_skew ",
                    "nginx_mtls_extra_directives[0] "):
        assert refused in deployed
    site = site_plan.plan(values, deploy=False)
    assert site["refusals"] == []
    assert site["conf_files"]["certificate"] == f"{NAME}.crt"
    [refusal] = site_plan.plan(dict(values, nginx_mtls_listen_addresses=["::1 ssl"]), deploy=False)["refusals"]
    assert refusal.startswith("nginx_mtls_listen_addresses[0] ")


@pytest.mark.parametrize(("overrides", "added"), [
    ({}, set()),
    ({"private_key_passphrase": "pass"}, {"password_file"}),
    ({"crl_src": __file__}, {"crl"}),
    ({"callback_token": "tok"}, {"callback_js", "callback_conf"}),
], ids=["plain", "passphrase", "crl", "callback"])
def test_the_files_written_and_their_modes(overrides, added):
    site = site_plan.plan(values_for(**overrides))
    files = site_plan.layout(site, host(site))["files"]
    assert {f["key"] for f in files} == {"certificate", "private_key", "client_ca", "site_conf"} | added
    assert {f["key"] for f in files if f["secret"]} == SECRET_KEYS & {f["key"] for f in files}
    assert all(f["mode"] == ("0600" if f["secret"] else "0644") for f in files)


def test_the_secret_files_and_their_contents():
    site = site_plan.plan(values_for(private_key_passphrase="pass phrase", callback_token="tok-en", crl_src=__file__))
    contents = {"certificate": "CERT", "private_key": "KEY", "client_ca": "CA", "crl": "CRL", "callback_js": "JS",
                "site_conf": "BLOCK", "passphrase": "pass phrase", "token": "tok-en"}
    placed = site_plan.layout(site, host(site), contents)
    paths = placed["paths"]
    secret = {entry["path"]: entry for entry in placed["secret_files"]}
    assert set(secret) == {paths[key] for key in SECRET_KEYS}
    assert {entry["mode"] for entry in secret.values()} == {"0600"}
    assert secret[paths["private_key"]]["content"] == "KEY"
    assert secret[paths["password_file"]]["content"] == "pass phrase\n"
    assert secret[paths["callback_conf"]]["content"] == 'set $nginx_mtls_callback_token "tok-en";\n'
    public = {entry["path"]: entry["content"] for entry in placed["public_files"]}
    assert public == {paths["certificate"]: "CERT", paths["client_ca"]: "CA", paths["crl"]: "CRL",
                      paths["callback_js"]: "JS", paths["site_conf"]: "BLOCK"}


@pytest.mark.parametrize(("openssl", "hybrid"), [("3.0.15", False), ("3.4.1", False), ("3.5.0", True), ("3.5.1", True)])
def test_the_hybrid_group_only_where_openssl_has_it(openssl, hybrid):
    site = site_plan.plan(values_for())
    groups = site_plan.layout(site, host(site, openssl=openssl))["tls"]["groups"].split(":")
    assert ("X25519MLKEM768" in groups) is hybrid
    assert groups[-3:] == ["X25519", "prime256v1", "secp384r1"]


@pytest.mark.parametrize(("version", "off"), [("1.22.1", True), ("1.23.1", True), ("1.23.2", False), ("1.26.0", False)])
def test_session_tickets_off_before_nginx_rotates_their_keys(version, off):
    site = site_plan.plan(values_for())
    assert site_plan.layout(site, host(site, version=version))["tls"]["tickets_off"] is off


@pytest.mark.parametrize(("version", "http2", "listen", "directive"), [
    ("1.25.0", True, ["443 ssl http2", "[::]:443 ssl http2"], False),
    ("1.25.1", True, ["443 ssl", "[::]:443 ssl"], True),
    ("1.26.0", False, ["443 ssl", "[::]:443 ssl"], False),
])
def test_http2_by_nginx_version(version, http2, listen, directive):
    site = site_plan.plan(values_for(http2=http2))
    placed = site_plan.layout(site, host(site, version=version))
    assert placed["listen"] == listen
    assert placed["http2_directive"] is directive


def test_deployed_has_the_same_keys_after_inspect_and_main():
    inspected = site_plan.plan(values_for(), deploy=False)
    nginx = host(inspected)
    nginx["contents"] = {nginx["paths"]["certificate"]: "PEM"}
    found = {"certificate": {"subject": f"CN={NAME}"}, "client_cas": [{}], "problems": []}
    shapes = [site_plan.deployed(inspected, nginx, check=found),
              site_plan.deployed(inspected, host(inspected), check={"skipped": True}),
              site_plan.deployed(site_plan.plan(values_for()), nginx, proven=found)]
    assert shapes[0].keys() == shapes[1].keys() == shapes[2].keys()
    assert [shape["exists"] for shape in shapes] == [True, False, True]
    assert shapes[0]["certificate"] == shapes[2]["certificate"] == found["certificate"]


@pytest.mark.parametrize(("check", "error"), [
    ({"failed": True, "msg": "cryptography is missing"}, "cryptography is missing"),
    ({"failed": True, "msg": "1 problem", "problems": [{"code": "expired"}]}, ""),
    ({"msg": "", "certificate": {"subject": "CN=x"}}, ""),
    ({"msg": "parsed", "certificate": {"subject": "CN=x"}}, ""),
    ({"skipped": True}, ""),
    ({"skipped": True, "msg": "skipped"}, ""),
    (None, ""),
])
def test_check_error_only_when_cert_check_judged_nothing(check, error):
    site = site_plan.plan(values_for(), deploy=False)
    assert site_plan.deployed(site, host(site), check=check)["check_error"] == error
    assert site_plan.deployed(site, host(site), proven=check or {})["check_error"] == ""


def map_source(key):
    """What nginx's map matches $ssl_client_s_dn with for a rendered key: ("regex" or "iregex", pattern), or
    ("exact", text).

    nginx unescapes a quoted word, reads a key default or include as its keyword (None here), a ~ key as a
    regex (~* caseless), and drops a leading backslash (its escape of a keyword) from any other.
    """
    word = re.sub(r"\\(.)", r"\1", key[1:-1]) if key.startswith('"') else key
    if word in ("default", "include"):
        return None
    if word.startswith("~"):
        return ("iregex", word[2:]) if word.startswith("~*") else ("regex", word[1:])
    return "exact", word[1:] if word.startswith("\\") else word


@pytest.mark.parametrize("dn", ["CN=client.example.com,O=Example Corp", "default", "include", "\\CN=x",
                                'CN=a "b" \\c $d {e}; #f', "CN=Jörg,O=" + "x" * 80])
def test_an_exact_dn_is_the_key_nginx_matches_it_with(dn):
    site = site_plan.plan(values_for(allowed_client_dns=[dn]))
    assert site["refusals"] == []
    [key] = site_plan.layout(site, host(site))["client_dn_keys"]
    source = map_source(key)
    if source and source[0] != "exact":
        pattern, flags = source[1], re.I if source[0] == "iregex" else 0
        assert re.fullmatch(pattern, dn, flags)
        assert not any(re.search(pattern, other, flags) for other in (f"x{dn}", f"{dn}x"))
    else:
        assert source == ("exact", dn)


def test_a_dn_regex_is_kept_as_given():
    site = site_plan.plan(values_for(allowed_client_dns=["~^CN=[a-z]+\\.example\\.com$", "~*^cn=a"]))
    keys = site_plan.layout(site, host(site))["client_dn_keys"]
    assert [map_source(key) for key in keys] == [("regex", "^CN=[a-z]+\\.example\\.com$"), ("iregex", "^cn=a")]


@pytest.mark.parametrize("length", [1, 46, 47, 60, 239])
def test_the_server_name_nginx_matches_is_the_name_only(length):
    name = hostname(length)  # nginx's default names hash holds an exact name of at most 46 characters
    site = site_plan.plan(values_for(name, certificate_name="site.crt", private_key_name="site.key",
                                     site_conf_name="site.conf"))
    match = site_plan.layout(site, host(site))["server_name_match"]
    if match.startswith("~"):  # a regex nginx matches the lowercased Host with
        assert re.fullmatch(match[1:], name)
        others = [f"x{name}", f"{name}x"] + [name.replace(".", "x", 1)] * ("." in name)
        assert not any(re.search(match[1:], other) for other in others)
    else:
        assert match == name


# nginx splits words on space, tab, CR and LF only: to it a '#' after U+00A0 is no comment.
@pytest.mark.parametrize("space", ["\u00a0", "\x0b", "\x1c", "\u2028"], ids=repr)
def test_whitespace_nginx_does_not_know_hides_no_directive(space):
    # nginx reads `add_header X-A "a<space>#"; listen 8080; add_header X-B b;`: a plain-HTTP listener
    smuggled = f"add_header X-A a{space}#; listen 8080; add_header X-B\n b;"
    assert site_plan.plan(values_for(extra_directives=[smuggled]))["refusals"]


# ipaddress takes any text after an IPv6 '%' (a scope id); nginx refuses a scope in listen and geo.
@pytest.mark.parametrize("overrides", [
    {"listen_addresses": ["fe80::1%x]:443 ssl; listen 8080; listen [::1"]},
    {"allowed_client_networks": ["::%x 1;\n    128.0.0.0/1"]},
], ids=["listen", "network"])
def test_an_ipv6_scope_id_carries_no_directive(overrides):
    assert site_plan.plan(values_for(**overrides))["refusals"]


def test_values_given_as_extra_vars_strings_are_typed_as_the_argument_spec_says():
    # ansible-playbook -e nginx_mtls_port=8443 -e nginx_mtls_access_log=false gives strings
    site = site_plan.plan(values_for(port="8443", access_log="false", probe="no", callback_max_skew="30"))
    assert site["refusals"] == []
    assert (site["port"], site["access_log"], site["probe"], site["callback_max_skew"]) == (8443, False, False, 30)
    [refusal] = site_plan.plan(values_for(port="8443; listen 80"))["refusals"]
    assert refusal.startswith("nginx_mtls_port must be a whole number from 1 to 65535")


def test_secret_digests_are_keyed_anew_each_time_and_only_for_the_secret_files_written():
    site = site_plan.plan(values_for(private_key_passphrase="hunter2", callback_token="tok",
                                     callback_sdkappid="1400000000"))
    contents = {"private_key": "KEY", "passphrase": "hunter2", "token": "tok"}
    first, second = site_plan.secret_digests(site, contents), site_plan.secret_digests(site, contents)
    assert set(first["digests"]) == {"private_key", "password_file", "callback_conf"} == set(site["no_checksum"])
    assert first["key"] != second["key"] and first["digests"] != second["digests"]
    key = bytes.fromhex(first["key"])
    placed = site_plan.layout(site, host(site), dict(contents, certificate="C", client_ca="CA", site_conf="S",
                                                     callback_js="J"))
    name_of = {path: name for name, path in placed["paths"].items()}
    written = {name_of[f["path"]]: f["content"] for f in placed["secret_files"]}
    for name, content in written.items():  # the digest is of exactly what site_files writes
        assert first["digests"][name] == hmac.new(key, content.encode(), hashlib.sha256).hexdigest()
    assert set(site_plan.secret_digests(site_plan.plan(values_for()), {"private_key": "KEY"})["digests"]) == {
        "private_key"}
