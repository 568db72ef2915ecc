# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Unit tests of plugins/module_utils/cert_checks.py (no Ansible involved)."""

from __future__ import annotations

import datetime
import io
import json
import re
import sys
import zipfile
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # tests/ for "import pki"

import pki  # noqa: E402
from ansible_collections.chat_callback.mtls.plugins.module_utils import _cert_verify  # noqa: E402
from ansible_collections.chat_callback.mtls.plugins.module_utils import cert_checks as cc  # noqa: E402
from ansible_collections.chat_callback.mtls.plugins.module_utils.fingerprint import sha256_fingerprint  # noqa: E402

SERVER_NAME = "www.example.com"
PASSPHRASE = "correct horse battery staple 7f3a"


# ---------------------------------------------------------------------------
# fixtures: one PKI per session (RSA key generation is slow)
# ---------------------------------------------------------------------------

class PKI:
    pass


@pytest.fixture(scope="session")
def p():
    s = PKI()
    s.root = pki.make_ca("Unit Root CA", key=pki.cached_key("root"))
    s.inter = pki.make_ca("Unit Intermediate CA", issuer=s.root, path_length=0, key=pki.cached_key("inter"))
    s.leaf = pki.make_leaf(s.inter, SERVER_NAME, sans=[SERVER_NAME], key=pki.cached_key("leaf"))
    s.client_ca = pki.make_ca("TencentQQAuthCA", key_type="ec")
    s.other_ca = pki.make_ca("Other CA", key_type="ec")
    s.chain_pem = s.leaf.cert_pem() + s.inter.cert_pem()
    return s


def run(p, cert=None, key=None, ca=None, *, server_name=SERVER_NAME, now=None, **params):
    """check_params with PEM contents; returns (facts, codes, problems, warnings)."""
    args = {
        "certificate_content": (p.chain_pem if cert is None else cert),
        "private_key_content": (p.leaf.key_pem() if key is None else key),
        "client_ca_content": (p.client_ca.cert_pem() if ca is None else ca),
        "server_name": server_name,
    }
    args.update(params)
    for name, value in list(args.items()):
        if isinstance(value, bytes):
            args[name] = value.decode("utf-8")
    warnings = []
    facts, problems = cc.check_params(args, warnings=warnings, now=now)
    return facts, [x.code for x in problems], problems, warnings


def messages(problems):
    return " | ".join(x.message for x in problems)


# ---------------------------------------------------------------------------
# the good bundle and its facts
# ---------------------------------------------------------------------------

def test_good_bundle_facts(p):
    facts, codes, problems, warnings = run(p)
    assert codes == [], messages(problems)
    assert warnings == []
    cert = facts["certificate"]
    assert cert["subject"] == p.leaf.cert.subject.rfc4514_string()
    assert cert["issuer"] == p.inter.cert.subject.rfc4514_string()
    assert int(cert["serial"], 16) == p.leaf.cert.serial_number
    assert cert["serial"] == cert["serial"].upper()
    assert cert["not_after"] == p.leaf.cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", cert["not_before"])
    assert cert["days_remaining"] == 364  # make_leaf: now + 365 days, floor of what is left
    assert cert["sans"] == [SERVER_NAME]
    assert cert["sha256_fingerprint"] == sha256_fingerprint(p.leaf.cert_der())
    assert (cert["key_type"], cert["key_size"]) == ("RSA", 2048)
    assert cert["chain_length"] == 2
    assert cert["signature_hash"] == "sha256"
    assert facts["certificate_pem"] == p.chain_pem.decode()
    assert facts["client_ca_pem"] == p.client_ca.cert_pem().decode()
    assert facts["client_cas"] == [{
        "subject": p.client_ca.cert.subject.rfc4514_string(),
        "not_after": p.client_ca.cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "sha256_fingerprint": sha256_fingerprint(p.client_ca.cert_der()),
    }]
    assert facts["server_chain_verified"] is False
    assert facts["private_key_encrypted"] is False


def test_pem_text_returned_exactly_as_read(p, tmp_path):
    # CRLF line ends and text around the blocks are kept byte for byte
    text = ("subject=CN = www.example.com\r\n" + p.chain_pem.decode().replace("\n", "\r\n")).encode()
    path = tmp_path / "chain.crt"
    path.write_bytes(text)
    facts, codes, problems = run(p, certificate_content=None, certificate=str(path))[:3]
    assert codes == [], messages(problems)
    assert facts["certificate_pem"].encode() == text


def test_check_bundle_accepts_bytes(p):
    facts, problems = cc.check_bundle(p.chain_pem, p.leaf.key_pem(), p.client_ca.cert_pem(), SERVER_NAME)
    assert problems == []
    assert facts["certificate"]["chain_length"] == 2


