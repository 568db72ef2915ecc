# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The doors of the site plan (module_utils/_site_plan.py) for the nginx_mtls role (documented in site_*.yml)."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.chat_callback.mtls.plugins.module_utils import _site_plan


def site_plan(values, search_path=(), deploy=True):
    """The plan of the site the role's variables (``nginx_mtls_*``, by name) ask for."""
    if not isinstance(values, dict):
        raise AnsibleFilterError("site_plan expects the role's variables as a dict")
    return _site_plan.plan(values, search_path, deploy)


def site_layout(site, nginx, contents=None):
    """The plan on the host nginx_site_info described."""
    try:
        return _site_plan.layout(site, nginx, contents)
    except (KeyError, ValueError) as error:
        raise AnsibleFilterError(f"site_layout: {error}") from error


def site_deployed(site, nginx, check=None, proven=None):
    """The nginx_mtls_deployed fact."""
    return _site_plan.deployed(site, nginx, check, proven)


def site_secret_digests(site, contents):
    """nginx_site_info's secrets option: HMACs of the secret files this deploy writes, under a key of this call."""
    try:
        return _site_plan.secret_digests(site, contents)
    except KeyError as error:
        raise AnsibleFilterError(f"site_secret_digests: no content for {error}") from error


class FilterModule:
    def filters(self):
        return {"site_plan": site_plan, "site_layout": site_layout, "site_deployed": site_deployed,
                "site_secret_digests": site_secret_digests}
