#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# Ansible module layout: py2-style boilerplate first, imports after the documentation strings.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: tls_probe
short_description: Probe a TLS endpoint (optionally with a client certificate) and report what it serves
version_added: 0.1.0
description:
  - Opens a TCP connection to O(host):O(port), performs a TLS handshake with O(server_name) as SNI and, unless
    O(http=false), sends one C(GET) request for O(path) with O(server_name) in the C(Host) header.
  - Reports the negotiated protocol and cipher, the SHA-256 fingerprint of the leaf certificate the server presented,
    and the HTTP status, C(Server) header and (truncated) body of the response.
  - Written for proving that an nginx server block with mutual TLS (C(ssl_verify_client on)) serves the certificate
    that was just deployed and refuses requests without a valid client certificate, and for checking which TLS
    protocol versions an endpoint accepts.
  - Uses only the Python standard library (C(ssl), C(socket), C(http.client)), so it runs on any managed node with
    a plain C(python3).
  - B(The server certificate is not validated.) The handshake is done with C(CERT_NONE) and hostname checking
    disabled, so self-signed, expired, or otherwise untrusted certificates are accepted. Compare RV(sha256_fingerprint)
    with the fingerprint of the certificate you expect instead (for example the one reported by
    M(chat_callback.mtls.cert_check)).
  - B(A refused connection, a failed handshake, or a failed request is not a module failure.) It is reported in
    RV(tls_established), RV(error), RV(status) and the other return values so that the playbook can assert on the
    outcome (for example that TLS 1.1 is refused, or that a request without client certificate gets HTTP 400).
    The module fails only for invalid parameters or an unusable O(client_cert)/O(client_key).
  - The module never changes anything; RV(ignore:changed) is always V(false).
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - chat_callback.mtls._attributes
  - chat_callback.mtls._attributes.read_only
attributes:
  check_mode:
    details: Only reads, so it runs normally in check mode and returns the same results.
options:
  host:
    description:
      - Host name or IP address to connect to.
      - This is the TCP destination only; what the server sees as SNI and C(Host) is O(server_name).
    type: str
    default: 127.0.0.1
  addresses:
    description:
      - Probe each of these host names or IP addresses (IPv6 without brackets) in turn, instead of O(host). A
        server reachable on several addresses can serve another site on one of them (a C(listen <address>:443)
        block of another site wins over a wildcard C(listen 443)); the expectations must hold on every one.
      - The top-level results are those of the first address; RV(addresses) holds each one's.
    type: list
    elements: str
    default: []
    version_added: 0.2.1
  port:
    description:
      - TCP port to connect to.
    type: int
    default: 443
  server_name:
    description:
      - Name sent as TLS SNI (server name indication) and in the HTTP C(Host) header.
      - The C(Host) header gets C(:port) appended when O(port) is not V(443), as HTTP clients do; nginx ignores
        the port when it selects the server block.
      - If this is an IP address, no SNI is sent (TLS does not allow IP addresses in SNI).
    type: str
    required: true
  path:
    description:
      - Request target of the C(GET) request, sent as given (query string included).
      - Must start with C(/) and contain only printable ASCII without spaces; percent-encode anything else.
      - Ignored when O(http=false).
    type: str
    default: /
  client_cert:
    description:
      - Path to a PEM file with the client certificate to present, on the machine the module runs on.
      - Extra certificates after the first one in the file are sent as the chain.
      - Requires O(client_key). Without both, no client certificate is sent.
    type: path
  client_key:
    description:
      - Path to the unencrypted PEM private key that belongs to O(client_cert), on the machine the module runs on.
      - Encrypted keys are not supported.
      - The key content is never returned or logged.
    type: path
  tls_version_min:
    description:
      - Lowest TLS protocol version the client offers.
      - When not set, the default of the Python C(ssl) module and the system OpenSSL configuration applies
        (with OpenSSL 3 usually TLS 1.2).
    type: str
    choices: [TLSv1, TLSv1.1, TLSv1.2, TLSv1.3]
  tls_version_max:
    description:
      - Highest TLS protocol version the client offers.
      - When not set, the library default applies (TLS 1.3 with any current OpenSSL).
      - When this is V(TLSv1) or V(TLSv1.1) and O(ciphers) is not set, the cipher string
        V(DEFAULT:@SECLEVEL=0) is used, because OpenSSL 3 refuses to offer TLS 1.0/1.1 at its default
        security level. Set O(tls_version_min) as well to test exactly one old version.
    type: str
    choices: [TLSv1, TLSv1.1, TLSv1.2, TLSv1.3]
  ciphers:
    description:
      - OpenSSL cipher list for TLS 1.2 and below, for example V(ECDHE+AESGCM) or V(DEFAULT:@SECLEVEL=0).
      - TLS 1.3 cipher suites are not affected by this option.
      - When not set, the library default is used (see O(tls_version_max) for the exception).
    type: str
  timeout:
    description:
      - Timeout in seconds for each network operation (connect, handshake, each send and each read).
    type: float
    default: 5
  http:
    description:
      - Send the C(GET) request after the handshake and read the response.
      - When V(false), only the TCP connection and the TLS handshake are done; RV(status) is V(null).
    type: bool
    default: true
  headers:
    description:
      - Extra request headers, for example to prove that a proxy replaces a header a client forged.
      - Names and values must be printable ASCII without line breaks.
    type: dict
    default: {}
  max_body:
    description:
      - Maximum number of bytes of the response body to read and return in RV(body).
      - V(0) reads and returns no body.
    type: int
    default: 4096
  expect_sha256_fingerprint:
    description:
      - When set, the module fails unless the handshake completed and the served certificate has this SHA-256
        fingerprint (colons and case do not matter). RV(expectation_failed) tells this failure apart.
    type: str
  expect_status:
    description:
      - When set, the module fails unless the HTTP response has this status. RV(expectation_failed) tells this
        failure apart.
    type: int
