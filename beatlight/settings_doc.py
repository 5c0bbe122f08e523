"""docs/configuration.md, written from ``Settings``' fields and their descriptions.

The settings reference is generated so that it cannot drift from the code: each field's
environment variable, default, limits and description come from ``Settings`` itself, and
the groups from the heading comments in its class body (``# Geography``, ``# Maps``, ...).
``tests/test_docs.py`` fails when the file on disk differs from what this module writes.

    python -m beatlight.settings_doc --write     # or: ... > docs/configuration.md
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import annotated_types
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from beatlight.settings import Settings

#: Where the generated reference lives, from the repository's root.
CONFIGURATION_MD = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"
#: The command that writes it again, for messages.
REGENERATE = "python -m beatlight.settings_doc --write"

_HEADER = """\
# Configuration

Every setting is an environment variable `{prefix}<NAME>` (or a line of a `.env` file in
the working directory); a command's options override them. The defaults are the SPEC's.
Each process reads the settings once when it starts.

This page is generated from `Settings` in `beatlight/settings.py`; do not edit it by hand.
After changing a setting, write it again with:

```bash
{regenerate}
```
"""


def configuration_markdown(settings: type[Settings] = Settings) -> str:
    """The settings reference as Markdown: one table per group, in the class's order."""
    prefix = settings.model_config.get("env_prefix", "")
    parts = [_HEADER.format(prefix=prefix, regenerate=REGENERATE)]
    for title, names in _groups(settings):
        parts.append(f"## {title}\n")
        rows = ["| variable | default | limits | what it sets |", "| --- | --- | --- | --- |"]
        for name in names:
            info = settings.model_fields[name]
            rows.append(
                f"| `{prefix}{name.upper()}` | {_default(info)} | {_limits(info)} "
                f"| {_text(info.description or '')} |"
            )
        parts.append("\n".join(rows) + "\n")
    return "\n".join(parts)


def main(argv: Iterable[str] | None = None) -> int:
    """Print the reference, or write it to docs/configuration.md with ``--write``."""
    parser = argparse.ArgumentParser(prog="python -m beatlight.settings_doc", description=__doc__)
    parser.add_argument("--write", action="store_true", help=f"write {CONFIGURATION_MD.name}")
    args = parser.parse_args(list(argv) if argv is not None else None)
    text = configuration_markdown()
    if args.write:
        CONFIGURATION_MD.parent.mkdir(parents=True, exist_ok=True)
        CONFIGURATION_MD.write_text(text, encoding="utf-8")
        print(f"wrote {CONFIGURATION_MD}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


# A heading comment stands alone after a blank line ("# Maps"); a comment that explains
# the field below it follows another line or runs on to a second comment line.
_FIELD = re.compile(r"^\s+(\w+)\s*:")
_COMMENT = re.compile(r"^\s+#\s*(.+?)\s*$")
_ISSUE = re.compile(r"\s*\(issue \d+\)")


def _groups(settings: type[Settings]) -> list[tuple[str, list[str]]]:
    """The fields grouped under the heading comments of the class body, in order."""
    try:
        lines = inspect.getsource(settings).splitlines()
    except (OSError, TypeError):  # no source (a frozen build): one group
        lines = []
    groups: list[tuple[str, list[str]]] = []
    placed: set[str] = set()
    for i, line in enumerate(lines):
        comment = _COMMENT.match(line)
        if comment and i > 0 and not lines[i - 1].strip():
            following = lines[i + 1] if i + 1 < len(lines) else ""
            if not _COMMENT.match(following):
                groups.append((_ISSUE.sub("", comment.group(1)), []))
            continue
        field = _FIELD.match(line)
        if field and field.group(1) in settings.model_fields and field.group(1) not in placed:
            if not groups:
                groups.append(("General", []))
            groups[-1][1].append(field.group(1))
            placed.add(field.group(1))
    rest = [name for name in settings.model_fields if name not in placed]
    if rest:
        groups.append(("Other settings", rest))
    return [(title, names) for title, names in groups if names]


def _default(info: FieldInfo) -> str:
    """The default as one writes it in the environment; computed ones are described."""
    if info.default_factory is not None:
        # Computed at start (a path under the user's cache, say): call it only when it
        # cannot depend on the machine, so the page is the same everywhere.
        value = info.default_factory()  # type: ignore[call-arg]
        if isinstance(value, list | tuple | dict | set) and not value:
            return "none"
        return "computed (see description)"
    value = info.default
    if value is PydanticUndefined:
        return "required"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return f"`{value}`"
    return f"`{_cell(str(value))}`" if str(value) else '`""`'


def _limits(info: FieldInfo) -> str:
    """The field's bounds and allowed values, from its constraints."""
    found: list[str] = []
    for item in info.metadata:
        found.extend(_limit(item))
    return ", ".join(found) or ""


def _limit(item: Any) -> list[str]:
    symbols = {
        annotated_types.Gt: ("> ", "gt"),
        annotated_types.Ge: ("≥ ", "ge"),
        annotated_types.Lt: ("< ", "lt"),
        annotated_types.Le: ("≤ ", "le"),
    }
    for kind, (symbol, attribute) in symbols.items():
        if isinstance(item, kind):
            return [f"{symbol}{_number(getattr(item, attribute))}"]
    if isinstance(item, annotated_types.MinLen):
        return ["not empty"] if item.min_length == 1 else [f"length ≥ {item.min_length}"]
    pattern = getattr(item, "pattern", None)
    if pattern:
        choices = re.fullmatch(r"\^\(([\w|]+)\)\$", pattern)
        if choices:
            return ["one of " + ", ".join(f"`{c}`" for c in choices.group(1).split("|"))]
        return [f"matches `{_cell(pattern)}`"]
    return []


def _number(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _text(text: str) -> str:
    """Prose for a table cell: as :func:`_cell`, with ``<`` and ``>`` shown, not read as HTML."""
    return _cell(text).replace("<", "&lt;").replace(">", "&gt;")


def _cell(text: str) -> str:
    """Text that stays in its table cell: one line, and no bare ``|``."""
    return " ".join(text.split()).replace("|", "\\|")


if __name__ == "__main__":
    raise SystemExit(main())
