# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""stale_files: which of the files a run wants are not on the host yet (documented in stale_files.yml)."""

from __future__ import absolute_import, division, print_function  # noqa: UP010

__metaclass__ = type  # noqa: UP001

from ansible.module_utils.common.text.converters import to_bytes

from ansible_collections.chat_callback.mtls.plugins.module_utils._file_ops import sha1, stale


def stale_files(files, found):
    """The paths among ``files`` (site_files' file specs) that ``found`` (nginx_site_info's files) says differ."""
    paths = []
    for spec in files:
        wanted = {key: spec[key] for key in ("owner", "group", "mode") if spec.get(key) is not None}
        wanted["checksum"] = sha1(to_bytes(spec["content"], errors="surrogate_or_strict"))
        if stale(found.get(spec["path"], {}), wanted):
            paths.append(spec["path"])
    return paths


class FilterModule:
    def filters(self):
        return {"stale_files": stale_files}
