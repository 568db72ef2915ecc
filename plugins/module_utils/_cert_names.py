# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether a certificate covers a server name: its subjectAltName against the name (RFC 6125).

Used by the leaf checks (``_cert_policy``) and, for the name to verify with, by the server chain
verification (``_cert_verify``); converting non-ASCII names is ``_server_names``' part.
"""

from __future__ import absolute_import, division, print_function  # noqa: UP010

__metaclass__ = type  # noqa: UP001

import contextlib
import ipaddress

# cert_checks.HAS_CRYPTOGRAPHY reports a missing cryptography; nothing here runs then.
with contextlib.suppress(ImportError):
    from cryptography import x509

from ansible_collections.chat_callback.mtls.plugins.module_utils import _cert_inspect, _server_names


def parse_ip(name):
    """``ipaddress`` object for an IPv4/IPv6 literal (``[::1]`` accepted), else None."""
    candidate = name.strip()
    if candidate.startswith("[") and candidate.endswith("]"):
        candidate = candidate[1:-1]
    try:
        return ipaddress.ip_address(candidate)
    except ValueError:
        return None


def normalize_dns_name(name):
    """Lower-case, no trailing dot; non-ASCII labels converted to their A-label (IDNA 2008, UTS #46).

    A name that does not convert is returned as it is, and so matches no certificate name.
    """
    name = name.strip().rstrip(".")
    if _server_names.is_ascii(name):
        return name.lower()
    try:
        return _server_names.to_a_labels(name)
    except (UnicodeError, _server_names.IdnaUnavailable):
        return name.lower()


def dns_name_matches(pattern, hostname):
    """RFC 6125 section 6.4: exact match, or ``*`` as the whole left-most label matching one label."""
    pattern = normalize_dns_name(pattern)
    hostname = normalize_dns_name(hostname)
    if not pattern or not hostname:
        return False
    if pattern == hostname:
        return True
    p_labels = pattern.split(".")
    h_labels = hostname.split(".")
    if p_labels[0] != "*" or "*" in ".".join(p_labels[1:]):
        return False
    # "*.com" is never accepted; the wildcard stands for exactly one non-empty label
    if len(p_labels) < 3 or len(h_labels) != len(p_labels):
        return False
    if not h_labels[0] or h_labels[0] == "*":
        return False
    return h_labels[1:] == p_labels[1:]


def certificate_sans(cert):
    """(dns_names, ip_addresses) of the subjectAltName, or (None, None) without a readable extension."""
    ext = _cert_inspect.extension_value(cert, x509.SubjectAlternativeName)
    if ext is None:
        return None, None
    return ext.get_values_for_type(x509.DNSName), ext.get_values_for_type(x509.IPAddress)


def name_matches_cert(cert, server_name):
    dns_names, ips = certificate_sans(cert)
    if dns_names is None:
        return False
    ip = parse_ip(server_name)
    if ip is not None:
        return any(ip == candidate for candidate in ips)
    return any(dns_name_matches(pattern, server_name) for pattern in dns_names)
