# Copyright: chat_callback.mtls contributors
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A node_exporter textfile: Prometheus text format for gauges, and when to rewrite it.

The textfile collector rejects a whole file for a sample with a timestamp, so there are none;
the deploy time is a gauge of its own (``stamp``), kept from the file on disk unless the caller
says the site changed, so that a run that changes nothing leaves the file alone.
"""

from __future__ import absolute_import, division, print_function  # noqa: UP010

__metaclass__ = type  # noqa: UP001

import math
import re

_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")


class MetricError(ValueError):
    """A sample that Prometheus would refuse; the message names it."""


def _escape(value):
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value):
    number = float(value)
    if math.isnan(number) or math.isinf(number):
        raise MetricError(f"value {value!r} is not a finite number")
    return str(int(number)) if number.is_integer() and abs(number) < 2 ** 53 else repr(number)


def _line(sample):
    name, labels = sample["name"], sample.get("labels") or {}
    if not _NAME.match(name):
        raise MetricError(f"{name!r} is not a valid metric name")
    for label in labels:
        if not _LABEL.match(label) or label.startswith("__"):
            raise MetricError(f"{name}: {label!r} is not a valid label name")
    inner = ",".join(f'{label}="{_escape(value)}"' for label, value in sorted(labels.items()))
    return f"{name}{{{inner}}} {_number(sample['value'])}" if inner else f"{name} {_number(sample['value'])}"


def render(samples):
    """The file's text: samples grouped by name in the order names first appear, each with HELP and TYPE."""
    by_name = {}
    for sample in samples:
        by_name.setdefault(sample["name"], []).append(sample)
    lines = []
    for name, group in by_name.items():
        helps = {s.get("help", "") for s in group}
        if len(helps) > 1:
            raise MetricError(f"{name}: samples disagree on their help text")
        # HELP escapes backslashes and newlines only (quotes stay as they are)
        text = (helps.pop() or name).replace("\\", "\\\\").replace("\n", "\\n")
        lines.append(f"# HELP {name} {text}")
        lines.append(f"# TYPE {name} gauge")
        lines.extend(_line(sample) for sample in group)
    return "\n".join(lines) + "\n"


def stamp_value(text, name):
    """The value of the sample called ``name`` in a file's text, or None."""
    for line in (text or "").splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            try:
                return float(line.rsplit(" ", 1)[1])
            except (IndexError, ValueError):
                return None
    return None


def plan(samples, stamp, existing, refresh, now):
    """The text to write, or None when ``existing`` already says it all.

    ``stamp`` (name, help, labels) is the sample of the deploy time: ``now`` when ``refresh`` (the
    site changed) or the file has none, else the value in ``existing``.
    """
    kept = None if refresh else stamp_value(existing, stamp["name"])
    text = render(list(samples) + [dict(stamp, value=int(now) if kept is None else kept)])
    return None if text == existing else text
