"""diff_outputs.py REF_DIR NEW_DIR [--runs REF_RUN NEW_RUN]

Compares two output folders of `decp build` file by file. Exit 0 when every file is byte-identical or differs
only in the fields known to vary between two runs of the same code (see IGNORED below), 1 otherwise.

Run with a Python that has pyarrow and orjson (the reference tree's .venv/bin/python): the helper does not use the
tree under test, so a broken refactor cannot hide its own differences.

Per file type, for a file that is not byte-identical:
  report.json, datapackage.json and any JSON < 64 MB: parsed; the key paths whose values differ (counts shown
      as ref -> new), after dropping the IGNORED fields of report.json;
  decp.json, decp-2022.json, rejected.jsonl (one record per line): line counts, number of differing lines, the
      first few with the keys that differ inside the record;
  *.csv: line counts and the first differing line;
  *.parquet: row counts, schema equality (fields that differ), table.equals, the columns whose values differ,
      and, when the data is equal, the file metadata that differs.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from itertools import zip_longest
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq

# Fields of report.json that differ between two runs of the SAME code on the same inputs, or that are a hash of
# the code itself (and so differ, by construction, for any changed tree). Nothing else is ignored.
#   generated_at       wall-clock time of the build (datetime.now, to the second)
#   build_fingerprint  sha1 of CODE_VERSION (hash of the reading code), ASSEMBLY_VERSION (hash of the
#                      assembly's modules), the day (anomalies.Run.today), max_amount and each input path and
#                      cached-result name; identical for two runs of one tree on one day, different for any
#                      edited source file or another day. Not an output property: a cache key (the outputs
#                      in place are reused when it is equal).
IGNORED = {"report.json": ["generated_at", "build_fingerprint"]}
MAX_SHOWN = 12
BIG = 64 * 2**20


def sha(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def same_bytes(a: Path, b: Path) -> bool:
    if a.stat().st_size != b.stat().st_size:
        return False
    with open(a, "rb") as fa, open(b, "rb") as fb:
        while True:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                return False
            if not x:
                return True


def short(value: Any, width: int = 90) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def json_diff(a: Any, b: Any, path: str = "", out: list[str] | None = None) -> list[str]:
    """Key paths whose values differ: `path: ref -> new` (missing keys shown as <absent>)."""
    out = [] if out is None else out
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            p = f"{path}.{key}" if path else str(key)
            if key not in b:
                out.append(f"{p}: {short(a[key])} -> <absent>")
            elif key not in a:
                out.append(f"{p}: <absent> -> {short(b[key])}")
            elif a[key] != b[key]:
                json_diff(a[key], b[key], p, out)
        if list(a) != list(b) and set(a) == set(b) and a == b:
            out.append(f"{path or '<top>'}: same keys and values, different key order")
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: list of {len(a)} -> {len(b)} items")
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            if x != y:
                json_diff(x, y, f"{path}[{i}]", out)
    elif a != b or type(a) is not type(b):
        out.append(f"{path}: {short(a)} -> {short(b)}")
    return out


def drop(document: Any, keys: list[str]) -> Any:
    if isinstance(document, dict):
        return {k: v for k, v in document.items() if k not in keys}
    return document


def masked(name: str, path: Path) -> bytes:
    """The file's bytes with the values of its IGNORED top-level fields replaced by a placeholder (report.json is
    written with indent=2: each of these fields is one line `  "key": value,`)."""
    data = path.read_bytes()
    for key in IGNORED.get(name, []):
        data = re.sub(
            rb'(?m)^  "' + re.escape(key.encode()) + rb'": [^\n]*?(,?)$',
            rb'  "' + key.encode() + rb'": <ignored>\1',
            data,
        )
    return data


def compare_json(name: str, a: Path, b: Path) -> tuple[bool, list[str]]:
    notes = []
    try:
        da, db = orjson.loads(a.read_bytes()), orjson.loads(b.read_bytes())
    except orjson.JSONDecodeError as error:
        return False, [f"not parseable JSON: {error}"]
    ignored = IGNORED.get(name, [])
    if ignored:
        varying = [k for k in ignored if isinstance(da, dict) and isinstance(db, dict) and da.get(k) != db.get(k)]
        if varying:
            notes.append(
                "ignored fields that differ: "
                + ", ".join(f"{k} {short(da.get(k), 50)} -> {short(db.get(k), 50)}" for k in varying)
            )
        if masked(name, a) == masked(name, b):
            return True, notes
        da, db = drop(da, ignored), drop(db, ignored)
    if da == db:
        return False, [*notes, "same values, different bytes (layout or key order)"]
    diffs = json_diff(da, db)
    lines = [*notes, f"{len(diffs)} differing key path(s)", *diffs[:MAX_SHOWN]]
    if len(diffs) > MAX_SHOWN:
        lines.append(f"... {len(diffs) - MAX_SHOWN} more")
    return False, lines


def record_of(line: bytes) -> Any:
    text = line.rstrip(b"\n").rstrip(b",")
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return None


def compare_lines(a: Path, b: Path, as_json: bool) -> list[str]:
    """Line by line (streamed): counts, number of differing lines, the first ones."""
    na = nb = differing = 0
    shown: list[str] = []
    with open(a, "rb") as fa, open(b, "rb") as fb:
        for number, (x, y) in enumerate(zip_longest(fa, fb), 1):
            na += x is not None
            nb += y is not None
            if x == y:
                continue
            differing += 1
            if len(shown) >= (5 if as_json else 1):
                continue
            if x is None or y is None:
                shown.append(f"line {number}: only in {'new' if x is None else 'ref'}")
                continue
            if as_json:
                ra, rb = record_of(x), record_of(y)
                if ra is not None and rb is not None:
                    key = next((ra[k] for k in ("uid", "id") if isinstance(ra, dict) and k in ra), None)
                    if key is None and isinstance(ra, dict) and isinstance(ra.get("record"), dict):
                        key = ra["record"].get("uid") or ra["record"].get("id")
                    diffs = json_diff(ra, rb)
                    shown.append(
                        f"line {number} (uid/id {key!r}): "
                        + ("; ".join(diffs[:4]) or "same values, different bytes")
                        + (f"; ... {len(diffs) - 4} more" if len(diffs) > 4 else "")
                    )
                    continue
            shown.append(f"line {number}: ref {short(x.decode('utf-8', 'replace').rstrip(), 160)}")
            shown.append(f"{'':>{len(str(number)) + 5}} new {short(y.decode('utf-8', 'replace').rstrip(), 160)}")
    head = f"lines ref {na:,} new {nb:,}; {differing:,} differing line(s)"
    return [head, *shown]


def compare_parquet(a: Path, b: Path) -> list[str]:
    ta, tb = pq.read_table(a), pq.read_table(b)
    lines = [f"rows ref {ta.num_rows:,} new {tb.num_rows:,}"]
    if ta.schema.equals(tb.schema, check_metadata=False):
        lines.append("schema: equal")
    else:
        fa = {f.name: f for f in ta.schema}
        fb = {f.name: f for f in tb.schema}
        if list(fa) != list(fb):
            lines.append(
                f"schema: columns ref {list(fa)} new {list(fb)}"
                if set(fa) == set(fb)
                else f"schema: only in ref {sorted(set(fa) - set(fb))}, only in new {sorted(set(fb) - set(fa))}"
            )
        for name, field in fa.items():
            if name in fb and not field.equals(fb[name]):
                lines.append(
                    f"schema: column {name}: {field.type} (nullable={field.nullable}) -> "
                    f"{fb[name].type} (nullable={fb[name].nullable})"
                )
    equal = ta.equals(tb)
    lines.append(f"table.equals: {equal}")
    if not equal:
        differing = []
        for name in ta.column_names:
            if name in tb.column_names:
                ca, cb = ta.column(name), tb.column(name)
                if len(ca) != len(cb) or not ca.equals(cb):
                    first = next(
                        (i for i, (x, y) in enumerate(zip(ca.to_pylist(), cb.to_pylist(), strict=False)) if x != y),
                        None,
                    )
                    differing.append(
                        name
                        + (
                            f" (first row {first}: {short(ca[first].as_py(), 50)} -> {short(cb[first].as_py(), 50)})"
                            if first is not None
                            else " (lengths/types)"
                        )
                    )
        lines.append(f"columns whose values differ ({len(differing)}): " + (", ".join(differing) or "none"))
    else:
        ma, mb = pq.ParquetFile(a).metadata, pq.ParquetFile(b).metadata
        facts = [(k, getattr(ma, k), getattr(mb, k)) for k in ("created_by", "num_row_groups", "format_version")]
        facts += [("schema metadata", ta.schema.metadata, tb.schema.metadata)]
        lines += [f"same data; file {k} differs: {x!r} -> {y!r}" for k, x, y in facts if x != y] or [
            "same data and metadata; bytes differ (encoding, compression or statistics)"
        ]
    return lines


def compare_file(name: str, a: Path, b: Path) -> tuple[bool, list[str]]:
    if same_bytes(a, b):
        return True, []
    if name.endswith(".parquet"):
        return False, compare_parquet(a, b)
    if name.endswith(".csv"):
        return False, compare_lines(a, b, as_json=False)
    if name.endswith(".jsonl") or name in ("decp.json", "decp-2022.json"):
        return False, compare_lines(a, b, as_json=True)
    if name.endswith(".json") and max(a.stat().st_size, b.stat().st_size) < BIG:
        return compare_json(name, a, b)
    return False, compare_lines(a, b, as_json=name.endswith(".json"))


def compare_runs(ref_run: Path, new_run: Path, ref_out: Path, new_out: Path) -> tuple[bool, list[str]]:
    """The exit code and the printed table (stdout, with the output folder's path made neutral)."""
    lines, ok = [], True
    ca, cb = (p.joinpath("exit_code").read_text().strip() for p in (ref_run, new_run))
    if ca != cb:
        ok = False
        lines.append(f"exit code: ref {ca} new {cb}")
    sa = ref_run.joinpath("stdout.txt").read_text("utf-8").replace(str(ref_out), "<OUT>")
    sb = new_run.joinpath("stdout.txt").read_text("utf-8").replace(str(new_out), "<OUT>")
    if sa != sb:
        ok = False
        for i, (x, y) in enumerate(zip_longest(sa.splitlines(), sb.splitlines()), 1):
            if x != y:
                lines.append(f"stdout line {i}: ref {x!r}")
                lines.append(f"{'':>{len(str(i)) + 12}} new {y!r}")
                break
    return ok, lines


def main() -> int:
    args = sys.argv[1:]
    runs = None
    if "--runs" in args:
        i = args.index("--runs")
        runs = (Path(args[i + 1]), Path(args[i + 2]))
        del args[i : i + 3]
    ref, new = Path(args[0]), Path(args[1])
    names_a = {str(p.relative_to(ref)) for p in ref.rglob("*") if p.is_file()}
    names_b = {str(p.relative_to(new)) for p in new.rglob("*") if p.is_file()}
    ok = True
    identical = ignored_only = 0
    for name in sorted(names_a | names_b):
        if name not in names_b:
            print(f"  MISSING   {name} (only in ref)")
            ok = False
            continue
        if name not in names_a:
            print(f"  EXTRA     {name} (only in new)")
            ok = False
            continue
        same, lines = compare_file(name, ref / name, new / name)
        if same and not lines:
            identical += 1
            print(f"  identical {name}")
        elif same:
            ignored_only += 1
            print(f"  same      {name}  [{'; '.join(lines)}]")
        else:
            ok = False
            print(f"  DIFFERS   {name}")
            for line in lines:
                print(f"              {line}")
    if runs is not None:
        same, lines = compare_runs(runs[0], runs[1], ref, new)
        print(f"  {'identical' if same else 'DIFFERS  '} exit code and printed table (stdout, output path neutralised)")
        for line in lines:
            print(f"              {line}")
        ok = ok and same
    total = len(names_a | names_b)
    print(
        f"  => {'IDENTICAL' if ok else 'DIFFERENT'}: {identical} of {total} file(s) byte-identical"
        + (f", {ignored_only} identical but for the ignored fields" if ignored_only else "")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