# ---------------------------------------------------------------------------
# key types and formats
# ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("key_type", "fmt", "expected"),
    [
        ("rsa", "pkcs1", ("RSA", 2048, "BEGIN RSA PRIVATE KEY")),
        ("rsa", "pkcs8", ("RSA", 2048, "BEGIN PRIVATE KEY")),
        ("ec", "pkcs1", ("EC", 256, "BEGIN EC PRIVATE KEY")),  # SEC1
        ("ec", "pkcs8", ("EC", 256, "BEGIN PRIVATE KEY")),
        ("ed25519", "pkcs8", ("Ed25519", 256, "BEGIN PRIVATE KEY")),
        ("ed448", "pkcs8", ("Ed448", 448, "BEGIN PRIVATE KEY")),
    ],
)
def test_key_types_and_formats(p, key_type, fmt, expected):
    key = pki.cached_key("leaf", key_type=key_type)
    leaf = pki.make_leaf(p.inter, SERVER_NAME, sans=[SERVER_NAME], key=key)
    key_pem = leaf.key_pem(fmt=fmt)
    assert expected[2] in key_pem.decode()
    facts, codes, problems = run(p, cert=leaf.cert_pem() + p.inter.cert_pem(), key=key_pem)[:3]
    assert codes == [], messages(problems)
    assert (facts["certificate"]["key_type"], facts["certificate"]["key_size"]) == expected[:2]


def test_ec_p384_key_size(p):
    leaf = pki.make_leaf(p.inter, SERVER_NAME, sans=[SERVER_NAME], key_type="ec", curve="secp384r1")
    facts, codes = run(p, cert=leaf.cert_pem(), key=leaf.key_pem())[:2]
    assert codes == []
    assert facts["certificate"]["key_size"] == 384


@pytest.mark.parametrize("fmt", ["pkcs8", "pkcs1"])
def test_encrypted_key_right_passphrase(p, fmt):
    key_pem = p.leaf.key_pem(passphrase=PASSPHRASE.encode(), fmt=fmt)
    assert b"ENCRYPTED" in key_pem
    facts, codes, problems = run(p, key=key_pem, private_key_passphrase=PASSPHRASE)[:3]
    assert codes == [], messages(problems)
    assert facts["private_key_encrypted"] is True


@pytest.mark.parametrize("fmt", ["pkcs8", "pkcs1"])
def test_encrypted_key_wrong_passphrase(p, fmt):
    key_pem = p.leaf.key_pem(passphrase=PASSPHRASE.encode(), fmt=fmt)
    codes, problems = run(p, key=key_pem, private_key_passphrase="wrong-passphrase-123")[1:3]
    assert codes == ["passphrase_wrong"]
    assert "private_key_content" in problems[0].message
    assert "wrong-passphrase-123" not in problems[0].message


@pytest.mark.parametrize("passphrase", [None, ""])
def test_encrypted_key_missing_passphrase(p, passphrase):
    key_pem = p.leaf.key_pem(passphrase=PASSPHRASE.encode())
    codes, problems = run(p, key=key_pem, private_key_passphrase=passphrase)[1:3]
    assert codes == ["passphrase_required"]
    assert "private_key_passphrase" in problems[0].message


def test_passphrase_for_plain_key_only_warns(p):
    facts, codes, problems, warnings = run(p, private_key_passphrase=PASSPHRASE)
    assert codes == []
    assert any("not encrypted" in w for w in warnings)


def test_key_mismatch(p):
    other = pki.make_leaf(p.inter, SERVER_NAME, sans=[SERVER_NAME], key=pki.cached_key("other"))
    codes, problems = run(p, key=other.key_pem())[1:3]
    assert codes == ["key_mismatch"]
    assert "private_key_content does not belong to the certificate" in problems[0].message


def test_key_mismatch_other_type(p):
    codes, problems = run(p, key=pki.Issued(p.leaf.cert, pki.cached_key("x", "ec")).key_pem())[1:3]
    assert codes == ["key_mismatch"]
    assert "RSA 2048" in problems[0].message and "EC 256" in problems[0].message


def test_key_with_right_public_half_but_corrupt_private_half(p):
    # OpenSSL re-checks a CRT result and falls back to d: both have to be wrong for a bad signature
    numbers = p.leaf.key.private_numbers()
    broken = rsa.RSAPrivateNumbers(
        p=numbers.p, q=numbers.q, d=numbers.d ^ 0x10, dmp1=numbers.dmp1 ^ 0x10, dmq1=numbers.dmq1,
        iqmp=numbers.iqmp, public_numbers=numbers.public_numbers,
    ).private_key(unsafe_skip_rsa_key_validation=True)
    key_pem = broken.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                   serialization.NoEncryption())
    codes = run(p, key=key_pem)[1]
    assert codes == ["key_corrupt"]


def test_key_file_holding_a_certificate(p):
    codes = run(p, key=p.leaf.cert_pem())[1]
    assert codes == ["no_private_key"]


def test_two_keys_in_key_file(p):
    codes = run(p, key=p.leaf.key_pem() + p.leaf.key_pem())[1]
    assert codes == ["multiple_private_keys"]


