# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""cert_checks where it used to disagree with OpenSSL (nginx 1.22 / OpenSSL 3.0 on Debian 12).

Each case was checked against the real thing, which the comments quote: nginx with
ssl_verify_client on and ssl_verify_depth 2 answering curl with a client certificate,
``openssl verify``, ``nginx -t`` and ``openssl s_client``.
"""

from __future__ import annotations

import datetime
import sys
import warnings
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtensionOID

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # tests/ for "import pki"

import pki  # noqa: E402
from ansible_collections.chat_callback.mtls.plugins.module_utils import _cert_bundle, _server_names  # noqa: E402
from ansible_collections.chat_callback.mtls.plugins.module_utils._cert_keys import KEY_TYPES  # noqa: E402
from ansible_collections.chat_callback.mtls.plugins.module_utils import cert_checks as cc  # noqa: E402
from ansible_collections.chat_callback.mtls.plugins.modules import cert_check as cert_check_module  # noqa: E402

SERVER_NAME = "www.example.com"


class PKI:
    pass


@pytest.fixture(scope="module")
def p():
    s = PKI()
    s.root = pki.make_ca("Parity Root CA", key_type="ec")
    s.inter = pki.make_ca("Parity Intermediate CA", issuer=s.root, path_length=0, key_type="ec")
    s.leaf = pki.make_leaf(s.inter, SERVER_NAME, sans=[SERVER_NAME], key_type="ec")
    s.client_root = pki.make_ca("Client Root CA", key_type="ec")
    s.client_inter = pki.make_ca("Client Intermediate CA", issuer=s.client_root, path_length=0, key_type="ec")
    s.other_root = pki.make_ca("Other Root CA", key_type="ec")
    return s


def run(p, cert=None, key=None, ca=None, *, server_name=SERVER_NAME, **params):
    """check_params with PEM contents; returns (facts, codes, problems, warnings)."""
    args = {
        "certificate_content": p.leaf.cert_pem() + p.inter.cert_pem() if cert is None else cert,
        "private_key_content": p.leaf.key_pem() if key is None else key,
        "client_ca_content": p.client_root.cert_pem() if ca is None else ca,
        "server_name": server_name,
    }
    args.update(params)
    args = {name: value.decode() if isinstance(value, bytes) else value for name, value in args.items()}
    found = []
    facts, problems = cc.check_params(args, warnings=found)
    return facts, [x.code for x in problems], problems, found


def leaf_for(p, **kwargs):
    return pki.make_leaf(p.inter, SERVER_NAME, sans=[SERVER_NAME], **kwargs)


# ---------------------------------------------------------------------------
# 1. a client CA bundle must hold the chain up to a self-signed root
# ---------------------------------------------------------------------------

def test_client_ca_intermediate_without_its_root_is_refused(p):
    # nginx: 400 for every client, "client SSL certificate verify error: (2:unable to get issuer certificate)"
    codes, problems = run(p, ca=p.client_inter.cert_pem())[1:3]
    assert codes == ["client_ca_no_root"]
    message = problems[0].message
    assert "certificate #1 (CN=Client Intermediate CA)" in message
    assert "CN=Client Root CA" in message  # the certificate to add
    assert "Add the issuer's certificate" in message
    assert "HTTP 400" in message


@pytest.mark.parametrize("order", ["inter-root", "root-inter"])
def test_client_ca_intermediate_with_its_root_is_fine(p, order):
    pems = [p.client_inter.cert_pem(), p.client_root.cert_pem()]
    if order == "root-inter":
        pems.reverse()
    facts, codes, problems, found = run(p, ca=b"".join(pems))
    assert codes == [], problems
    assert found == []
    assert len(facts["client_cas"]) == 2


def test_client_ca_chain_that_stops_below_the_root(p):
    lower = pki.make_ca("Client Issuing CA", issuer=p.client_inter, path_length=0, key_type="ec")
    codes, problems = run(p, ca=lower.cert_pem() + p.client_inter.cert_pem())[1:3]
    assert codes == ["client_ca_no_root", "client_ca_no_root"]
    assert "ends at certificate #2 (CN=Client Intermediate CA)" in problems[0].message
    assert "CN=Client Root CA" in problems[0].message


def test_client_ca_unrelated_root_does_not_root_an_intermediate(p):
    codes, problems = run(p, ca=p.client_inter.cert_pem() + p.other_root.cert_pem())[1:3]
    assert codes == ["client_ca_no_root"]
    assert "certificate #1 " in problems[0].message


def test_client_ca_leaf_is_reported_as_no_ca_only(p):
    client = pki.make_leaf(p.client_inter, "client", eku=("clientAuth",), key_type="ec")
    assert run(p, ca=client.cert_pem())[1] == ["client_ca_not_ca"]


# ---------------------------------------------------------------------------
# 2. a version 1 self-signed root is a CA to OpenSSL
# ---------------------------------------------------------------------------

def test_client_ca_version_1_root_is_accepted_with_a_warning(p):
    # nginx verified a client certificate issued by it (200)
    v1 = pki.make_ca("Legacy V1 Root CA", key_type="ec", version=1)
    assert v1.cert.version == x509.Version.v1
    facts, codes, problems, found = run(p, ca=v1.cert_pem())
    assert codes == [], problems
    assert len(found) == 1
    assert "certificate #1 (CN=Legacy V1 Root CA) is an X.509 version 1 certificate" in found[0]
    assert facts["client_cas"][0]["subject"] == v1.cert.subject.rfc4514_string()


def test_client_ca_version_1_intermediate_is_no_ca(p):
    # OpenSSL: "invalid CA certificate" (openssl verify), "unsuitable certificate purpose" (nginx)
    v1 = pki.make_ca("Legacy V1 Intermediate", issuer=p.client_root, key_type="ec", version=1)
    codes = run(p, ca=v1.cert_pem() + p.client_root.cert_pem())[1]
    assert codes == ["client_ca_not_ca"]


# ---------------------------------------------------------------------------
# 3. certificates cryptography refuses only when asked for a part of them
# ---------------------------------------------------------------------------

def _with_raw_san(issuer, value):
    now = datetime.datetime.now(datetime.timezone.utc)
    key = pki.cached_key("raw-san", key_type="ec")
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, SERVER_NAME)]))
        .issuer_name(issuer.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=90))
        .add_extension(x509.UnrecognizedExtension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, value), critical=False)
    )
    return pki.Issued(cert=builder.sign(issuer.key, hashes.SHA256()), key=key)


def test_malformed_subject_alt_name(p):
    leaf = _with_raw_san(p.inter, b"\x30\x03\x82\x01")  # a dNSName cut short
    facts, codes, problems = run(p, cert=leaf.cert_pem() + p.inter.cert_pem(), key=leaf.key_pem())[:3]
    assert codes == ["cert_extension_invalid"]
    assert "certificate #1 (CN=www.example.com): its subjectAltName extension does not parse" in problems[0].message
    assert facts["certificate"]["subject"] == f"CN={SERVER_NAME}"
    assert facts["certificate"]["sans"] == []


def _duplicate_san(fields):
    extensions = pki.der_items(pki.der_content(pki.der_content(fields[-1])))  # [3] { SEQUENCE { Extension } }
    san = [e for e in extensions if b"\x06\x03\x55\x1d\x11" in e][0]
    return fields[:-1] + [pki.der_encode(0xA3, pki.der_encode(0x30, b"".join(extensions + [san])))]


def test_duplicated_subject_alt_name_extension(p):
    leaf = pki.Issued(cert=pki.rewrite_tbs(leaf_for(p, key_type="ec").cert, p.inter.key, _duplicate_san),
                      key=None)
    with pytest.raises(x509.DuplicateExtension):
        leaf.cert.extensions  # noqa: B018
    codes, problems = run(p, cert=leaf.cert_pem() + p.inter.cert_pem(), private_key_content=None)[1:3]
    assert codes == ["cert_extension_invalid"]
    assert "holds the subjectAltName extension more than once" in problems[0].message


def test_malformed_extension_in_the_client_ca(p):
    ca = _with_raw_san(p.client_root, b"\x30\x03\x82\x01")
    codes, problems = run(p, ca=ca.cert_pem() + p.client_root.cert_pem())[1:3]
    assert codes == ["cert_extension_invalid"]  # not also "not a CA": its extensions cannot be read
    assert problems[0].message.startswith("client_ca_content: certificate #1 ")


def test_ec_key_on_a_custom_explicit_curve(p):
    # cryptography: UnsupportedAlgorithm on public_key(); nginx -t: key values mismatch
    leaf = leaf_for(p, key_type="ec")
    odd = pki.with_spki(leaf, p.inter, pki.explicit_ec_spki(leaf.key.public_key(), custom=True))
    facts, codes, problems = run(p, cert=odd.cert_pem() + p.inter.cert_pem(), key=leaf.key_pem())[:3]
    assert codes == ["ec_explicit_curve"]
    assert "certificate #1 (CN=www.example.com): its EC key spells out the curve parameters" in problems[0].message
    assert (facts["certificate"]["key_type"], facts["certificate"]["key_size"]) == ("EC", None)


@pytest.mark.parametrize("custom", [False, True])
def test_client_ca_with_explicit_curve_parameters(p, custom):
    # openssl verify: "error 94 at 1 depth lookup: Certificate public key has explicit ECC parameters"
    ca = pki.make_ca("Explicit Curve CA", key_type="ec")
    odd = pki.with_spki(ca, ca, pki.explicit_ec_spki(ca.key.public_key(), custom=custom))
    codes = run(p, ca=odd.cert_pem())[1]
    assert codes == ["ec_explicit_curve"]


def test_intermediate_on_a_custom_explicit_curve(p):
    inter = pki.make_ca("Parity Intermediate CA", issuer=p.root, path_length=0, key=p.inter.key)
    odd = pki.with_spki(inter, p.root, pki.explicit_ec_spki(p.inter.key.public_key(), custom=True))
    codes, problems = run(p, cert=p.leaf.cert_pem() + odd.cert_pem())[1:3]
    assert codes == ["ec_explicit_curve"]  # not also chain_unlinked: no signature can be checked with it
    assert problems[0].message.startswith("certificate_content: certificate #2 (CN=Parity Intermediate CA): ")


def test_unreadable_public_key(p):
    leaf = leaf_for(p, key_type="ec")
    spki = pki.der_encode(0x30, pki.der_encode(0x30, bytes.fromhex("06032a0304")) + pki.der_encode(0x03, b"\0\1"))
    odd = pki.with_spki(leaf, p.inter, spki)  # algorithm 1.2.3.4
    facts, codes, problems = run(p, cert=odd.cert_pem() + p.inter.cert_pem(), key=leaf.key_pem())[:3]
    assert codes == ["cert_key_unreadable"]
    assert "its public key (1.2.3.4) cannot be read" in problems[0].message
    assert (facts["certificate"]["key_type"], facts["certificate"]["key_size"]) == ("unknown", None)


# ---------------------------------------------------------------------------
# 4. key types a TLS server certificate cannot have; 5. their names
# ---------------------------------------------------------------------------

@pytest.mark.parametrize(("key_type", "size"), [("x25519", 256), ("x448", 448)])
def test_key_agreement_keys_are_refused(p, key_type, size):
    # nginx -t: SSL_CTX_use_certificate() failed (unknown certificate type)
    leaf = leaf_for(p, key_type=key_type)
    facts, codes, problems = run(p, cert=leaf.cert_pem() + p.inter.cert_pem(), key=leaf.key_pem())[:3]
    assert codes == ["key_type_unsupported"]
    assert "cannot sign" in problems[0].message and "unknown certificate type" in problems[0].message
    assert (facts["certificate"]["key_type"], facts["certificate"]["key_size"]) == (key_type.upper(), size)


def test_x25519_key_match_is_proved_not_assumed(p):
    leaf = leaf_for(p, key_type="x25519")
    other = pki.Issued(cert=leaf.cert, key=pki.new_key("x25519"))
    codes = run(p, cert=leaf.cert_pem(), key=other.key_pem())[1]
    assert codes == ["key_type_unsupported", "key_mismatch"]
    assert cc.signature_proof(leaf.key, leaf.cert.public_key()) is True
    assert cc.signature_proof(leaf.key, other.key.public_key()) is False


def test_ec_key_with_explicit_p256_parameters_is_refused(p):
    # nginx loads it; openssl s_client: "verify error:num=94:Certificate public key has explicit ECC parameters"
    leaf = leaf_for(p, key_type="ec")
    explicit = pki.with_spki(leaf, p.inter, pki.explicit_ec_spki(leaf.key.public_key()))
    facts, codes, problems = run(p, cert=explicit.cert_pem() + p.inter.cert_pem(), key=leaf.key_pem())[:3]
    assert codes == ["ec_explicit_curve"]
    assert "explicit ECC parameters" in problems[0].message
    assert (facts["certificate"]["key_type"], facts["certificate"]["key_size"]) == ("EC", 256)


@pytest.mark.parametrize(
    ("curve", "codes", "warned"),
    [
        (ec.SECP256R1, [], False),
        (ec.SECP384R1, [], False),
        (ec.SECP521R1, [], False),
        (ec.SECP192R1, ["ec_key_too_small"], False),  # nginx -t: ee key too small
        (ec.SECP256K1, [], True),  # nginx loads it, OpenSSL clients fail the handshake
        (ec.BrainpoolP256R1, [], True),
    ],
)
def test_ec_curves(p, curve, codes, warned):
    leaf = leaf_for(p, key=ec.generate_private_key(curve()))
    found, problems, noted = run(p, cert=leaf.cert_pem() + p.inter.cert_pem(), key=leaf.key_pem())[1:]
    assert found == codes, problems
    assert bool(noted) is warned
    if warned:
        assert f"EC key on {curve.name}" in noted[0]


@pytest.mark.parametrize("key_type", ["ed25519", "ed448"])
def test_eddsa_keys_pass_with_a_warning(p, key_type):
    leaf = leaf_for(p, key_type=key_type)
    codes, problems, noted = run(p, cert=leaf.cert_pem() + p.inter.cert_pem(), key=leaf.key_pem())[1:]
    assert codes == [], problems
    assert len(noted) == 1 and "web browsers" in noted[0]


def test_rsa_pss_certificate(p):
    leaf = leaf_for(p, key=pki.cached_key("leaf"))
    pss = pki.with_spki(leaf, p.inter, pki.rsa_pss_spki(leaf.key.public_key()))
    facts, codes, problems = run(p, cert=pss.cert_pem() + p.inter.cert_pem(), key=leaf.key_pem())[:3]
    assert codes == [], problems
    assert (facts["certificate"]["key_type"], facts["certificate"]["key_size"]) == ("RSA-PSS", 2048)
    assert run(p, cert=pss.cert_pem(), key=leaf.key_pem(), min_rsa_bits=3072)[1] == ["rsa_key_too_small"]


def _key_cases():
    cases = [
        ("rsa", lambda: pki.cached_key("leaf"), "RSA", []),
        ("ec", lambda: pki.cached_key("leaf", "ec"), "EC", []),
        ("ed25519", lambda: pki.new_key("ed25519"), "Ed25519", []),
        ("ed448", lambda: pki.new_key("ed448"), "Ed448", []),
        ("dsa", lambda: pki.cached_key("dsa", "dsa", 1024), "DSA", ["dsa_key"]),
        ("x25519", lambda: pki.new_key("x25519"), "X25519", ["key_type_unsupported"]),
        ("x448", lambda: pki.new_key("x448"), "X448", ["key_type_unsupported"]),
    ]
    try:
        from cryptography.hazmat.primitives.asymmetric import mldsa  # noqa: PLC0415 - recent cryptography only
    except ImportError:
        pass
    else:
        cases.append(("ml-dsa", mldsa.MLDSA65PrivateKey.generate, "ML-DSA-65", ["key_type_unsupported"]))
    return cases


@pytest.mark.parametrize(("case", "make_key", "name", "codes"), _key_cases(), ids=[c[0] for c in _key_cases()])
def test_every_key_type_has_a_documented_name(p, case, make_key, name, codes):
    leaf = leaf_for(p, key=make_key())
    facts, found = run(p, cert=leaf.cert_pem() + p.inter.cert_pem(), private_key_content=None)[:2]
    assert found == codes
    assert facts["certificate"]["key_type"] == name
    assert name in KEY_TYPES


def test_key_type_names_in_the_module_docs():
    returned = yaml.safe_load(cert_check_module.RETURN)
    described = " ".join(returned["certificate"]["contains"]["key_type"]["description"])
    assert "null" in " ".join(returned["certificate"]["contains"]["key_size"]["description"])
    for name in KEY_TYPES:
        assert f"V({name})" in described, name
    codes = " ".join(returned["problem_codes"]["description"])
    for code in ("client_ca_no_root", "cert_extension_invalid", "cert_key_unreadable", "ec_explicit_curve",
                 "key_type_unsupported", "ec_key_too_small", "idna_unavailable", "internal_error"):
        assert f"V({code})" in codes, code


# ---------------------------------------------------------------------------
# 6. internationalized names: IDNA 2008 / UTS 46, as certificates carry them
# ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("pattern", "hostname", "expected"),
    [
        ("xn--fa-hia.example", "faß.example", True),
        ("fass.example", "faß.example", False),
        ("xn--fa-hia.example", "FASS.example", False),
        ("xn--3xa.gr", "ς.gr", True),
        ("xn--bcher-kva.example", "BÜCHER.example", True),
        ("xn--bcher-kva.example", "bücher\u3002example", True),  # ideographic full stop
        ("*.xn--fa-hia.example", "shop.faß.example", True),
    ],
)
def test_dns_names_idna_2008(pattern, hostname, expected):
    assert cc.dns_name_matches(pattern, hostname) is expected


def test_unicode_server_name_matches_its_idna_2008_certificate(p):
    leaf = pki.make_leaf(p.inter, "xn--fa-hia.example", sans=["xn--fa-hia.example"], key=p.leaf.key)
    cert = leaf.cert_pem() + p.inter.cert_pem()
    assert run(p, cert=cert, server_name="faß.example")[1] == []
    assert run(p, cert=cert, server_name="faß.example", server_ca_content=p.root.cert_pem())[0][
        "server_chain_verified"] is True
    wrong = pki.make_leaf(p.inter, "fass.example", sans=["fass.example"], key=p.leaf.key)
    assert run(p, cert=wrong.cert_pem() + p.inter.cert_pem(), server_name="faß.example")[1] == ["name_mismatch"]


def test_without_the_idna_package(p, monkeypatch):
    monkeypatch.setattr(_server_names, "idna_module", lambda: None)
    bucher = pki.make_leaf(p.inter, "b", sans=["xn--bcher-kva.example"], key=p.leaf.key)
    # IDNA 2003 and 2008 agree on this name: Python's codec converts it
    assert run(p, cert=bucher.cert_pem(), server_name="bücher.example")[1] == []
    fass = pki.make_leaf(p.inter, "f", sans=["xn--fa-hia.example"], key=p.leaf.key)
    facts, codes, problems = run(p, cert=fass.cert_pem() + p.inter.cert_pem(), server_name="faß.example",
                                 server_ca_content=p.root.cert_pem())[:3]
    assert codes == ["idna_unavailable"]  # and no server_chain_unverified for the same cause
    assert "python3-idna" in problems[0].message and "xn--" in problems[0].message
    assert facts["server_chain_verified"] is False
    assert cc.normalize_dns_name("faß.example") == "faß.example"  # never the IDNA 2003 "fass.example"


# ---------------------------------------------------------------------------
# 7. serial numbers of zero or below: a warning of the module, nothing on stderr
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("serial", [0, -1, -300])
def test_non_positive_serial_is_a_module_warning(p, serial):
    leaf = leaf_for(p, key=p.leaf.key, serial=serial)
    ca = pki.make_ca("Zero Serial CA", key_type="ec", serial=serial)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        facts, codes, problems, noted = run(p, cert=leaf.cert_pem() + p.inter.cert_pem(), ca=ca.cert_pem())
    assert [str(w.message) for w in caught] == []
    assert codes == [], problems
    assert cc.serial_hex(serial) == facts["certificate"]["serial"]
    assert len(noted) == 2
    assert noted[0].startswith("certificate_content: certificate #1 (CN=www.example.com) has the serial number ")
    assert noted[1].startswith("client_ca_content: certificate #1 (CN=Zero Serial CA) has the serial number ")
    assert "RFC 5280" in noted[0]


def test_odd_name_is_a_module_warning(p):
    # found by the fuzz test: a countryName of 7 letters; cryptography warns once, when it parses the name
    country = pki.der_encode(0x30, pki.der_encode(0x31, pki.der_encode(0x30, bytes.fromhex("0603550406")
                                                                       + pki.der_encode(0x13, b"Germany"))))
    ca = pki.make_ca("Odd Name CA", key_type="ec")
    odd = pki.rewrite_tbs(ca.cert, ca.key, lambda f: f[:3] + [country, f[4], country] + f[6:])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        facts, codes, problems, noted = run(p, ca=pki.Issued(cert=odd, key=ca.key).cert_pem())
    assert caught == []
    assert codes == [], problems
    assert facts["client_cas"][0]["subject"] == "C=Germany"
    assert len(noted) == 2
    assert noted[0].startswith("client_ca_content: certificate #1 (C=Germany): its subject name: ")
    assert "OpenSSL accepts such a name" in noted[0]


def test_python_warnings_become_module_warnings(p, monkeypatch):
    original = _cert_bundle.check_validity

    def noisy(*args, **kwargs):
        warnings.warn("something odd", UserWarning, stacklevel=1)
        return original(*args, **kwargs)

    monkeypatch.setattr(_cert_bundle, "check_validity", noisy)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        codes, problems, noted = run(p)[1:]
    assert caught == []
    assert codes == []
    assert noted == ["cert_check: UserWarning: something odd"]


def test_an_unexpected_exception_is_a_problem(p, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("secret-looking detail")

    monkeypatch.setattr(_cert_bundle, "check_key_match", broken)
    facts, codes, problems = run(p)[:3]
    assert codes == ["internal_error"]
    assert "RuntimeError" in problems[0].message and "secret-looking" not in problems[0].message
    assert facts["certificate"]["subject"] == f"CN={SERVER_NAME},O=chat_callback.mtls test PKI"
