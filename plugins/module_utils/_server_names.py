# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Internationalized server names in the A-label (``xn--``) form certificates carry.

Python's own ``idna`` codec implements IDNA 2003, which maps the four "deviation" characters
(ß, ς, ZERO WIDTH JOINER, ZERO WIDTH NON-JOINER) away: ``faß.example`` becomes ``fass.example``.
CAs and browsers follow IDNA 2008 with UTS #46 (non-transitional), which keeps them:
``xn--fa-hia.example``. The ``idna`` package implements that, but it is not in the standard
library and Debian's ``python3-cryptography`` does not pull it in, so it may be missing where
the module runs on a host. Without it, names free of deviation characters (on which both
standards agree) are still converted with the codec; the others cannot be converted correctly,
and :func:`missing_idna_message` says so instead of matching the wrong name.
"""

from __future__ import absolute_import, division, print_function  # noqa: UP010

__metaclass__ = type  # noqa: UP001

import functools

DEVIATIONS = ("\u00df", "\u03c2", "\u200c", "\u200d")


@functools.lru_cache(maxsize=None)
def idna_module():
    """The ``idna`` package, or None when it is not installed."""
    try:
        # imported on first use: the import costs ~40 ms per module run and most names are ASCII
        import idna  # noqa: PLC0415
    except ImportError:
        return None
    return idna


def is_ascii(name):
    return all(ord(char) < 128 for char in name)


def needs_idna_2008(name):
    """True when IDNA 2003 (Python's codec) would convert ``name`` differently from IDNA 2008."""
    return any(char in name for char in DEVIATIONS)


def to_a_labels(name):
    """``name`` with each non-ASCII label replaced by its A-label; ASCII labels (``*`` too) are kept.

    Raises ``UnicodeError`` (``idna.IDNAError`` is one) when the name cannot be converted,
    and :class:`IdnaUnavailable` when only the missing ``idna`` package could convert it.
    """
    idna = idna_module()
    if idna is None:
        if needs_idna_2008(name):
            raise IdnaUnavailable(name)
        return name.lower().encode("idna").decode("ascii")
    # UTS 46 maps case, compatibility forms and the ideographic full stop before the name is split
    mapped = idna.uts46_remap(name, std3_rules=False, transitional=False)
    labels = [label if is_ascii(label) else idna.alabel(label).decode("ascii") for label in mapped.split(".")]
    return ".".join(labels).lower()


class IdnaUnavailable(Exception):
    pass


def missing_idna_message(server_name):
    """The problem of a ``server_name`` only the missing ``idna`` package can convert, else None."""
    if is_ascii(server_name) or not needs_idna_2008(server_name) or idna_module() is not None:
        return None
    return (
        f"server_name '{server_name}' holds a character that IDNA 2003 and IDNA 2008 convert differently (ß, ς or a "
        f"zero-width (non-)joiner), and the Python running cert_check lacks the idna package that converts it the "
        f"IDNA 2008 way certificates use. Install it there (Debian/Ubuntu: apt-get install python3-idna; else pip "
        f"install idna) or give server_name in its A-label (xn--) form."
    )