def test_openssh_key(p):
    blob = b"-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"
    codes, problems = run(p, key=blob)[1:3]
    assert codes == ["key_parse_error"]
    assert "OpenSSH" in problems[0].message


def test_garbage_key_block(p):
    blob = b"-----BEGIN PRIVATE KEY-----\nTUlJQ2VRSUJBREFOQmdrcWhraUc5dzBCQVFFRkFBU0NBbU13Z2dKZkFnRUFBb0dCQU1\n" \
           b"-----END PRIVATE KEY-----\n"
    codes, problems = run(p, key=blob)[1:3]
    assert codes == ["key_parse_error"]
    assert "TUlJQ2VR" not in problems[0].message


# ---------------------------------------------------------------------------
# no private key: audits check deployed certificates without fetching their key
# ---------------------------------------------------------------------------

def test_certificate_and_client_ca_without_key(p):
    facts, codes, problems, warnings = run(p, private_key_content=None)
    assert codes == [], messages(problems)
    assert warnings == []
    # the public facts come from the certificate alone
    assert (facts["certificate"]["key_type"], facts["certificate"]["key_size"]) == ("RSA", 2048)
    assert facts["certificate"]["sha256_fingerprint"] == sha256_fingerprint(p.leaf.cert_der())
    assert facts["certificate_pem"] == p.chain_pem.decode()
    assert len(facts["client_cas"]) == 1
    assert "private_key_encrypted" not in facts  # no key was read


def test_ec_certificate_without_key_reports_its_key(p):
    leaf = pki.make_leaf(p.inter, SERVER_NAME, sans=[SERVER_NAME], key_type="ec", curve="secp384r1")
    facts, codes = run(p, cert=leaf.cert_pem() + p.inter.cert_pem(), private_key_content=None)[:2]
    assert codes == []
    assert (facts["certificate"]["key_type"], facts["certificate"]["key_size"]) == ("EC", 384)


def test_without_key_the_other_checks_still_run(p):
    leaf = pki.make_leaf(p.inter, "old.example.org", sans=["old.example.org"], key=p.leaf.key, days_valid=-1)
    facts, codes = run(p, cert=leaf.cert_pem() + p.inter.cert_pem(), ca=p.leaf.cert_pem(),
                       private_key_content=None)[:2]
    assert codes == ["expired", "name_mismatch", "client_ca_not_ca"]
    assert facts["certificate"]["days_remaining"] < 0


def test_key_of_another_certificate_is_still_caught_when_given(p):
    # the optional key must not have made the key check optional when a key is given
    other = pki.make_leaf(p.inter, SERVER_NAME, sans=[SERVER_NAME], key=pki.cached_key("other"))
    assert run(p, key=other.key_pem())[1] == ["key_mismatch"]


def test_passphrase_without_key_is_a_problem(p):
    codes, problems = run(p, private_key_content=None, private_key_passphrase=PASSPHRASE)[1:3]
    assert codes == ["passphrase_without_key"]
    assert "private_key_passphrase is set but no private key is given" in problems[0].message
    assert PASSPHRASE not in problems[0].message


def test_empty_passphrase_without_key_is_no_passphrase(p):
    # an empty passphrase is how templates say "none" (and how load_private_key reads it)
    assert run(p, private_key_content=None, private_key_passphrase="")[1] == []


def test_missing_key_file_is_not_the_same_as_no_key(p, tmp_path):
    codes, problems = run(p, private_key_content=None, private_key=str(tmp_path / "gone.key"),
                          private_key_passphrase=PASSPHRASE)[1:3]
    assert codes == ["file_missing"]
    assert str(tmp_path / "gone.key") in problems[0].message


def test_check_bundle_without_key(p):
    facts, problems = cc.check_bundle(p.chain_pem, None, p.client_ca.cert_pem(), SERVER_NAME)
    assert problems == []
    assert facts["certificate"]["key_type"] == "RSA"
    facts, problems = cc.check_bundle(p.chain_pem, None, p.client_ca.cert_pem(), SERVER_NAME,
                                      private_key_passphrase=PASSPHRASE)
    assert [x.code for x in problems] == ["passphrase_without_key"]


# ---------------------------------------------------------------------------
# file and content handling
# ---------------------------------------------------------------------------

def test_missing_files_named(p, tmp_path):
    codes, problems = run(
        p, certificate_content=None, certificate=str(tmp_path / "nope.crt"),
        private_key_content=None, private_key=str(tmp_path / "nope.key"),
        client_ca_content=None, client_ca=str(tmp_path / "nope-ca.crt"),
    )[1:3]
    assert codes == ["file_missing", "file_missing", "file_missing"]
    assert str(tmp_path / "nope.key") in problems[1].message
    assert problems[2].message.startswith("client_ca (")


def test_directory_is_unreadable(p, tmp_path):
    codes = run(p, certificate_content=None, certificate=str(tmp_path))[1]
    assert codes == ["file_unreadable"]


