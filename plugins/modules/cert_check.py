#!/usr/bin/python
# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function  # noqa: UP010

__metaclass__ = type  # noqa: UP001

DOCUMENTATION = r"""
---
module: cert_check
short_description: Validate the certificate, private key and client CA of an nginx mutual-TLS endpoint
version_added: 0.1.0
description:
  - Checks the files an operator gets for a Tencent Cloud Chat webhook callback endpoint terminated by nginx
    with mutual TLS - the domain certificate (optionally with its chain), its private key and the vendor's
    client CA (C(TencentQQAuthCA.crt), possibly still inside C(TencentQQAuthCA.crt.zip)) - before anything
    is deployed to a host.
  - The private key is optional. Without O(private_key) and O(private_key_content) the key checks are skipped and
    only the certificate and the client CA are checked, for example to audit the certificates deployed on hosts
    without ever fetching a private key to the controller.
  - Every problem found is reported at once, as plain-language messages in RV(problems) and stable codes in
    RV(problem_codes); the module fails when there is at least one.
  - "It fails when an input is missing, unreadable, empty, larger than 1 MiB, not PEM (DER input is named as
    such, with the C(openssl) command that converts it); a certificate or key does not parse; the key is
    encrypted and no or a wrong passphrase is given; a passphrase is given without a key; the key does not
    belong to the certificate; the certificate is expired, not yet valid, or valid for fewer than
    O(min_days_valid) days; O(server_name) is not covered by the certificate's subjectAltName; the certificate
    has an extendedKeyUsage without serverAuth; the key is RSA smaller than O(min_rsa_bits) or DSA; the
    certificate's key is of a type OpenSSL cannot serve TLS with (X25519, X448, DH, ML-DSA, ML-KEM, EC under 224
    bits); a certificate has an EC key with explicit curve parameters, or extensions or a public key that do not
    parse; the certificate is signed with MD5 or SHA-1; the chain in the certificate file is out of order or not
    linked by signatures; a client CA certificate is not a CA or is expired; the client CA bundle lacks the chain
    up to a self-signed root CA; the client CA bundle does not match O(client_ca_sha256); the chain does not verify
    against O(server_ca)."
  - "It warns (and passes) when the certificate has an Ed25519 or Ed448 key or an EC key on a curve other than
    P-256, P-384 and P-521 (many TLS clients cannot use them), when the client CA bundle holds a self-signed X.509
    version 1 root (OpenSSL accepts it as a CA), and when a certificate has a serial number of zero or below."
  - "Runs wherever it is executed; to check files on the Ansible controller use C(delegate_to: localhost)
    (or C(connection: local)). Nothing is changed, so RV(ignore:changed) is always V(false)."
  - Private key material and the passphrase are never returned nor logged, at any verbosity.
requirements:
  - cryptography >= 38.0 (Debian 12's C(python3-cryptography) works); 43.0 or later for O(server_ca)
  - idna, optional (Debian's C(python3-idna)), for an O(server_name) with the characters IDNA 2003 and IDNA 2008
    convert differently; see the notes
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - chat_callback.mtls._attributes
  - chat_callback.mtls._attributes.read_only
attributes:
  action:
    support: full
    details:
      - "When the task runs on the controller through the local connection (C(delegate_to: localhost) with the
        implicit localhost, or C(connection: local)), without become and without the C(environment) keyword, the
        checks run inside Ansible's own process, without starting a Python per host. Otherwise the module runs as
        usual."
  async:
    support: full
    details: With C(async) the module runs as usual (through the async wrapper), on the controller too.
  bypass_host_loop:
    support: none
  check_mode:
    details: Nothing is ever changed; the checks run the same way in check mode.
notes:
  - On the controller without become (see the C(action) attribute), the checks run inside Ansible's own process,
    with ansible-core's Python and its C(cryptography) - C(ansible_python_interpreter) is not used. Relative paths
    are read from the playbook's directory, as the module does on the controller. With become the module runs as
    the become user, who may read files the controller user cannot.
  - Server name matching follows RFC 6125 - only subjectAltName entries count (the subject CN is ignored),
    DNS names compare case-insensitively, a C(*) is accepted only as the whole left-most label and matches
    exactly one label (C(*.example.com) covers C(www.example.com) but neither C(example.com) nor
    C(a.b.example.com)). An IP address O(server_name) must be listed as an IP subjectAltName.
  - Internationalized names are compared in their punycode (A-label) form; a Unicode O(server_name) is
    converted first, by IDNA 2008 (UTS 46, non-transitional) as CAs and browsers do, with the Python package
    C(idna). Where it is not installed (Debian's C(python3-cryptography) does not pull it in), names without
    ß, ς and zero-width (non-)joiners are converted with Python's IDNA 2003 codec, which gives the same A-label
    for them; a name with one of those characters fails with V(idna_unavailable) instead of matching the wrong
    name.
  - Supported keys are RSA (also RSA-PSS), EC (NIST curves) and Ed25519/Ed448, in PKCS#8, PKCS#1 or SEC1 PEM,
    optionally encrypted.
options:
  certificate:
    description:
      - Path to the server certificate in PEM format, on the machine the module runs on.
      - May hold the full chain - the server certificate first, then each intermediate CA certificate in order.
      - Exactly one of O(certificate) and O(certificate_content) is required.
    type: path
  certificate_content:
    description:
      - The server certificate (chain) as PEM text, for example from a variable.
      - Exactly one of O(certificate) and O(certificate_content) is required.
    type: str
  private_key:
    description:
      - Path to the private key of the server certificate in PEM format (PKCS#8, PKCS#1 or SEC1; RSA, EC or
        Ed25519), on the machine the module runs on.
      - At most one of O(private_key) and O(private_key_content) may be given. When neither is, the checks of the
        key (it parses, it is decrypted, it belongs to the certificate) are skipped; RV(certificate.key_type) and
        RV(certificate.key_size) still come from the certificate's public key.
    type: path
  private_key_content:
    description:
      - The private key as PEM text, for example from Ansible Vault. Never logged nor returned.
      - At most one of O(private_key) and O(private_key_content) may be given; see O(private_key).
    type: str
  private_key_passphrase:
    description:
      - Passphrase of an encrypted private key. Never logged nor returned.
      - Ignored (with a warning) when the key is not encrypted.
      - Giving it without O(private_key) or O(private_key_content) is a problem (V(passphrase_without_key)), so that
        a key check that was meant to run is never skipped silently.
    type: str
  client_ca:
    description:
      - Path to the PEM bundle of one or more CA certificates that issue the client certificates
        (nginx's C(ssl_client_certificate)).
      - May also be a ZIP archive such as the vendor's C(TencentQQAuthCA.crt.zip); it must hold exactly one
        certificate file (a member ending in C(.crt), C(.pem) or C(.cer)), which is then used.
      - At most one of O(client_ca) and O(client_ca_content) may be given. Without either the client CA checks
        are skipped (an audit of a host that has a certificate but no client CA); the M(chat_callback.mtls.cert_check)
        calls of the nginx_mtls role always give one.
    type: path
  client_ca_content:
    description:
      - The client CA bundle as PEM text.
      - At most one of O(client_ca) and O(client_ca_content) may be given; see O(client_ca).
    type: str
  server_name:
    description:
      - The name nginx serves (its C(server_name)); a DNS name or an IPv4/IPv6 address.
      - It must be covered by the certificate's subjectAltName.
    type: str
    required: true
  client_ca_sha256:
    description:
      - SHA-256 fingerprints of the certificates the client CA bundle must hold - no more, no fewer.
      - Hex, with or without colons, in any case (C(openssl x509 -noout -fingerprint -sha256) prints them).
      - When missing or empty, the bundle is not pinned.
    type: list
    elements: str
  min_days_valid:
    description:
      - Fail when the certificate expires in fewer than this many days.
    type: int
    default: 0
  warn_days:
    description:
      - Emit a warning when the certificate expires within this many days (but at least O(min_days_valid)).
      - V(0) disables the warning.
    type: int
    default: 30
  min_rsa_bits:
    description:
      - Smallest accepted RSA key size of the certificate, in bits.
    type: int
    default: 2048
  server_ca:
    description:
      - Path to a PEM bundle of trust anchors the server certificate chain must verify against (with
        C(cryptography.x509.verification), for O(server_name), at the current time).
      - V(system) uses the operating system's trust store (C(/etc/ssl/certs/ca-certificates.crt), else Python's
        default OpenSSL CA file). Write C(./system) to mean a file called C(system).
      - When neither O(server_ca) nor O(server_ca_content) is set, the chain is not verified against a CA
        (RV(server_chain_verified) is V(false)); the links inside the certificate file are still checked.
    type: path
  server_ca_content:
    description:
      - Trust anchors for the server chain as PEM text; see O(server_ca).
    type: str
  labels:
    description:
      - What the problems call an input given as text, or a limit, instead of the option's name. Keys are
        V(certificate_content), V(client_ca_content) and V(min_days_valid).
      - For a certificate read from a host, the path it was read from (V(/etc/nginx/www.example.com.crt)); for
        a limit set by a playbook, the playbook's variable (V(nginx_mtls_audit_min_days)).
    type: dict
    default: {}
    version_added: 0.4.0
seealso:
  - name: nginx ssl_client_certificate
    description: The nginx directive that takes the client CA bundle.
    link: https://nginx.org/en/docs/http/ngx_http_ssl_module.html#ssl_client_certificate
  - name: RFC 6125
    description: Representation and verification of domain-based service identity (name matching rules).
    link: https://www.rfc-editor.org/rfc/rfc6125
"""

