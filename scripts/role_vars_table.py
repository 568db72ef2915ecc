"""Write the README's role variable table from roles/nginx_mtls/meta/argument_specs.yml.

argument_specs.yml is the one place each variable is documented; the README carries a
generated copy between two marker lines. ``--check`` fails when the copy has drifted.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
SPECS = REPO / "roles" / "nginx_mtls" / "meta" / "argument_specs.yml"
README = REPO / "README.md"
BEGIN = "<!-- BEGIN role variables (scripts/role_vars_table.py) -->"
END = "<!-- END role variables -->"


def _markup(text: str) -> str:
    """Ansible doc markup (C(), O(), M(), V()) to Markdown."""
    text = re.sub(r"[CV]\(([^)]*)\)", r"`\1`", text)
    text = re.sub(r"[OM]\(([^)]*)\)", r"`\1`", text)
    return text.replace("|", "\\|")


def table() -> str:
    options = yaml.safe_load(SPECS.read_text())["argument_specs"]["main"]["options"]
    rows = ["| Variable | Type | Default | Description |", "| --- | --- | --- | --- |"]
    for name, spec in options.items():
        kind = spec["type"] + (f" of {spec['elements']}" if "elements" in spec else "")
        if spec.get("choices"):
            kind += " (" + ", ".join(spec["choices"]) + ")"
        default = "**required**" if spec.get("required") else f"`{spec.get('default')!r}`".replace("|", "\\|")
        text = " ".join(_markup(" ".join(spec["description"])).split())
        rows.append(f"| `{name}` | {kind} | {default} | {text} |")
    return "\n".join(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if README.md is not up to date")
    args = parser.parse_args()
    readme = README.read_text()
    start, end = readme.index(BEGIN) + len(BEGIN), readme.index(END)
    updated = readme[:start] + "\n" + table() + "\n" + readme[end:]
    if args.check:
        if updated != readme:
            print("README.md role variable table is out of date: run scripts/role_vars_table.py", file=sys.stderr)
            return 1
        return 0
    README.write_text(updated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