@pytest.mark.parametrize("data", [b"", b"\n  \n"])
def test_empty_files(p, tmp_path, data):
    for name in ("c.crt", "k.key", "ca.crt"):
        (tmp_path / name).write_bytes(data)
    codes, problems = run(
        p, certificate_content=None, certificate=str(tmp_path / "c.crt"),
        private_key_content=None, private_key=str(tmp_path / "k.key"),
        client_ca_content=None, client_ca=str(tmp_path / "ca.crt"),
    )[1:3]
    assert codes == ["empty", "empty", "empty"]
    assert "is empty" in problems[0].message


def test_der_certificate_key_and_ca(p, tmp_path):
    (tmp_path / "c.der").write_bytes(p.leaf.cert_der())
    (tmp_path / "k.der").write_bytes(p.leaf.key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    (tmp_path / "ca.cer").write_bytes(p.client_ca.cert_der())
    codes, problems = run(
        p, certificate_content=None, certificate=str(tmp_path / "c.der"),
        private_key_content=None, private_key=str(tmp_path / "k.der"),
        client_ca_content=None, client_ca=str(tmp_path / "ca.cer"),
    )[1:3]
    assert codes == ["der_not_pem", "der_not_pem", "der_not_pem"]
    assert "openssl x509 -inform der -in " + str(tmp_path / "c.der") in problems[0].message
    assert "openssl pkey -inform der" in problems[1].message
    assert "DER" in problems[2].message


def test_too_large_file_and_content(p, tmp_path):
    big = p.chain_pem + b"#" * (cc.MAX_INPUT_SIZE + 1)
    (tmp_path / "big.crt").write_bytes(big)
    codes, problems = run(p, certificate_content=None, certificate=str(tmp_path / "big.crt"),
                          client_ca_content=big.decode())[1:3]
    assert codes == ["too_large", "too_large"]
    assert "1 MiB" in problems[0].message


def test_exactly_one_mib_is_accepted(p):
    padded = p.chain_pem + b"\n" * (cc.MAX_INPUT_SIZE - len(p.chain_pem))
    assert len(padded) == cc.MAX_INPUT_SIZE
    codes = run(p, cert=padded)[1]
    assert codes == []


def test_not_pem_and_bare_base64(p):
    codes, problems = run(p, cert="hello world, no certificate here")[1:3]
    assert codes == ["not_pem"]
    bare = b"".join(p.client_ca.cert_pem().splitlines()[1:-1])
    codes, problems = run(p, ca=bare)[1:3]
    assert codes == ["not_pem"]
    assert "BEGIN" in problems[0].message


def test_certificate_does_not_parse(p):
    broken = b"-----BEGIN CERTIFICATE-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAu1SU1LfVLPHCozMxH2Mo\n" \
             b"-----END CERTIFICATE-----\n"
    codes, problems = run(p, cert=broken)[1:3]
    assert codes == ["cert_parse_error"]
    assert "certificate #1" in problems[0].message


def test_key_file_given_as_certificate_is_not_echoed(p):
    key_pem = p.leaf.key_pem()
    facts, codes, problems = run(p, cert=key_pem)[:3]
    assert codes == ["private_key_in_file", "no_certificate"]
    assert "certificate_pem" not in facts
    blob = json.dumps([facts, [list(x) for x in problems]])
    fragments = pki.secret_fragments(key_pem, p.chain_pem)
    assert len(fragments) > 10
    for line in fragments:
        assert line not in blob


def test_certificate_file_with_key_inside(p):
    facts, codes = run(p, cert=p.chain_pem + p.leaf.key_pem())[:2]
    assert codes == ["private_key_in_file"]
    assert "certificate_pem" not in facts


# ---------------------------------------------------------------------------
# ZIP archives (the vendor ships TencentQQAuthCA.crt.zip)
# ---------------------------------------------------------------------------

def make_zip(path, members):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members:
            zf.writestr(name, data)
    path.write_bytes(buf.getvalue())
    return str(path)


def test_zip_with_one_certificate(p, tmp_path):
    zpath = make_zip(tmp_path / "TencentQQAuthCA.crt.zip",
                     [("TencentQQAuthCA.crt", p.client_ca.cert_pem()), ("readme.txt", b"hi")])
    facts, codes, problems = run(p, client_ca_content=None, client_ca=zpath)[:3]
    assert codes == [], messages(problems)
    assert facts["client_ca_pem"] == p.client_ca.cert_pem().decode()


def test_zip_without_certificate(p, tmp_path):
    zpath = make_zip(tmp_path / "ca.zip", [("readme.txt", b"hi")])
    codes, problems = run(p, client_ca_content=None, client_ca=zpath)[1:3]
    assert codes == ["zip_no_certificate"]
    assert "readme.txt" in problems[0].message


def test_zip_with_two_certificates(p, tmp_path):
    zpath = make_zip(tmp_path / "ca.zip", [("a/one.crt", p.client_ca.cert_pem()), ("two.pem", p.other_ca.cert_pem())])
    codes, problems = run(p, client_ca_content=None, client_ca=zpath)[1:3]
    assert codes == ["zip_multiple_certificates"]
    assert "a/one.crt" in problems[0].message and "two.pem" in problems[0].message


def test_zip_with_der_member(p, tmp_path):
    zpath = make_zip(tmp_path / "ca.zip", [("TencentQQAuthCA.cer", p.client_ca.cert_der())])
    codes, problems = run(p, client_ca_content=None, client_ca=zpath)[1:3]
    assert codes == ["der_not_pem"]
    assert "member TencentQQAuthCA.cer" in problems[0].message


def test_not_a_zip_named_zip(p, tmp_path):
    path = tmp_path / "TencentQQAuthCA.crt.zip"
    path.write_bytes(b"this is not a zip archive")
    codes = run(p, client_ca_content=None, client_ca=str(path))[1]
    assert codes == ["zip_invalid"]


def test_corrupt_zip(p, tmp_path):
    path = tmp_path / "ca.zip"
    path.write_bytes(b"PK\x03\x04" + b"\x00" * 40)
    codes = run(p, client_ca_content=None, client_ca=str(path))[1]
    assert codes == ["zip_invalid"]


# ---------------------------------------------------------------------------
# server name (RFC 6125)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("pattern", "hostname", "expected"),
    [
        ("www.example.com", "www.example.com", True),
        ("www.example.com", "WWW.Example.COM", True),
        ("www.example.com", "www.example.com.", True),
        ("*.example.com", "www.example.com", True),
        ("*.EXAMPLE.com", "api.example.COM", True),
        ("*.example.com", "example.com", False),
        ("*.example.com", "a.b.example.com", False),
        ("*.example.com", ".example.com", False),
        ("w*.example.com", "www.example.com", False),
        ("*w.example.com", "www.example.com", False),
        ("www.*.com", "www.example.com", False),
        ("*.com", "example.com", False),
        ("*", "localhost", False),
        ("xn--bcher-kva.example", "xn--bcher-kva.example", True),
        ("xn--bcher-kva.example", "bücher.example", True),
        ("*.xn--bcher-kva.example", "shop.xn--bcher-kva.example", True),
        ("example.com", "www.example.com", False),
    ],
)
def test_dns_name_matches(pattern, hostname, expected):
    assert cc.dns_name_matches(pattern, hostname) is expected


