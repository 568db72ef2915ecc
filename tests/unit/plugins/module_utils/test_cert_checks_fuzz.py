# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Broken inputs, however broken, end in problem codes and sentences: never in an exception.

Deterministic (fixed seed) random mutations of valid certificates, keys and CA bundles, fed to
check_params and check_bundle. Most byte flips land inside the TBSCertificate so that the outer
structure still parses and the lazily parsed parts (extensions, public key, names) get the
broken bytes. A few seconds; raise FUZZ_ROUNDS locally to search longer.
"""

from __future__ import annotations

import base64
import json
import os
import random
import sys
import textwrap
import warnings
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))  # tests/ for "import pki"

import pki  # noqa: E402
from ansible_collections.chat_callback.mtls.plugins.module_utils import cert_checks as cc  # noqa: E402

SEED = 20261129
ROUNDS = int(os.environ.get("FUZZ_ROUNDS", "400"))
SERVER_NAME = "www.example.com"


def pem(kind, der):
    body = "\n".join(textwrap.wrap(base64.b64encode(der).decode("ascii"), 64))
    return f"-----BEGIN {kind}-----\n{body}\n-----END {kind}-----\n".encode("ascii")


@pytest.fixture(scope="module")
def corpus():
    root = pki.make_ca("Fuzz Root CA", key=pki.cached_key("root"))
    inter = pki.make_ca("Fuzz Intermediate CA", issuer=root, path_length=0, key_type="ec")
    rsa_leaf = pki.make_leaf(inter, SERVER_NAME, sans=[SERVER_NAME], ip_sans=["192.0.2.1"],
                             key=pki.cached_key("leaf"))
    ec_leaf = pki.make_leaf(inter, SERVER_NAME, sans=[SERVER_NAME, "*.example.com"], key_type="ec")
    ed_leaf = pki.make_leaf(root, SERVER_NAME, sans=[SERVER_NAME], key_type="ed25519")
    client_ca = pki.make_ca("Fuzz Client CA", key_type="ec")
    client_inter = pki.make_ca("Fuzz Client Intermediate", issuer=client_ca, key_type="ec")
    v1_root = pki.make_ca("Fuzz V1 Root", key_type="ec", version=1)
    pss_leaf = pki.with_spki(rsa_leaf, inter, pki.rsa_pss_spki(rsa_leaf.key.public_key()))
    explicit = pki.with_spki(ec_leaf, inter, pki.explicit_ec_spki(ec_leaf.key.public_key()))
    traditional = serialization.PrivateFormat.TraditionalOpenSSL
    return {
        "certs": [rsa_leaf.cert_der(), ec_leaf.cert_der(), ed_leaf.cert_der(), inter.cert_der(), pss_leaf.cert_der(),
                  explicit.cert_der()],
        "cas": [client_ca.cert_der(), client_inter.cert_der(), v1_root.cert_der(), root.cert_der()],
        "keys": [
            ("PRIVATE KEY", rsa_leaf.key_der()),
            ("PRIVATE KEY", ec_leaf.key_der()),
            ("PRIVATE KEY", ed_leaf.key_der()),
            ("RSA PRIVATE KEY", rsa_leaf.key.private_bytes(serialization.Encoding.DER, traditional,
                                                           serialization.NoEncryption())),
            ("EC PRIVATE KEY", ec_leaf.key.private_bytes(serialization.Encoding.DER, traditional,
                                                         serialization.NoEncryption())),
        ],
        "good": {
            "certificate_content": rsa_leaf.cert_pem() + inter.cert_pem(),
            "private_key_content": rsa_leaf.key_pem(),
            "client_ca_content": client_ca.cert_pem(),
            "server_ca_content": root.cert_pem(),
        },
        "encrypted_key": rsa_leaf.key_pem(passphrase=b"fuzz"),
    }


def mutate(rng, data):
    """One random mutation of ``data``; byte flips favour the first 80 % (the TBSCertificate)."""
    data = bytearray(data)
    op = rng.random()
    if op < 0.6:
        for _flip in range(rng.randint(1, 4)):
            data[rng.randrange(max(1, len(data) * 4 // 5))] = rng.randrange(256)
    elif op < 0.7:
        del data[rng.randrange(len(data)):]
    elif op < 0.8:
        where = rng.randrange(len(data))
        data[where:where] = bytes(rng.randrange(256) for _byte in range(rng.randint(1, 8)))
    elif op < 0.9:
        start = rng.randrange(len(data))
        data[start:start] = data[start:start + rng.randint(1, 40)]
    else:
        where = rng.randrange(len(data))
        del data[where:where + rng.randint(1, 16)]
    return bytes(data)


def mutated_input(rng, corpus, option):
    """PEM text for ``option`` built from a mutated DER, or a mutated PEM text."""
    if option == "private_key_content":
        if rng.random() < 0.1:
            return mutate(rng, corpus["encrypted_key"])
        kind, der = rng.choice(corpus["keys"])
        return pem(kind, mutate(rng, der))
    pool = corpus["certs"] if option == "certificate_content" else corpus["cas"]
    ders = [rng.choice(pool) for _pick in range(rng.randint(1, 3))]
    victim = rng.randrange(len(ders))
    ders[victim] = mutate(rng, ders[victim])
    text = b"".join(pem("CERTIFICATE", der) for der in ders)
    return mutate(rng, text) if rng.random() < 0.1 else text


def assert_reported(facts, problems, found, context):
    for problem in problems:
        assert isinstance(problem.code, str) and problem.code, context
        assert isinstance(problem.message, str) and problem.message, (context, problem)
    codes = [problem.code for problem in problems]
    assert "internal_error" not in codes, (context, [p.message for p in problems])
    assert all(isinstance(warning, str) for warning in found), context
    assert not any(warning.startswith("cert_check: ") for warning in found), (context, found)
    json.dumps(facts)  # the module returns them as JSON


def test_mutated_inputs_never_raise(corpus):
    rng = random.Random(SEED)
    options = ["certificate_content", "private_key_content", "client_ca_content", "server_ca_content"]
    reported = set()
    for round_number in range(ROUNDS):
        params = dict(corpus["good"], server_name=SERVER_NAME)
        for option in rng.sample(options, rng.randint(1, 2)):
            params[option] = mutated_input(rng, corpus, option)
        if params["private_key_content"].startswith(b"-----BEGIN ENCRYPTED"):
            params["private_key_passphrase"] = "fuzz"
        params = {name: value.decode("latin-1") if isinstance(value, bytes) else value
                  for name, value in params.items()}
        found = []
        context = f"seed {SEED}, round {round_number}"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            facts, problems = cc.check_params(params, warnings=found)
        assert [str(w.message) for w in caught] == [], context
        assert_reported(facts, problems, found, context)
        reported.update(problem.code for problem in problems)
    # the mutations reached past the outer parser, into what cryptography parses lazily
    assert {"cert_parse_error", "cert_extension_invalid", "key_parse_error"} <= reported, sorted(reported)


def test_mutated_bytes_to_check_bundle(corpus):
    rng = random.Random(SEED + 1)
    good = corpus["good"]
    for round_number in range(ROUNDS // 4):
        cert = mutated_input(rng, corpus, "certificate_content")
        key = mutated_input(rng, corpus, "private_key_content") if rng.random() < 0.5 else good["private_key_content"]
        ca = mutated_input(rng, corpus, "client_ca_content")
        found = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            facts, problems = cc.check_bundle(cert, key, ca, SERVER_NAME, warnings=found, private_key_passphrase="fuzz")
        context = f"seed {SEED + 1}, round {round_number}"
        assert [str(w.message) for w in caught] == [], context
        assert_reported(facts, problems, found, context)