notes:
  - "How an nginx server with C(ssl_verify_client on) refuses a client: nginx completes the handshake even without a
    client certificate, or with one it cannot verify, and then answers every request with HTTP 400 (C(No required SSL
    certificate was sent) or C(The SSL certificate error)). The module then returns RV(tls_established=true),
    RV(status=400), an empty RV(error) and the nginx error page in RV(body)."
  - "Other servers reject a client certificate with a TLS alert. With TLS 1.2 the alert ends the handshake, so
    RV(tls_established=false). With TLS 1.3 the client has already finished its side of the handshake when the alert
    arrives; it surfaces on the first read, so RV(tls_established=true), RV(status=null), and RV(error) holds the
    alert text (for example C([SSL: TLSV1_ALERT_UNKNOWN_CA] tlsv1 alert unknown ca ...))."
  - RV(tls_established) therefore means that the client completed the handshake, not that the server accepted the
    client; check RV(status) and RV(error) as well.
seealso:
  - name: nginx ssl_verify_client
    description: How nginx requests and verifies client certificates.
    link: https://nginx.org/en/docs/http/ngx_http_ssl_module.html#ssl_verify_client
  - name: Python ssl module
    description: The TLS implementation used by this module.
    link: https://docs.python.org/3/library/ssl.html
"""

EXAMPLES = r"""
- name: Probe the freshly reloaded nginx without a client certificate
  chat_callback.mtls.tls_probe:
    host: 127.0.0.1
    port: 443
    server_name: chat-callback.example.com
  register: probe_anon

- name: Nginx serves the deployed certificate and refuses the anonymous request
  ansible.builtin.assert:
    that:
      - probe_anon.tls_established
      - probe_anon.sha256_fingerprint == deployed_cert.sha256_fingerprint
      - probe_anon.status == 400
      - "'No required SSL certificate was sent' in probe_anon.body"

- name: Fail unless the deployed certificate is served and a request without client certificate gets 400
  chat_callback.mtls.tls_probe:
    server_name: chat-callback.example.com
    expect_sha256_fingerprint: "{{ deployed_cert.sha256_fingerprint }}"
    expect_status: 400

- name: Probe with the client certificate Tencent Cloud Chat would present
  chat_callback.mtls.tls_probe:
    host: 127.0.0.1
    port: 443
    server_name: chat-callback.example.com
    path: /healthz
    client_cert: /etc/nginx/mtls/client.crt
    client_key: /etc/nginx/mtls/client.key
  register: probe_client

- name: The request with client certificate passes mutual TLS
  ansible.builtin.assert:
    that:
      - probe_client.status not in [400, 495, 496]
      - probe_client.error == ''

- name: TLS 1.1 must be refused under the default profile
  chat_callback.mtls.tls_probe:
    host: "{{ inventory_hostname }}"
    port: 8443
    server_name: chat-callback.example.com
    tls_version_min: TLSv1.1
    tls_version_max: TLSv1.1
    http: false
  delegate_to: localhost
  register: probe_tls11

- name: Assert the handshake failed (and the port was reachable)
  ansible.builtin.assert:
    that:
      - not probe_tls11.tls_established
      - "'connection refused' not in probe_tls11.error"
      - probe_tls11.error != ''

- name: Only look at the certificate, with a short timeout
  chat_callback.mtls.tls_probe:
    host: web01.example.com
    server_name: chat-callback.example.com
    http: false
    timeout: 2
  register: cert_only
"""

RETURN = r"""
expectation_failed:
  description:
    - Whether O(expect_sha256_fingerprint) or O(expect_status) was not met (the module then fails), on any of
      O(addresses).
  returned: always
  type: bool
  sample: false
port_held_by_another:
  description:
    - When an expectation was not met, whether a program other than nginx listens on O(port) on this host (read
      from C(/proc); C(nginx -t) does not bind, and a reload returns before nginx fails to). RV(ignore:msg) then
      starts with that program, its pid and address.
  returned: failure
  type: bool
  sample: true
  version_added: 0.4.0
addresses:
  description:
    - With O(addresses), the result of each address (the same keys as the top-level result), keyed by address. The
      module's message names every address whose expectations were not met and what it served.
  returned: when O(addresses) is given
  type: dict
  sample:
    127.0.0.1: {tls_established: true, status: 400, expectation_failed: false, sha256_fingerprint: "AB:CD:..."}
    192.0.2.10: {tls_established: true, status: 200, expectation_failed: true, sha256_fingerprint: "12:34:..."}
