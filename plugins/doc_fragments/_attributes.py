# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation shared by the modules of this collection (private: may change in any release).

A module lists ``ansible.builtin.action_common_attributes`` (the attributes' descriptions) and
``chat_callback.mtls._attributes`` (what every module of the collection supports), then any
variant below that fits it. A module's own ``attributes`` entry refines the fragment's: its
``details`` are added to the ``support`` given here.
"""

from __future__ import absolute_import, division, print_function  # noqa: UP010

__metaclass__ = type  # noqa: UP001


class ModuleDocFragment:
    # Every module: who maintains it, and where it runs.
    DOCUMENTATION = r"""
options: {}
author:
  - chat_callback.mtls contributors (@chat-callback)
attributes:
  platform:
    platforms: posix
"""

    # Use with DOCUMENTATION: a module that only reads, so check mode runs it as usual and there is
    # no diff. The module adds its own check_mode details where it has something to say.
    READ_ONLY = r"""
options: {}
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
"""