@pytest.mark.parametrize(
    ("server_name", "ok"),
    [
        ("www.example.com", True),
        ("API.example.com", True),
        ("example.com", False),
        ("a.b.example.com", False),
        ("other.org", False),
    ],
)
def test_wildcard_certificate(p, server_name, ok):
    leaf = pki.make_leaf(p.inter, "*.example.com", sans=["*.example.com"], key=p.leaf.key)
    codes = run(p, cert=leaf.cert_pem() + p.inter.cert_pem(), server_name=server_name)[1]
    assert codes == ([] if ok else ["name_mismatch"])


@pytest.mark.parametrize(
    ("server_name", "ok"),
    [
        ("192.0.2.10", True),
        ("2001:db8::1", True),
        ("[2001:db8::1]", True),
        ("2001:0db8:0000::0001", True),
        ("192.0.2.11", False),
        ("10.0.0.1", False),  # listed as a DNS name only: does not count for an IP address
    ],
)
def test_ip_sans(p, server_name, ok):
    leaf = pki.make_leaf(p.inter, "ip", sans=["10.0.0.1"], ip_sans=["192.0.2.10", "2001:db8::1"], key=p.leaf.key)
    facts, codes = run(p, cert=leaf.cert_pem() + p.inter.cert_pem(), server_name=server_name)[:2]
    assert codes == ([] if ok else ["name_mismatch"])
    assert facts["certificate"]["sans"] == ["10.0.0.1", "192.0.2.10", "2001:db8::1"]


def test_cn_alone_does_not_count(p):
    leaf = pki.make_leaf(p.inter, SERVER_NAME, sans=(), key=p.leaf.key)
    codes, problems = run(p, cert=leaf.cert_pem() + p.inter.cert_pem())[1:3]
    assert codes == ["name_mismatch"]
    assert "no subjectAltName" in problems[0].message


def test_name_mismatch_lists_sans(p):
    codes, problems = run(p, server_name="callback.example.net")[1:3]
    assert codes == ["name_mismatch"]
    assert "DNS:www.example.com" in problems[0].message
    assert "'callback.example.net'" in problems[0].message


# ---------------------------------------------------------------------------
# leaf properties
# ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("eku", "codes"),
    [
        (("clientAuth",), ["eku_no_server_auth"]),
        (("codeSigning", "emailProtection"), ["eku_no_server_auth"]),
        (("clientAuth", "serverAuth"), []),
        (None, []),
        (("2.5.29.37.0",), []),  # anyExtendedKeyUsage
    ],
)
def test_extended_key_usage(p, eku, codes):
    leaf = pki.make_leaf(p.inter, SERVER_NAME, sans=[SERVER_NAME], key=p.leaf.key, eku=eku)
    found = run(p, cert=leaf.cert_pem() + p.inter.cert_pem())[1]
    assert found == codes


