# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tests/pki.py is shared by unit tests, molecule and the demo: its contract is tested here."""

from __future__ import annotations

import datetime
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509 import verification
from cryptography.x509.oid import ExtendedKeyUsageOID

TESTS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(TESTS))

import pki  # noqa: E402

DEMO_KEYS = ("certificate", "private_key", "server_ca", "client_ca", "client_ca_zip", "crl", "client_cert",
             "client_key", "other_client_cert", "other_client_key", "rogue_client_cert", "rogue_client_key")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return pki.write_demo(tmp_path_factory.mktemp("demo"))


def load_chain(path):
    return x509.load_pem_x509_certificates(Path(path).read_bytes())


def now():
    return datetime.datetime.now(datetime.timezone.utc)


def test_write_demo_files(demo):
    assert sorted(demo) == sorted(DEMO_KEYS)
    out = demo["certificate"].parent
    assert demo["certificate"] == out / "www.example.com.crt"
    assert demo["private_key"] == out / "www.example.com.key"
    assert demo["server_ca"] == out / "server-root-ca.crt"
    assert demo["client_ca"] == out / "TencentQQAuthCA.crt"
    assert demo["client_ca_zip"] == out / "TencentQQAuthCA.crt.zip"
    for name in ("private_key", "client_key", "other_client_key", "rogue_client_key"):
        assert stat.S_IMODE(demo[name].stat().st_mode) == 0o600
        assert demo[name].read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    crl = x509.load_pem_x509_crl(demo["crl"].read_bytes())
    assert crl.is_signature_valid(load_chain(demo["client_ca"])[0].public_key()) and len(crl) == 0
    with zipfile.ZipFile(demo["client_ca_zip"]) as zf:
        assert zf.namelist() == ["TencentQQAuthCA.crt"]
        assert zf.read("TencentQQAuthCA.crt") == demo["client_ca"].read_bytes()


def test_demo_server_chain_verifies(demo):
    leaf, inter = load_chain(demo["certificate"])
    assert leaf.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "www.example.com"
    root = load_chain(demo["server_ca"])[0]
    verifier = (verification.PolicyBuilder().store(verification.Store([root])).time(now())
                .build_server_verifier(verification.DNSName("www.example.com")))
    chain = verifier.verify(leaf, [inter])
    assert [c.subject for c in chain] == [leaf.subject, inter.subject, root.subject]
    key = serialization.load_pem_private_key(demo["private_key"].read_bytes(), None)
    assert key.public_key() == leaf.public_key()


def test_demo_clients(demo):
    client_ca = load_chain(demo["client_ca"])[0]
    client = load_chain(demo["client_cert"])[0]
    other = load_chain(demo["other_client_cert"])[0]
    rogue = load_chain(demo["rogue_client_cert"])[0]
    assert other.subject != client.subject
    other.verify_directly_issued_by(client_ca)
    eku = client.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    client.verify_directly_issued_by(client_ca)
    with pytest.raises(ValueError):  # issuer name differs: signed by another CA
        rogue.verify_directly_issued_by(client_ca)
    verifier = verification.PolicyBuilder().store(verification.Store([client_ca])).time(now()).build_client_verifier()
    verifier.verify(client, [])
    verifier.verify(other, [])
    with pytest.raises(verification.VerificationError):
        verifier.verify(rogue, [])
    for cert_name, key_name in (("client_cert", "client_key"), ("other_client_cert", "other_client_key"),
                                ("rogue_client_cert", "rogue_client_key")):
        key = serialization.load_pem_private_key(demo[key_name].read_bytes(), None)
        assert key.public_key() == load_chain(demo[cert_name])[0].public_key()


def test_cli_demo_expired_and_overwrite(tmp_path):
    for _round in range(2):  # overwrites in place
        proc = subprocess.run([sys.executable, str(TESTS / "pki.py"), "demo", str(tmp_path), "--server-name",
                               "cb.example.org", "--days-valid", "-2"], capture_output=True, text=True, check=True)
    assert str(tmp_path / "cb.example.org.crt") in proc.stdout
    assert str(tmp_path / "rogue-client.key") in proc.stdout
    leaf = load_chain(tmp_path / "cb.example.org.crt")[0]
    assert leaf.not_valid_after_utc < now() - datetime.timedelta(days=1)
    assert not list(tmp_path.glob("*.tmp"))


def test_write_demo_ip_server_name(tmp_path):
    paths = pki.write_demo(tmp_path, server_name="192.0.2.7")
    leaf = load_chain(paths["certificate"])[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["192.0.2.7"]


def test_validity_days():
    ca = pki.make_ca("V", key_type="ec")
    leaf = pki.make_leaf(ca, "v", key_type="ec", days_valid=10, not_before_days=3)
    assert 2 < (leaf.cert.not_valid_before_utc - now()).total_seconds() / 86400 <= 3
    assert 9 < (leaf.cert.not_valid_after_utc - now()).total_seconds() / 86400 <= 10


def test_key_types_and_formats():
    assert isinstance(pki.new_key("rsa", 1024), rsa.RSAPrivateKey)
    assert pki.new_key("ec", curve="secp384r1").curve.key_size == 384
    assert isinstance(pki.new_key("ed25519"), ed25519.Ed25519PrivateKey)
    issued = pki.make_leaf(pki.make_ca("K", key_type="ec"), "k", key_type="ec")
    assert b"BEGIN EC PRIVATE KEY" in issued.key_pem(fmt="pkcs1")
    assert b"BEGIN ENCRYPTED PRIVATE KEY" in issued.key_pem(passphrase=b"pw")
    key = serialization.load_pem_private_key(issued.key_pem(passphrase=b"pw", fmt="pkcs1"), b"pw")
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    with pytest.raises(ValueError):
        pki.Issued(issued.cert, pki.new_key("ed25519")).key_pem(fmt="pkcs1")
    with pytest.raises(ValueError):
        pki.new_key("rot13")


@pytest.mark.parametrize("hash_alg", ["sha1", "md5"])
def test_legacy_signature_hashes(hash_alg):
    ca = pki.make_ca("Legacy", key=pki.cached_key("root"))
    leaf = pki.make_leaf(ca, "legacy", key_type="ec", hash_alg=hash_alg)
    assert leaf.cert.signature_hash_algorithm.name == hash_alg
    reparsed = x509.load_pem_x509_certificate(leaf.cert_pem())
    assert reparsed.tbs_certificate_bytes == leaf.cert.tbs_certificate_bytes
    with pytest.raises(ValueError):
        pki.make_leaf(pki.make_ca("EC", key_type="ec"), "x", key_type="ec", hash_alg=hash_alg)


def test_ca_extensions_and_eku():
    root = pki.make_ca("Root", key_type="ec")
    inter = pki.make_ca("Inter", issuer=root, key_type="ec", path_length=0)
    bc = inter.cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca and bc.value.path_length == 0
    ku = inter.cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.key_cert_sign and ku.value.crl_sign
    not_ca = pki.make_ca("NotCA", key_type="ec", is_ca=False)
    assert not not_ca.cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    no_eku = pki.make_leaf(root, "x", key_type="ec", eku=None)
    with pytest.raises(x509.ExtensionNotFound):
        no_eku.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)


def test_secret_fragments_skip_public_parts():
    issued = pki.make_leaf(pki.make_ca("S", key=pki.cached_key("root")), "s", key=pki.cached_key("leaf"))
    fragments = pki.secret_fragments(issued.key_pem(), issued.cert_pem())
    assert len(fragments) > 50
    cert_text = issued.cert_pem().decode().replace("\n", "")
    assert not any(f in cert_text for f in fragments)