EXAMPLES = r"""
- name: Check the callback endpoint's files on the controller before touching any host
  chat_callback.mtls.cert_check:
    certificate: files/www.example.com.crt
    private_key: files/www.example.com.key
    client_ca: files/TencentQQAuthCA.crt.zip
    server_name: www.example.com
    min_days_valid: 14
  delegate_to: localhost
  run_once: true
  register: bundle

- name: Audit a deployed certificate without its private key (the key never leaves the host)
  chat_callback.mtls.cert_check:
    certificate_content: "{{ deployed_certificate.content | b64decode }}"
    client_ca_content: "{{ deployed_client_ca.content | b64decode }}"
    server_name: www.example.com
  delegate_to: localhost
  register: deployed

- name: Show the expiry date
  ansible.builtin.debug:
    msg: "{{ bundle.certificate.subject }} expires {{ bundle.certificate.not_after }}
      ({{ bundle.certificate.days_remaining }} days)"

- name: Key from Ansible Vault, pinned client CA, chain verified against the public web PKI
  chat_callback.mtls.cert_check:
    certificate: /etc/pki/callback/www.example.com.crt
    private_key_content: "{{ vault_callback_key }}"
    private_key_passphrase: "{{ vault_callback_key_passphrase }}"
    client_ca: /etc/pki/callback/TencentQQAuthCA.crt
    client_ca_sha256:
      - "3A:5F:...:C2"
    server_name: callback.example.com
    server_ca: system
  delegate_to: localhost

- name: Report every problem instead of stopping the play
  chat_callback.mtls.cert_check:
    certificate: files/www.example.com.crt
    private_key: files/www.example.com.key
    client_ca: files/TencentQQAuthCA.crt
    server_name: www.example.com
  delegate_to: localhost
  register: check
  ignore_errors: true

- name: Fail with a short list of what is wrong
  ansible.builtin.fail:
    msg: "{{ check.problems }}"
  when: check is failed and 'key_mismatch' in check.problem_codes
"""