def test_rsa_1024(p):
    leaf = pki.make_leaf(p.inter, SERVER_NAME, sans=[SERVER_NAME], key=pki.cached_key("small", key_size=1024))
    facts, codes, problems = run(p, cert=leaf.cert_pem() + p.inter.cert_pem(), key=leaf.key_pem())[:3]
    assert codes == ["rsa_key_too_small"]
    assert "1024 bits" in problems[0].message
    assert facts["certificate"]["key_size"] == 1024


def test_min_rsa_bits_option(p):
    codes, problems = run(p, min_rsa_bits=3072)[1:3]
    assert codes == ["rsa_key_too_small"]
    assert "min_rsa_bits=3072" in problems[0].message


def test_dsa_key(p):
    dsa_key = pki.cached_key("dsa", key_type="dsa", key_size=1024)  # 1024: DSA-2048 generation takes ~1 s
    leaf = pki.make_leaf(p.inter, SERVER_NAME, sans=[SERVER_NAME], key=dsa_key)
    facts, codes = run(p, cert=leaf.cert_pem() + p.inter.cert_pem(), key=leaf.key_pem())[:2]
    assert codes == ["dsa_key"]
    assert facts["certificate"]["key_type"] == "DSA"


# cryptography >= 45 refuses to *sign* with SHA-1/MD5; pki.py re-signs the TBSCertificate
# with the legacy hash itself, so these are real SHA-1 / MD5 certificates, not stand-ins.
@pytest.mark.parametrize("hash_alg", ["sha1", "md5"])
def test_weak_signature_hash(p, hash_alg):
    leaf = pki.make_leaf(p.inter, SERVER_NAME, sans=[SERVER_NAME], key=p.leaf.key, hash_alg=hash_alg)
    assert leaf.cert.signature_hash_algorithm.name == hash_alg
    facts, codes, problems = run(p, cert=leaf.cert_pem() + p.inter.cert_pem())[:3]
    # chain link still verified (by hand: cryptography's verify_directly_issued_by refuses SHA-1/MD5)
    assert codes == ["weak_signature_hash"]
    assert hash_alg.upper() in problems[0].message
    assert facts["certificate"]["signature_hash"] == hash_alg


def test_ed25519_signed_chain(p):
    root = pki.make_ca("Ed Root", key_type="ed25519")
    leaf = pki.make_leaf(root, SERVER_NAME, sans=[SERVER_NAME], key_type="ed25519")
    facts, codes = run(p, cert=leaf.cert_pem() + root.cert_pem(), key=leaf.key_pem())[:2]
    assert codes == []
    assert facts["certificate"]["signature_hash"] == "ed25519"


# ---------------------------------------------------------------------------
# validity
# ---------------------------------------------------------------------------

def test_expired(p):
    leaf = pki.make_leaf(p.inter, SERVER_NAME, sans=[SERVER_NAME], key=p.leaf.key, days_valid=-3)
    facts, codes, problems = run(p, cert=leaf.cert_pem() + p.inter.cert_pem())[:3]
    assert codes == ["expired"]
    assert "3 days ago" in problems[0].message
    assert facts["certificate"]["days_remaining"] == -4  # floor(-3 days - a few ms)


def test_not_yet_valid(p):
    leaf = pki.make_leaf(p.inter, SERVER_NAME, sans=[SERVER_NAME], key=p.leaf.key, not_before_days=2)
    codes = run(p, cert=leaf.cert_pem() + p.inter.cert_pem())[1]
    assert codes == ["not_yet_valid"]


def test_all_problems_reported_at_once(p):
    leaf = pki.make_leaf(p.inter, "old.example.org", sans=["old.example.org"], key=p.leaf.key, days_valid=-1,
                         eku=("clientAuth",))
    other_key = pki.Issued(leaf.cert, pki.cached_key("other")).key_pem()
    pins = [sha256_fingerprint(p.client_ca.cert_der())]
    codes, problems = run(p, cert=leaf.cert_pem() + p.other_ca.cert_pem(), key=other_key,
                          ca=p.leaf.cert_pem(), client_ca_sha256=pins)[1:3]
    assert codes == ["expired", "name_mismatch", "eku_no_server_auth", "chain_unlinked", "key_mismatch",
                     "client_ca_not_ca", "client_ca_pin_mismatch"]
    assert len(problems) == 7
    assert cc.summarize(problems).startswith("cert_check found 7 problems: (1) ")


def test_min_days_valid(p):
    leaf = pki.make_leaf(p.inter, SERVER_NAME, sans=[SERVER_NAME], key=p.leaf.key, days_valid=10)
    cert = leaf.cert_pem() + p.inter.cert_pem()
    codes, problems, warnings = run(p, cert=cert, min_days_valid=30)[1:]
    assert codes == ["expires_soon"]
    assert "min_days_valid=30" in problems[0].message
    assert warnings == []
    facts, codes, problems, warnings = run(p, cert=cert, min_days_valid=9)
    assert codes == []
    assert len(warnings) == 1 and "warn_days=30" in warnings[0]


