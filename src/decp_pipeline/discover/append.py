"""Append the datasets found to a sources.yaml as disabled `datagouv_dataset` sources, as text.

The file is not dumped again: its text, comments and order stay as they are, and the new entries are inserted
at the end of its `sources:` list (before the next top-level key, if any). The result must load with
`load_config`, or the file is left untouched.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import unicodedata
from collections.abc import Iterable
from pathlib import Path

from decp_pipeline.config import load_config
from decp_pipeline.discover.search import FoundDataset
from decp_pipeline.exceptions import ConfigError, InputError

MAX_ID_LENGTH = 60
SOURCES_LINE = re.compile(r"^sources:[ \t]*(#.*)?$")


def source_id(slug: str, taken: set[str], prefix: str = "") -> str:
    """An id of sources.yaml from a dataset's slug: lowercase letters, digits and dashes, not in `taken`."""
    ascii_slug = unicodedata.normalize("NFKD", slug).encode("ascii", "ignore").decode().lower()
    base = re.sub(r"[^a-z0-9]+", "-", ascii_slug).strip("-")
    if len(base) > MAX_ID_LENGTH:  # cut at a dash, not inside a word
        cut = base[: MAX_ID_LENGTH + 1]
        base = cut.rsplit("-", 1)[0] if "-" in cut else base[:MAX_ID_LENGTH]
    base = base.strip("-") or "dataset"
    base = f"{prefix}{base}"
    candidate, number = base, 1
    while candidate in taken:
        number += 1
        candidate = f"{base}-{number}"
    taken.add(candidate)
    return candidate


def quoted(text: str) -> str:
    """A YAML double-quoted scalar (a JSON string is one)."""
    return json.dumps(" ".join(text.split()), ensure_ascii=False)


def found_note(day: datetime.date) -> str:
    return f"found by decp sources discover on {day.isoformat()}: not reviewed"


def entry_text(dataset: FoundDataset, new_id: str, priority: int, day: datetime.date, indent: int) -> str:
    """The entry of one dataset, its lines indented as the file's list items are."""
    pad = " " * indent
    versions = ", ".join(dataset.schema_versions) or "none declared, tagged decp"
    lines = [
        f"# {dataset.resources} resource(s) ({', '.join(dataset.formats) or 'no format'}), schema versions: {versions}",
        f"- id: {new_id}",
        f"  name: {quoted(dataset.title)}",
        *(
            f"  {key}: {value}"
            for key, value in (
                ("publisher", quoted(dataset.publisher)),
                ("kind", "datagouv_dataset"),
                ("dataset", quoted(dataset.id)),
                ("format", "auto"),
                ("enabled", "false"),
                ("priority", str(priority)),
                ("homepage", quoted(dataset.page)),
                ("caveats", quoted(found_note(day))),
            )
        ),
    ]
    return "\n" + "".join(f"{pad}{line}\n" for line in lines)


def _insertion_point(lines: list[str], path: str) -> tuple[int, int]:
    """The index of the line after the `sources:` list's last line, and the indentation of its items."""
    start = next((i for i, line in enumerate(lines) if SOURCES_LINE.match(line.rstrip("\r\n"))), None)
    if start is None:
        raise InputError(
            f"{path}: cannot append to it: no line 'sources:' opening a block list (a flow list, "
            "sources: [...], cannot be appended to)"
        )
    last, indent = start, None
    for i in range(start + 1, len(lines)):
        line, stripped = lines[i], lines[i].strip()
        if not stripped or stripped.startswith("#"):
            continue
        if line.startswith(("---", "...")) or (not line[0].isspace() and not line.startswith("-")):
            break  # a new document or the next top-level key
        last = i
        if indent is None and stripped.startswith("-"):
            indent = len(line) - len(line.lstrip())
    return last + 1, 2 if indent is None else indent


def append_sources(
    path: str, datasets: Iterable[FoundDataset], *, priority: int, day: datetime.date, taken: set[str]
) -> list[str]:
    """Append the datasets to the sources file `path` (which must load); return the ids written."""
    datasets = list(datasets)
    if not datasets:
        return []
    text = Path(path).read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    at, indent = _insertion_point(lines, path)
    if at and not lines[at - 1].endswith("\n"):
        lines[at - 1] += "\n"
    ids = [source_id(d.slug, taken) for d in datasets]
    block = "".join(entry_text(d, i, priority, day, indent) for d, i in zip(datasets, ids, strict=True))
    new_text = "".join([*lines[:at], block, *lines[at:]])
    temporary = Path(path).with_name(f".{Path(path).name}.{os.getpid()}.discover")
    try:
        temporary.write_text(new_text, encoding="utf-8")
        shutil.copymode(path, temporary)
        load_config(str(temporary))
    except ConfigError as e:
        temporary.unlink(missing_ok=True)
        raise InputError(f"{path}: appending the datasets found would break it, left untouched: {e}") from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    os.replace(temporary, path)
    return ids