RETURN = r"""
certificate:
  description:
    - Facts about the server certificate (the first one of the file, or the real leaf when the file is only
      out of order).
    - Also returned on failure when the certificate could be parsed.
  returned: when the certificate parses
  type: dict
  contains:
    subject:
      description: Subject, RFC 4514 string.
      type: str
      returned: always
      sample: CN=www.example.com,O=Example Ltd,C=CN
    issuer:
      description: Issuer, RFC 4514 string.
      type: str
      returned: always
      sample: CN=Example TLS RSA CA G1,O=Example Inc.,C=US
    serial:
      description: Serial number in upper-case hex.
      type: str
      returned: always
      sample: 0A1B2C3D4E5F
    not_before:
      description: Start of validity, ISO 8601 UTC.
      type: str
      returned: always
      sample: "2026-11-26T20:11:00Z"
    not_after:
      description: End of validity, ISO 8601 UTC.
      type: str
      returned: always
      sample: "2027-11-26T20:11:00Z"
    days_remaining:
      description: Whole days until RV(certificate.not_after), rounded down; negative once expired.
      type: int
      returned: always
      sample: 364
    sans:
      description: The subjectAltName entries, DNS names then IP addresses.
      type: list
      elements: str
      returned: always
      sample: [www.example.com, 192.0.2.10]
    sha256_fingerprint:
      description: SHA-256 of the certificate's DER, colon-separated upper-case hex.
      type: str
      returned: always
      sample: "D4:BA:65:06:02:A4:94:32:40:65:E4:DA:E2:34:EA:25:43:9B:43:F0:27:F5:77:A8:14:DF:3F:B9:E4:C9:66:86"
    key_type:
      description:
        - Public key algorithm of the certificate.
        - "V(RSA), V(RSA-PSS) (an RSASSA-PSS key), V(EC), V(Ed25519) and V(Ed448) can serve TLS (V(Ed25519),
          V(Ed448) and EC curves other than P-256, P-384 and P-521 with a warning)."
        - "V(DSA), V(X25519), V(X448), V(DH), V(ML-DSA-44), V(ML-DSA-65), V(ML-DSA-87), V(ML-KEM-512),
          V(ML-KEM-768) and V(ML-KEM-1024) fail, as does V(unknown), any other algorithm."
      type: str
      returned: always
      sample: RSA
    key_size:
      description:
        - Key size in bits; the modulus for RSA, RSA-PSS, DSA and DH, the curve size for EC, 256 for Ed25519 and
          X25519, 448 for Ed448 and X448.
        - V(null) for ML-DSA, ML-KEM, V(unknown) and a key that cannot be read (V(cert_key_unreadable)).
      type: int
      returned: always
      sample: 2048
    chain_length:
      description: Number of certificates in the certificate file.
      type: int
      returned: always
      sample: 2
    signature_hash:
      description: Hash of the certificate's signature (V(ed25519)/V(ed448) for EdDSA signatures).
      type: str
      returned: always
      sample: sha256
    signature_algorithm:
      description: Signature algorithm name.
      type: str
      returned: always
      sample: sha256WithRSAEncryption
client_cas:
  description:
    - One entry per certificate of the client CA bundle, in file order.
    - Also returned on failure when the bundle could be parsed.
  returned: when the client CA bundle parses
  type: list
  elements: dict
  contains:
    subject:
      description: Subject, RFC 4514 string.
      type: str
      returned: always
      sample: CN=TencentQQAuthCA,O=Tencent,C=CN
    not_after:
      description: End of validity, ISO 8601 UTC.
      type: str
      returned: always
      sample: "2036-11-23T20:18:44Z"
    sha256_fingerprint:
      description: SHA-256 fingerprint, colon-separated upper-case hex.
      type: str
      returned: always
      sample: "C8:3D:30:61:BB:89:98:14:88:46:A5:46:21:E0:5B:1B:84:61:52:24:FE:78:2F:31:CD:4E:D4:8F:C3:45:CB:E8"
certificate_pem:
  description:
    - The certificate file's text exactly as read (public data), to deploy these exact bytes.
  returned: success
  type: str
  sample: "-----BEGIN CERTIFICATE-----\nMIID...\n-----END CERTIFICATE-----\n"
client_ca_pem:
  description:
    - The client CA bundle's text exactly as read; the certificate file's text from inside the ZIP archive when
      O(client_ca) is a ZIP.
  returned: success
  type: str
  sample: "-----BEGIN CERTIFICATE-----\nMIID...\n-----END CERTIFICATE-----\n"
private_key_encrypted:
  description: Whether the private key is encrypted (then nginx needs C(ssl_password_file)).
  returned: when a private key was given and could be read
  type: bool
  sample: false
server_chain_verified:
  description: V(true) when O(server_ca) or O(server_ca_content) was given and the chain verified against it.
  returned: always
  type: bool
  sample: true
problems:
  description: Every problem found, one plain-language sentence each, naming the file or option concerned.
  returned: failure
  type: list
  elements: str
  sample:
    - "certificate (files/www.example.com.crt): the certificate expired on 2026-11-23T20:15:50Z (3 days ago);
      renew it."
problem_codes:
  description:
    - Stable short codes, parallel to RV(problems).
    - "Inputs: V(missing_input), V(file_missing), V(file_unreadable), V(empty), V(too_large), V(not_pem),
      V(der_not_pem), V(zip_invalid), V(zip_no_certificate), V(zip_multiple_certificates),
      V(no_certificate), V(cert_parse_error), V(cert_extension_invalid), V(cert_key_unreadable),
      V(ec_explicit_curve), V(private_key_in_file), V(no_private_key), V(multiple_private_keys), V(key_parse_error),
      V(passphrase_required), V(passphrase_wrong), V(passphrase_without_key)."
    - "Server certificate: V(key_mismatch), V(key_corrupt), V(expired), V(not_yet_valid), V(expires_soon),
      V(name_mismatch), V(idna_unavailable), V(eku_no_server_auth), V(rsa_key_too_small), V(ec_key_too_small),
      V(dsa_key), V(key_type_unsupported), V(weak_signature_hash), V(chain_order), V(chain_unlinked),
      V(chain_expired), V(server_chain_unverified), V(server_ca_unavailable), V(verification_unsupported)."
    - "Client CA: V(client_ca_not_ca), V(client_ca_no_root), V(client_ca_expired), V(client_ca_not_yet_valid),
      V(client_ca_pin_mismatch), V(invalid_fingerprint)."
    - "V(internal_error): an input cert_check does not handle stopped the checks (a bug of cert_check)."
  returned: failure
  type: list
  elements: str
  sample: [expired, name_mismatch]
"""