def test_warn_days(p):
    leaf = pki.make_leaf(p.inter, SERVER_NAME, sans=[SERVER_NAME], key=p.leaf.key, days_valid=40)
    cert = leaf.cert_pem() + p.inter.cert_pem()
    assert run(p, cert=cert)[3] == []
    facts, codes, problems, warnings = run(p, cert=cert, warn_days=45)
    assert codes == [] and len(warnings) == 1
    assert "expires on" in warnings[0]
    assert run(p, cert=cert, warn_days=0)[3] == []


def test_fixed_clock(p):
    later = p.leaf.cert.not_valid_after_utc + datetime.timedelta(seconds=1)
    codes = run(p, now=later)[1]
    assert codes == ["expired"]


# ---------------------------------------------------------------------------
# chain in the certificate file
# ---------------------------------------------------------------------------

def test_chain_out_of_order(p):
    facts, codes, problems = run(p, cert=p.inter.cert_pem() + p.leaf.cert_pem())[:3]
    assert codes == ["chain_order"]
    assert "#2 CN=www.example.com, #1 CN=Unit Intermediate CA" in problems[0].message
    assert facts["certificate"]["subject"] == p.leaf.cert.subject.rfc4514_string()


def test_chain_of_three_out_of_order(p):
    codes = run(p, cert=p.leaf.cert_pem() + p.root.cert_pem() + p.inter.cert_pem())[1]
    assert codes == ["chain_order"]


def test_chain_with_root_in_order_is_fine(p):
    facts, codes = run(p, cert=p.chain_pem + p.root.cert_pem())[:2]
    assert codes == []
    assert facts["certificate"]["chain_length"] == 3


def test_chain_unlinked(p):
    codes, problems = run(p, cert=p.leaf.cert_pem() + p.other_ca.cert_pem())[1:3]
    assert codes == ["chain_unlinked"]
    assert "certificate #2 (CN=Other CA) did not issue certificate #1" in problems[0].message


def test_chain_same_name_forged_intermediate(p):
    # same subject as the real intermediate, different key: only the signature check catches it
    forged = pki.make_ca("Unit Intermediate CA", issuer=p.root, path_length=0, key_type="ec")
    codes, problems = run(p, cert=p.leaf.cert_pem() + forged.cert_pem())[1:3]
    assert codes == ["chain_unlinked"]
    assert "signature does not verify" in problems[0].message


def test_expired_intermediate(p):
    old = pki.make_ca("Unit Intermediate CA", issuer=p.root, path_length=0, key=p.inter.key, days_valid=-1)
    codes = run(p, cert=p.leaf.cert_pem() + old.cert_pem())[1]
    assert codes == ["chain_expired"]


# ---------------------------------------------------------------------------
# client CA bundle
# ---------------------------------------------------------------------------

def test_client_ca_is_a_leaf(p):
    client = pki.make_leaf(p.client_ca, "client", eku=("clientAuth",), key_type="ec")
    codes, problems = run(p, ca=client.cert_pem())[1:3]
    assert codes == ["client_ca_not_ca"]
    assert "CA:FALSE" in problems[0].message


def test_client_ca_without_basic_constraints(p):
    key = pki.cached_key("nobc", key_type="ec")
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "No BC")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(7).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=10)).sign(key, hashes.SHA256()))
    codes, problems = run(p, ca=cert.public_bytes(serialization.Encoding.PEM))[1:3]
    assert codes == ["client_ca_not_ca"]
    assert "no basicConstraints" in problems[0].message


def test_client_ca_is_ca_false(p):
    not_ca = pki.make_ca("Not A CA", key_type="ec", is_ca=False)
    codes = run(p, ca=not_ca.cert_pem())[1]
    assert codes == ["client_ca_not_ca"]


def test_expired_client_ca(p):
    old = pki.make_ca("Old TencentQQAuthCA", key_type="ec", days_valid=-2)
    codes, problems = run(p, ca=old.cert_pem())[1:3]
    assert codes == ["client_ca_expired"]
    assert "CN=Old TencentQQAuthCA" in problems[0].message


def test_three_cert_bundle_one_bad(p):
    old = pki.make_ca("Old CA", key_type="ec", days_valid=-2)
    bundle = p.client_ca.cert_pem() + old.cert_pem() + p.other_ca.cert_pem()
    facts, codes, problems = run(p, ca=bundle)[:3]
    assert codes == ["client_ca_expired"]
    assert "certificate #2" in problems[0].message
    assert [c["subject"] for c in facts["client_cas"]] == [
        x.cert.subject.rfc4514_string() for x in (p.client_ca, old, p.other_ca)
    ]


