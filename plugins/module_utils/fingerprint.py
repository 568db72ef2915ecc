# -*- coding: utf-8 -*-
# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Certificate fingerprint format shared by every module of the collection.

Standard library only: the on-host ``tls_probe`` module must not need
``cryptography``, yet its fingerprints must compare equal to the ones
``cert_check`` reports on the controller.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib


def sha256_fingerprint(der):
    """Return the SHA-256 of DER bytes as colon-separated upper-case hex (openssl style)."""
    digest = hashlib.sha256(der).hexdigest().upper()
    return ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))