tls_established:
  description:
    - Whether the TLS handshake completed on the client side.
    - With TLS 1.3 a server can still reject the client certificate after this point; see RV(error) and the notes.
  returned: always
  type: bool
  sample: true
error:
  description:
    - Empty on success.
    - "Otherwise the first problem met, for example the connect error (C(connection refused by 127.0.0.1:443),
      C(timed out connecting to 127.0.0.1:443)), the handshake error as reported by OpenSSL
      (C([SSL: TLSV1_ALERT_PROTOCOL_VERSION] tlsv1 alert protocol version ...)), a TLS alert received
      on the first read, or an HTTP-level problem (C(no HTTP response: ...))."
    - If an HTTP response arrived, RV(status) is set even when reading the rest of the body failed and this is
      not empty.
  returned: always
  type: str
  sample: ""
protocol:
  description: Negotiated protocol version, V(null) if the handshake did not complete.
  returned: always
  type: str
  sample: TLSv1.3
cipher:
  description: Negotiated cipher (OpenSSL name), V(null) if the handshake did not complete.
  returned: always
  type: str
  sample: TLS_AES_256_GCM_SHA384
sha256_fingerprint:
  description:
    - SHA-256 fingerprint of the DER encoding of the leaf certificate the server presented, as colon-separated
      upper-case hex (the format of C(openssl x509 -noout -fingerprint -sha256) and of the other modules of this
      collection).
    - V(null) if the handshake did not complete.
  returned: always
  type: str
  sample: "3A:9F:12:C4:5B:7E:0D:88:21:6A:F0:4C:93:BD:17:E2:55:08:6C:AF:D1:39:42:7B:E8:0A:61:FD:2C:94:B3:70"
status:
  description: HTTP status code of the response, V(null) if no HTTP response was received or O(http=false).
  returned: always
  type: int
  sample: 400
body:
  description:
    - Start of the response body, at most O(max_body) bytes, decoded with the charset from C(Content-Type)
      (default UTF-8), undecodable bytes replaced.
    - Empty string if there was no response or no body.
  returned: always
  type: str
  sample: "<html>\r\n<head><title>400 No required SSL certificate was sent</title></head>\r\n..."
server_header:
  description: Value of the C(Server) response header, V(null) if there was no response or no such header.
  returned: always
  type: str
  sample: nginx
"""

from ansible_collections.chat_callback.mtls.plugins.module_utils._module import AnsibleModule
from ansible_collections.chat_callback.mtls.plugins.module_utils._probe import run_probe, unmet_expectations
from ansible_collections.chat_callback.mtls.plugins.module_utils._probe_tls import TLS_VERSIONS, ProbeParameterError
from ansible_collections.chat_callback.mtls.plugins.module_utils._sockets import held_by_another


ARGUMENT_SPEC = dict(
    host=dict(type="str", default="127.0.0.1"),
    port=dict(type="int", default=443),
    server_name=dict(type="str", required=True),
    path=dict(type="str", default="/"),
    client_cert=dict(type="path"),
    client_key=dict(type="path", no_log=False),
    tls_version_min=dict(type="str", choices=TLS_VERSIONS),
    tls_version_max=dict(type="str", choices=TLS_VERSIONS),
    ciphers=dict(type="str"),
    timeout=dict(type="float", default=5.0),
    http=dict(type="bool", default=True),
    headers=dict(type="dict", default={}),
    max_body=dict(type="int", default=4096),
)


ADDRESSES_SPEC = dict(
    addresses=dict(type="list", elements="str", default=[]),
)


EXPECT_SPEC = dict(
    expect_sha256_fingerprint=dict(type="str"),
    expect_status=dict(type="int"),
)


def _endpoint(host, port):
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def main():
    module = AnsibleModule(
        argument_spec=dict(ARGUMENT_SPEC, **ADDRESSES_SPEC, **EXPECT_SPEC),
        required_together=[("client_cert", "client_key")],
        supports_check_mode=True,
    )
    expected = dict((name, module.params[name]) for name in EXPECT_SPEC)
    params = dict((name, module.params[name]) for name in ARGUMENT_SPEC)
    by_address, failures = {}, []
    for address in module.params["addresses"] or [params["host"]]:
        try:
            result = run_probe(**dict(params, host=address))
        except ProbeParameterError as exc:
            module.fail_json(msg=str(exc), changed=False)
        unmet = unmet_expectations(result, **expected)
        result["expectation_failed"] = bool(unmet)
        by_address[address] = result
        if unmet:
            failures.append(f"{_endpoint(address, params['port'])} (SNI {params['server_name']}): " + "; ".join(unmet))
    result = dict(next(iter(by_address.values())), expectation_failed=bool(failures))
    if module.params["addresses"]:
        result["addresses"] = by_address
    if failures:
        # a port another program holds is the cause, whatever the probe met there
        holder = held_by_another(params["port"])
        module.fail_json(msg=holder + " | ".join(failures), changed=False, port_held_by_another=bool(holder), **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