@pytest.mark.parametrize("style", ["colons", "plain-lower", "spaced"])
def test_pinning_match(p, style):
    fps = [sha256_fingerprint(p.client_ca.cert_der()), sha256_fingerprint(p.other_ca.cert_der())]
    if style == "plain-lower":
        fps = [f.replace(":", "").lower() for f in fps]
    elif style == "spaced":
        fps = [f.replace(":", " ") for f in fps]
    codes = run(p, ca=p.client_ca.cert_pem() + p.other_ca.cert_pem(), client_ca_sha256=fps)[1]
    assert codes == []


def test_pinning_mismatch_names_missing_and_unexpected(p):
    want = sha256_fingerprint(p.client_ca.cert_der())
    got = sha256_fingerprint(p.other_ca.cert_der())
    codes, problems = run(p, ca=p.other_ca.cert_pem(), client_ca_sha256=[want])[1:3]
    assert codes == ["client_ca_pin_mismatch"]
    assert "missing pinned " + want in problems[0].message
    assert "unexpected " + got + " (CN=Other CA)" in problems[0].message


def test_pinning_subset_is_a_mismatch(p):
    want = sha256_fingerprint(p.client_ca.cert_der())
    codes, problems = run(p, ca=p.client_ca.cert_pem() + p.other_ca.cert_pem(), client_ca_sha256=[want])[1:3]
    assert codes == ["client_ca_pin_mismatch"]
    assert "missing" not in problems[0].message


def test_invalid_fingerprint(p):
    codes = run(p, client_ca_sha256=["AB:CD"])[1]
    assert codes == ["invalid_fingerprint"]


# ---------------------------------------------------------------------------
# server chain verification
# ---------------------------------------------------------------------------

def test_server_ca_verifies(p):
    facts, codes = run(p, server_ca_content=p.root.cert_pem())[:2]
    assert codes == []
    assert facts["server_chain_verified"] is True


def test_server_ca_by_ip(p):
    leaf = pki.make_leaf(p.inter, "ip", ip_sans=["192.0.2.10"], key=p.leaf.key)
    facts, codes = run(p, cert=leaf.cert_pem() + p.inter.cert_pem(), server_name="192.0.2.10",
                       server_ca_content=p.root.cert_pem())[:2]
    assert codes == []
    assert facts["server_chain_verified"] is True


def test_server_ca_wrong_ca(p, tmp_path):
    path = tmp_path / "wrong-ca.crt"
    path.write_bytes(p.other_ca.cert_pem())
    facts, codes, problems = run(p, server_ca=str(path))[:3]
    assert codes == ["server_chain_unverified"]
    assert "candidates exhausted" in problems[0].message  # the verifier's own reason
    assert str(path) in problems[0].message
    assert facts["server_chain_verified"] is False


def test_server_ca_system_refuses_private_ca(p):
    facts, codes, problems = run(p, server_ca="system")[:3]
    if cc.system_ca_file() is None:  # no ca-certificates on this machine
        assert codes == ["server_ca_unavailable"]
    else:
        assert codes == ["server_chain_unverified"]
        assert "candidates exhausted" in problems[0].message
    assert "system" in problems[0].message
    assert facts["server_chain_verified"] is False


def test_server_ca_missing_file(p, tmp_path):
    codes = run(p, server_ca=str(tmp_path / "none.crt"))[1]
    assert codes == ["file_missing"]


def test_system_store_without_file(p, monkeypatch):
    monkeypatch.setattr(_cert_verify, "system_ca_file", lambda: None)
    codes = run(p, server_ca="system")[1]
    assert codes == ["server_ca_unavailable"]


# ---------------------------------------------------------------------------
# no key material in any output
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("case", ["good", "mismatch", "wrong-pass", "key-as-cert", "key-as-ca", "garbage-key"])
def test_key_material_never_in_results(p, case):
    secret = PASSPHRASE
    key_pem = p.leaf.key_pem(passphrase=secret.encode())
    params = {"key": key_pem, "private_key_passphrase": secret}
    if case == "mismatch":
        params["cert"] = p.other_ca.cert_pem()
    elif case == "wrong-pass":
        params["private_key_passphrase"] = secret[::-1]
        secret = secret[::-1]
    elif case == "key-as-cert":
        params["cert"] = p.leaf.key_pem()
        key_pem = p.leaf.key_pem()
    elif case == "key-as-ca":
        params["ca"] = p.leaf.key_pem()
        key_pem = p.leaf.key_pem()
    elif case == "garbage-key":
        key_pem = b"-----BEGIN PRIVATE KEY-----\nU0VDUkVUS0VZREFUQQ==\n-----END PRIVATE KEY-----\n"
        params["key"] = key_pem
    facts, codes, problems, warnings = run(p, **params)
    blob = json.dumps([facts, [list(x) for x in problems], warnings])
    assert secret not in blob
    fragments = pki.secret_fragments(key_pem, p.chain_pem, p.other_ca.cert_pem())
    assert fragments
    for line in fragments:
        assert line not in blob
