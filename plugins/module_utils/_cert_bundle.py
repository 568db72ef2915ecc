# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The entry points: :func:`check_bundle` on loaded inputs, :func:`check_params` on the module's
options, and :func:`summarize` of the problems found.

They run the checks of the other ``_cert_*`` modules input by input, in the order the report
lists them, and guarantee that no input makes them raise: an exception or a Python warning
from a check becomes a problem or a warning of the module.
"""

from __future__ import absolute_import, division, print_function  # noqa: UP010

__metaclass__ = type  # noqa: UP001

import contextlib
import warnings as py_warnings

# cert_checks.HAS_CRYPTOGRAPHY reports a missing cryptography; nothing here runs then.
with contextlib.suppress(ImportError):
    from cryptography.hazmat.primitives.asymmetric import dsa

from ansible_collections.chat_callback.mtls.plugins.module_utils import _cert_keys, _server_names
from ansible_collections.chat_callback.mtls.plugins.module_utils._cert_chains import (
    check_chain,
    check_client_cas,
    check_pins,
    client_ca_facts,
)
from ansible_collections.chat_callback.mtls.plugins.module_utils._cert_options import DEFAULTS, LABELLED
from ansible_collections.chat_callback.mtls.plugins.module_utils._cert_common import (
    Problem,
    describe_cert,
    iso_utc,
    not_valid_after,
    utcnow,
)
from ansible_collections.chat_callback.mtls.plugins.module_utils._cert_input import (
    PemSource,
    check_pem_text,
    load_pem_input,
    read_file,
)
from ansible_collections.chat_callback.mtls.plugins.module_utils._cert_parse import load_private_key, parse_certificates
from ansible_collections.chat_callback.mtls.plugins.module_utils._cert_policy import (
    certificate_facts,
    check_key_match,
    check_leaf,
    check_validity,
)
from ansible_collections.chat_callback.mtls.plugins.module_utils._cert_verify import load_server_ca, verify_server_chain


def _as_source(value, option, kind, problems, allow_zip=False):
    """Accept a PemSource or raw bytes/str content; None stays None."""
    if value is None or isinstance(value, PemSource):
        return value
    source, found = load_pem_input(option, content=value, kind=kind, allow_zip=allow_zip, content_option=option)
    problems.extend(found)
    return source


def _read_certificates(source, kind, problems, warnings=None):
    """Parse the certificates of a PEM input, adding its problems to ``problems``.

    Returns the certificates and the input's text, or None for the text when the file also holds a
    private key: such a file's text is never returned.
    """
    found = check_pem_text(source, kind)
    problems.extend(found)
    if found:
        return [], None
    certs, found = parse_certificates(source, kind, warnings)
    problems.extend(found)
    if any(p.code == "private_key_in_file" for p in found):
        return certs, None
    return certs, source.text()


def _internal_error(exc):
    # The exception's text is left out: it may quote the input, and the input may be a private key.
    return Problem(
        "internal_error",
        f"cert_check stopped at an input it does not handle ({exc.__class__.__name__}); the checks after that "
        f"point did not run. This is a bug in cert_check: please report it, with the certificates (never the "
        f"private key).",
    )


def _guarded(run, warnings):
    """``run(facts, problems)``, turned into ``(facts, problems)`` whatever the input.

    An exception becomes the problem ``internal_error`` after the problems found so far, and a
    Python warning (printed to stderr, where ansible-core complains that the worker process
    "errantly sent data directly to stderr") becomes a warning of the module.
    """
    facts, problems = {}, []
    with py_warnings.catch_warnings(record=True) as caught:
        py_warnings.simplefilter("always")
        try:
            run(facts, problems)
        except Exception as exc:
            problems.append(_internal_error(exc))
    if warnings is not None:
        for message in dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught):
            warnings.append(f"cert_check: {message}")
    return facts, problems


def check_bundle(certificate, private_key, client_ca, server_name, *, private_key_passphrase=None,
                 client_ca_sha256=None, min_days_valid=DEFAULTS["min_days_valid"], warn_days=DEFAULTS["warn_days"],
                 min_rsa_bits=DEFAULTS["min_rsa_bits"], server_ca_certs=None, server_ca_label="server_ca", now=None,
                 warnings=None, input_problems=None, min_days_label="min_days_valid"):
    """Check a server certificate (chain), its key and the client CA bundle.

    ``certificate``, ``private_key``, ``client_ca``: :class:`PemSource` (from
    :func:`load_pem_input`) or PEM bytes/str. ``private_key`` may be None: the key
    checks are then skipped (a passphrase without a key is a problem of its own);
    ``client_ca`` too: the CA checks are then skipped. ``min_days_label`` is what
    problems call the ``min_days_valid`` limit.
    ``server_ca_certs``: trust anchors (list of ``x509.Certificate``) to verify the
    server chain against, or None to skip.
    Warnings (expiry within ``warn_days``, unused passphrase) are appended to the
    ``warnings`` list when one is given. ``input_problems`` maps ``certificate`` /
    ``private_key`` / ``client_ca`` / ``server_ca`` to problems found while loading
    that input, so that the report lists problems input by input.

    Returns ``(facts, problems)``: ``facts`` holds the module's return values (the
    parts that could be computed), ``problems`` a list of :class:`Problem`; no input
    makes it raise.
    """
    def run(facts, problems):
        _check_bundle(facts, problems, certificate=certificate, private_key=private_key, client_ca=client_ca,
                      server_name=server_name, private_key_passphrase=private_key_passphrase,
                      client_ca_sha256=client_ca_sha256, min_days_valid=min_days_valid, warn_days=warn_days,
                      min_rsa_bits=min_rsa_bits, server_ca_certs=server_ca_certs, server_ca_label=server_ca_label,
                      now=now, warnings=warnings, input_problems=input_problems, min_days_label=min_days_label)
    return _guarded(run, warnings)


def _check_bundle(facts, problems, *, certificate, private_key, client_ca, server_name, private_key_passphrase,
                  client_ca_sha256, min_days_valid, warn_days, min_rsa_bits, server_ca_certs, server_ca_label, now,
                  warnings, input_problems, min_days_label="min_days_valid"):
    now = now or utcnow()
    input_problems = input_problems or {}
    problems.extend(input_problems.get("certificate", []))
    cert_src = _as_source(certificate, "certificate", "certificate", problems)
    key_src = _as_source(private_key, "private_key", "private key", problems)
    ca_src = _as_source(client_ca, "client_ca", "CA certificate bundle", problems)

    # server certificate (chain)
    chain = []
    if cert_src is not None:
        chain, text = _read_certificates(cert_src, "certificate", problems, warnings)
        if text is not None:
            facts["certificate_pem"] = text
    leaf = None
    if chain:
        # chain first: when the file is merely out of order, the leaf checks run on the real leaf
        # so that the one cause ("chain_order") is not buried under follow-up errors
        found, leaf_index = check_chain(chain, cert_src.label)
        leaf = chain[leaf_index]
        facts["certificate"] = certificate_facts(leaf, len(chain), now)
        problems.extend(check_validity(leaf, cert_src.label, now, min_days_valid=min_days_valid,
                                       warn_days=warn_days, warnings=warnings, min_days_label=min_days_label))
        problems.extend(check_leaf(leaf, cert_src.label, server_name, min_rsa_bits, warnings))
        problems.extend(found)
        for number, cert in enumerate(chain, 1):
            if cert is not leaf and now > not_valid_after(cert):
                problems.append(Problem(
                    "chain_expired",
                    f"{cert_src.label}: chain certificate #{number} ({describe_cert(cert)}) expired on "
                    f"{iso_utc(not_valid_after(cert))}; get the current intermediate from the certificate vendor.",
                ))

    # private key (optional: without one, the key checks are skipped)
    problems.extend(input_problems.get("private_key", []))
    if private_key is None and not input_problems.get("private_key") and private_key_passphrase:
        # A passphrase shows the caller meant to check a key: say so rather than skip the check silently.
        problems.append(Problem(
            "passphrase_without_key",
            "private_key_passphrase is set but no private key is given (private_key or private_key_content); "
            "give the key to check it against the certificate, or leave out the passphrase.",
        ))
    key = None
    if key_src is not None:
        found = check_pem_text(key_src, "private key")
        problems.extend(found)
        if not found:
            key, encrypted, found = load_private_key(key_src, private_key_passphrase, warnings)
            problems.extend(found)
            facts["private_key_encrypted"] = encrypted
    if key is not None:
        if isinstance(key, dsa.DSAPrivateKey) and not (leaf and _cert_keys.certificate_key_type(leaf)[0] == "DSA"):
            problems.append(Problem("dsa_key", f"{key_src.label} is a DSA key; TLS clients no longer accept DSA. "
                                               f"Use RSA (2048+ bits) or ECDSA."))
        if leaf is not None:
            problems.extend(check_key_match(leaf, key, cert_src.label, key_src.label))

    # client CA bundle
    problems.extend(input_problems.get("client_ca", []))
    cas = []
    if ca_src is not None:
        cas, text = _read_certificates(ca_src, "CA certificate bundle", problems, warnings)
        if text is not None:
            facts["client_ca_pem"] = text
    if cas:
        facts["client_cas"] = client_ca_facts(cas)
        problems.extend(check_client_cas(cas, ca_src.label, now, warnings))
        if client_ca_sha256:
            problems.extend(check_pins(cas, client_ca_sha256, ca_src.label))

    # server chain against a CA
    problems.extend(input_problems.get("server_ca", []))
    facts["server_chain_verified"] = False
    # a name that cannot be converted was reported by check_leaf; verifying with it would only fail again
    if server_ca_certs is not None and leaf is not None and not _server_names.missing_idna_message(server_name):
        ordered = [leaf] + [c for c in chain if c is not leaf]
        found = verify_server_chain(ordered, server_ca_certs, server_name, now, label=cert_src.label,
                                    ca_label=server_ca_label)
        problems.extend(found)
        facts["server_chain_verified"] = not found


def check_params(params, warnings=None, now=None, basedir=None, reader=read_file):
    """Run every check from module-style ``params`` (paths or contents); returns ``(facts, problems)``.

    Relative paths are read from ``basedir`` when given, else from the working directory; every
    file is read with ``reader`` (see :func:`read_file`). No input makes it raise.
    """
    def run(facts, problems):
        _check_params(facts, problems, params, warnings=warnings, now=now, basedir=basedir, reader=reader)
    return _guarded(run, warnings)


def _check_params(facts, problems, params, *, warnings, now, basedir, reader):
    p = dict(DEFAULTS)
    p.update(params)
    labels = p["labels"] or {}
    unknown = sorted(set(labels) - set(LABELLED))
    if unknown:
        problems.append(Problem("bad_option", f"labels: {', '.join(unknown)} cannot be labelled; "
                                              f"only {', '.join(LABELLED)} can."))
        return
    loading = {}
    cert_src, loading["certificate"] = load_pem_input(
        "certificate", p["certificate"], p["certificate_content"], "certificate", basedir=basedir, reader=reader,
        content_option=labels.get("certificate_content"))
    key_src = None
    # The key is optional: an audit checks deployed certificates without ever fetching their key.
    if p["private_key"] is not None or p["private_key_content"] is not None:
        key_src, loading["private_key"] = load_pem_input(
            "private_key", p["private_key"], p["private_key_content"], "private key", basedir=basedir, reader=reader)
    ca_src = None
    if p["client_ca"] is not None or p["client_ca_content"] is not None:
        ca_src, loading["client_ca"] = load_pem_input(
            "client_ca", p["client_ca"], p["client_ca_content"], "CA certificate bundle", allow_zip=True,
            basedir=basedir, reader=reader, content_option=labels.get("client_ca_content"))
    anchors, anchors_label = None, "server_ca"
    if p["server_ca"] is not None or p["server_ca_content"] is not None:
        anchors, anchors_label, loading["server_ca"] = load_server_ca(
            p["server_ca"], p["server_ca_content"], basedir=basedir, reader=reader, warnings=warnings)
        if loading["server_ca"] or not anchors:
            anchors = None
    _check_bundle(
        facts, problems, certificate=cert_src, private_key=key_src, client_ca=ca_src, server_name=p["server_name"],
        private_key_passphrase=p["private_key_passphrase"],
        client_ca_sha256=p["client_ca_sha256"],
        min_days_valid=p["min_days_valid"] or 0,
        warn_days=p["warn_days"] or 0,
        min_rsa_bits=p["min_rsa_bits"],
        server_ca_certs=anchors,
        server_ca_label=anchors_label,
        now=now,
        warnings=warnings,
        input_problems=loading,
        min_days_label=labels.get("min_days_valid", "min_days_valid"),
    )


def summarize(problems):
    """One ``msg`` for all problems."""
    if not problems:
        return "certificate, private key and client CA look good"
    if len(problems) == 1:
        return f"cert_check found a problem: {problems[0].message}"
    numbered = " ".join(f"({i}) {p.message}" for i, p in enumerate(problems, 1))
    return f"cert_check found {len(problems)} problems: {numbered}"
