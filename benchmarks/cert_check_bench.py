# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""In-process timing of cert_check's checks, per bundle (not a test).

Measures ``cert_checks.check_bundle`` / ``check_params`` only: no interpreter start, no
Ansible. Bundles: an RSA-2048 and a P-256 server certificate, each as a chain of 2 (leaf +
intermediate) with its key, and a client CA bundle of 3 CA certificates. Prints the median
(and p90) over many runs; exits 1 when a median is above ``--target-ms`` (default 20).

    .venv/bin/python benchmarks/cert_check_bench.py [--runs 200] [--target-ms 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _import_path() -> None:
    """Make ``ansible_collections.chat_callback.mtls`` and ``tests/pki.py`` importable."""
    if REPO.parent.parent.name == "ansible_collections":
        root = REPO.parent.parent.parent
    else:
        root = REPO / "build" / "collections"
        link = root / "ansible_collections" / "chat_callback" / "mtls"
        if not link.exists():
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(REPO, target_is_directory=True)
    for path in (str(root), str(REPO / "tests")):
        if path not in sys.path:
            sys.path.insert(0, path)


_import_path()

import pki  # noqa: E402
from ansible_collections.chat_callback.mtls.plugins.module_utils import cert_checks  # noqa: E402

SERVER_NAME = "www.example.com"


def build_bundles(tmp: Path) -> list:
    root = pki.make_ca("Bench Root CA")
    inter = pki.make_ca("Bench Intermediate CA", issuer=root, path_length=0)
    client_cas = [pki.make_ca(f"Bench Client CA {i}", key_type=t) for i, t in enumerate(("rsa", "ec", "rsa"))]
    ca_bundle = b"".join(ca.cert_pem() for ca in client_cas)
    pins = [cert_checks.cert_fingerprint(ca.cert) for ca in client_cas]
    bundles = []
    for label, key_type in (("RSA-2048 leaf", "rsa"), ("P-256 leaf", "ec")):
        leaf = pki.make_leaf(inter, SERVER_NAME, sans=[SERVER_NAME], key_type=key_type)
        chain = leaf.cert_pem() + inter.cert_pem()
        folder = tmp / key_type
        folder.mkdir()
        (folder / "server.crt").write_bytes(chain)
        (folder / "server.key").write_bytes(leaf.key_pem())
        (folder / "root.crt").write_bytes(root.cert_pem())
        with zipfile.ZipFile(folder / "TencentQQAuthCA.crt.zip", "w") as zf:
            zf.writestr("TencentQQAuthCA.crt", ca_bundle)
        bundles.append({
            "label": label,
            "chain": chain,
            "key": leaf.key_pem(),
            "ca_bundle": ca_bundle,
            "pins": pins,
            "anchors": [root.cert],
            "params": {
                "certificate": str(folder / "server.crt"),
                "private_key": str(folder / "server.key"),
                "client_ca": str(folder / "TencentQQAuthCA.crt.zip"),
                "client_ca_sha256": pins,
                "server_ca": str(folder / "root.crt"),
                "server_name": SERVER_NAME,
            },
        })
    return bundles


def measure(func, runs: int) -> tuple:
    for _round in range(5):  # warm-up: imports, OpenSSL tables
        func()
    samples = []
    for _round in range(runs):
        start = time.perf_counter()
        func()
        samples.append((time.perf_counter() - start) * 1000.0)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.9) - 1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--runs", type=int, default=200, help="timed runs per scenario (default 200)")
    parser.add_argument("--target-ms", type=float, default=20.0, help="budget for a median, ms (default 20)")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="cert-check-bench-") as tmp:
        bundles = build_bundles(Path(tmp))
        print(f"cert_check in-process timing, median / p90 over {args.runs} runs "
              f"(python {sys.version.split()[0]}, cryptography {cert_checks.cryptography.__version__}, "
              f"pid {os.getpid()})")
        print("bundle: chain of 2 (leaf + intermediate) + key + client CA bundle of 3 CA certificates")
        worst = 0.0
        for bundle in bundles:
            def in_memory(b=bundle):
                facts, problems = cert_checks.check_bundle(
                    b["chain"], b["key"], b["ca_bundle"], SERVER_NAME, client_ca_sha256=b["pins"])
                assert not problems, problems
                return facts

            def with_verification(b=bundle):
                facts, problems = cert_checks.check_bundle(
                    b["chain"], b["key"], b["ca_bundle"], SERVER_NAME, client_ca_sha256=b["pins"],
                    server_ca_certs=b["anchors"])
                assert not problems and facts["server_chain_verified"], problems
                return facts

            def from_files(b=bundle):
                facts, problems = cert_checks.check_params(b["params"])
                assert not problems and facts["server_chain_verified"], problems
                return facts

            for name, func in (
                ("check_bundle (bytes)", in_memory),
                ("check_bundle + server_ca verify", with_verification),
                ("check_params (files, zip, verify)", from_files),
            ):
                median, p90 = measure(func, args.runs)
                worst = max(worst, median)
                print(f"  {bundle['label']:<14} {name:<34} median {median:7.3f} ms   p90 {p90:7.3f} ms")
        verdict = "OK" if worst <= args.target_ms else "TOO SLOW"
        print(f"slowest median {worst:.3f} ms, target {args.target_ms:g} ms per bundle: {verdict}")
    return 0 if worst <= args.target_ms else 1


if __name__ == "__main__":
    sys.exit(main())
