# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""metrics_samples: the gauges of a deployed site for chat_callback.mtls.textfile_metrics.

Documented in metrics_samples.yml next to this file. Times are cert_check's ISO 8601 UTC strings,
turned into Unix seconds as UTC (a naive datetime's timestamp() would apply the controller's zone).
"""

from __future__ import absolute_import, division, print_function  # noqa: UP010

__metaclass__ = type  # noqa: UP001

import datetime

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.chat_callback.mtls.plugins.module_utils._cert_common import parse_iso_utc

try:
    from cryptography import x509
except ImportError:  # reported when a CRL is given
    x509 = None

PREFIX = "nginx_mtls_"
HELP = {
    "certificate_not_after_seconds": "When the site's certificate expires, in Unix seconds.",
    "certificate_not_before_seconds": "When the site's certificate became valid, in Unix seconds.",
    "client_ca_not_after_seconds": "When a certificate of the site's client CA bundle expires, in Unix seconds.",
    "crl_next_update_seconds": "When the deployed CRL must be replaced (its nextUpdate); past it nginx refuses "
                               "every client.",
    "certificate_info": "The certificate the site serves and its TLS profile, as labels.",
    "last_deploy_timestamp_seconds": "When the role last changed the site, in Unix seconds.",
}


def _seconds(iso):
    return int(parse_iso_utc(iso).timestamp())


def _crl_next_update(crl):
    if x509 is None:
        raise AnsibleFilterError("metrics_samples needs the Python cryptography package on the controller for a CRL")
    data = to_bytes(crl)
    try:
        parsed = x509.load_pem_x509_crl(data) if b"-----BEGIN" in data else x509.load_der_x509_crl(data)
    except ValueError as exc:
        raise AnsibleFilterError(f"metrics_samples: the CRL cannot be parsed: {exc}") from None
    moment = getattr(parsed, "next_update_utc", None) or (
        parsed.next_update and parsed.next_update.replace(tzinfo=datetime.timezone.utc))
    return int(moment.timestamp()) if moment else None


def _sample(name, labels, value):
    return {"name": PREFIX + name, "help": HELP[name], "labels": labels, "value": value}


def metrics_samples(check, server_name, tls_profile, crl=""):
    """``{samples, stamp}`` for textfile_metrics, from cert_check's result for the deployed files."""
    try:
        certificate = check["certificate"]
        labels = {"server_name": server_name}
        samples = [
            _sample("certificate_not_after_seconds", labels, _seconds(certificate["not_after"])),
            _sample("certificate_not_before_seconds", labels, _seconds(certificate["not_before"])),
        ]
        samples += [_sample("client_ca_not_after_seconds",
                            dict(labels, subject=ca["subject"], sha256_fingerprint=ca["sha256_fingerprint"]),
                            _seconds(ca["not_after"]))
                    for ca in check.get("client_cas") or []]
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"metrics_samples expects cert_check's result with its facts ({exc})") from None
    next_update = _crl_next_update(crl) if crl else None
    if next_update is not None:
        samples.append(_sample("crl_next_update_seconds", labels, next_update))
    samples.append(_sample("certificate_info", dict(labels, serial=certificate.get("serial", ""),
                                                    sha256_fingerprint=certificate.get("sha256_fingerprint", ""),
                                                    tls_profile=tls_profile), 1))
    stamp = {"name": PREFIX + "last_deploy_timestamp_seconds", "help": HELP["last_deploy_timestamp_seconds"],
             "labels": labels}
    return {"samples": samples, "stamp": stamp}


class FilterModule:
    def filters(self):
        return {"metrics_samples": metrics_samples}