from ansible.module_utils.basic import missing_required_lib  # noqa: E402

from ansible_collections.chat_callback.mtls.plugins.module_utils._module import AnsibleModule  # noqa: E402

from ansible_collections.chat_callback.mtls.plugins.module_utils._cert_options import (  # noqa: E402
    ARGUMENT_CONSTRAINTS,
    argument_spec,
)
from ansible_collections.chat_callback.mtls.plugins.module_utils.cert_check_task import task_result  # noqa: E402
from ansible_collections.chat_callback.mtls.plugins.module_utils.cert_checks import (  # noqa: E402
    CRYPTOGRAPHY_IMPORT_ERROR,
    HAS_CRYPTOGRAPHY,
)

INSTALL_HINT = (
    " On Debian/Ubuntu install it with 'apt-get install python3-cryptography' (RHEL/Fedora: "
    "'dnf install python3-cryptography'), or 'pip install cryptography' into the Python that runs this module."
)


def main():
    # The action plugin (plugins/action/cert_check.py) validates and checks the same way when it
    # runs the checks on the controller itself: both take the options and the result from cert_check_task.
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True, **ARGUMENT_CONSTRAINTS)
    if not HAS_CRYPTOGRAPHY:
        module.fail_json(
            msg=missing_required_lib(
                "cryptography", reason="to parse and check certificates and private keys"
            ) + INSTALL_HINT,
            exception=CRYPTOGRAPHY_IMPORT_ERROR,
        )

    result, warnings = task_result(module.params)
    for warning in warnings:
        module.warn(warning)
    if result.pop("failed", False):
        module.fail_json(**result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
