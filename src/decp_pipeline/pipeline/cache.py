"""The per-file cache: what reading one file leaves in the data dir, for the build to assemble without reading
the file again. This module is the whole format: names, schemas, writer, readers and the key.

    DATA_DIR/cache/normalized/<source>/<sha1 of the file>-<code version>/
        counts.json     the file's counts (pipeline/counts.py); written last: the folder's commit mark
        records.jsonl   the valid records, normalized, one JSON document per line (copied as they are into
                        decp.json / decp-2022.json when kept)
        rejected.jsonl  the rejected records: position, original record, errors, format (rejected.jsonl's
                        lines without `source` and `file`, which `rejected_lines` puts in front)
        meta.arrow      one row per record (META_SCHEMA): its position, validity and, for a valid one, the facts
                        consolidation needs (pipeline/dedup/rules.py) and its static anomalies
        <table>.arrow   the rows of the published tables (pipeline/rows.py), for valid and rejected records

A cached result is reused only when it was made by the same code: CODE_VERSION hashes the package version,
FORMAT, the versions of the libraries that parse, validate and write (LIBRARIES) and the source of every module
that reading a file imports (found by following the imports from
pipeline/stage.py, so that a module added or moved is covered), and the official schemas.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.metadata
import importlib.util
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import IO

import orjson
import pyarrow as pa

from decp_pipeline import __version__
from decp_pipeline.models.contract import Contract
from decp_pipeline.pipeline.columns import Chunk, tables_of
from decp_pipeline.pipeline.record import Kept, Rejected
from decp_pipeline.pipeline.rows import ColumnSpool, FragmentWriter

# The version of this format: raise it when the files above change in a way the code hash cannot see.
FORMAT = 1
CHUNK = 5_000  # valid records whose table rows are made at once (pipeline/columns.py)
COUNTS, RECORDS, REJECTED, META = "counts.json", "records.jsonl", "rejected.jsonl", "meta.arrow"
COPIES = "copies.json"  # the records dropped as exact copies of one kept before them in the file
PACKAGE = Path(__file__).resolve().parents[1]
META_SCHEMA = pa.schema(
    [
        ("position", pa.int64()),
        ("valid", pa.bool_()),
        ("format", pa.string()),  # 1.5 or 2.0
        ("kind", pa.string()),  # marche or contrat-concession
        ("key", pa.string()),
        ("digest", pa.binary(16)),
        ("uid", pa.string()),  # for a rejected record: the uid of its table rows, if it has any
        ("recency", pa.string()),
        ("modifications", pa.int32()),
        ("near", pa.binary(16)),
        ("anomalies", pa.string()),
        ("day", pa.string()),  # the facts of the run-dependent anomalies (pipeline/anomalies.py)
        ("amount", pa.float64()),
        ("version_key", pa.string()),  # the contract of which the record is a version (dedup/rules.py)
    ]
)


class FileResult:
    """Writes one file's result into a (temporary) folder; `close()` when the whole file was read."""

    def __init__(self, folder: Path, source: str) -> None:
        self.source = source
        self.records = open(folder / RECORDS, "wb")  # noqa: SIM115 - closed by close()
        self.rejected = open(folder / REJECTED, "wb")  # noqa: SIM115
        self.meta = ColumnSpool(META_SCHEMA, folder / META)
        self.tables = FragmentWriter(folder)
        self.chunk: Chunk | None = None  # the valid records whose rows are made as columns, next
        self.folder = folder
        self.copies: list[tuple[int, int]] = []  # (position, position of the record it copies)

    def keep(self, kept: Kept) -> None:
        contract, record_facts, anomalies, (day, amount) = kept.contract, kept.facts, kept.anomalies, kept.run_facts
        self.records.write(kept.line + b"\n")
        self.meta.add(kept.position, True, contract.version, contract.kind, record_facts.key, kept.digest,
                      contract.uid, record_facts.recency, record_facts.modifications, record_facts.near,
                      " ".join(anomalies) or None, day, amount, record_facts.version_key)  # fmt: skip
        if contract.uid is None:
            return  # no table rows
        chunk = self.chunk
        if chunk is None or not chunk.takes(contract) or len(chunk.lines) >= CHUNK:
            self._flush_chunk()
            chunk = self.chunk = Chunk(contract.version, contract.kind)
        chunk.add(contract, kept.line, kept.position, (" ".join(anomalies) or None, kept.fixes), (day, amount))

    def _flush_chunk(self) -> None:
        """The rows of the chunk's records, as columns; or, for a chunk Arrow's reader refuses, record by record."""
        chunk, self.chunk = self.chunk, None
        if chunk is None:
            return
        tables = tables_of(chunk, self.source)
        if tables is None:
            rows = zip(chunk.lines, chunk.positions, chunk.anomalies, chunk.fixes, chunk.days, chunk.amounts,
                       strict=True)  # fmt: skip
            for line, position, anomalies, fixes, day, amount in rows:
                self.tables.add(Contract(orjson.loads(line), chunk.version, chunk.kind), source=self.source,
                                valid=True, errors=[], anomalies=anomalies.split() if anomalies else [],
                                fixes=fixes, facts=(day, amount), position=position)  # fmt: skip
            return
        for name, table in tables.items():
            self.tables.lanes[True][name].write_table(table)

    def reject(self, rejected: Rejected) -> None:
        errors = [{"rule": rule, "path": where, "message": message} for rule, where, message in rejected.errors]
        line = {"position": rejected.position, "record": rejected.original, "errors": errors,
                "format": rejected.version}  # fmt: skip
        self.rejected.write(orjson.dumps(line) + b"\n")
        # Every rejected record has table rows, under its uid or, without one (no id, no buyer, not even an
        # object), under a key of its own that the build gives it (writers/tables.py: `own_key`).
        contract = rejected.contract or Contract({}, rejected.version, "marche")
        self.meta.add(rejected.position, False, rejected.version, contract.kind, None, None, contract.uid, None, None,
                      None, None, None, None, None)  # fmt: skip
        self.tables.add(contract, source=self.source, valid=False, errors=rejected.codes,
                        anomalies=rejected.anomalies, fixes=rejected.fixes, facts=rejected.run_facts,
                        position=rejected.position)  # fmt: skip

    def copy(self, position: int, original: int) -> None:
        """A record dropped as an exact copy of the record at `original` (listed in duplicates.csv)."""
        self.copies.append((position, original))

    def close(self) -> None:
        if self.copies:
            (self.folder / COPIES).write_bytes(orjson.dumps(self.copies))
        self._flush_chunk()
        self.records.close()
        self.rejected.close()
        self.meta.close()
        self.tables.close()


# -- reading a cached result ----------------------------------------------------------------------------------


def read_copies(folder: Path) -> list[tuple[int, int]]:
    """The exact copies dropped in a file: (position, position of the kept record it copies)."""
    path = folder / COPIES
    return [(a, b) for a, b in orjson.loads(path.read_bytes())] if path.is_file() else []


def read_fragment(path: Path, columns: list[str] | None = None) -> pa.Table | None:
    """A cached Arrow file (None when the file had no row for it), memory-mapped."""
    if not path.is_file():
        return None
    with pa.memory_map(str(path)) as source:
        table = pa.ipc.open_file(source).read_all()
    return table.select(columns) if columns else table


def record_lines(folder: Path, chunk: int) -> Iterator[list[bytes]]:
    """The valid records' JSON lines of a cached result, `chunk` bytes at a time."""
    with open(folder / RECORDS, "rb") as source:
        while lines := source.readlines(chunk):
            yield lines


def record_blocks(folder: Path, size: int) -> Iterator[bytes]:
    """The valid records' JSON lines of a cached result, in blocks of whole lines of about `size` bytes."""
    with open(folder / RECORDS, "rb") as source:
        rest = b""
        while block := source.read(size):
            block = rest + block
            end = block.rfind(b"\n") + 1
            rest = block[end:]
            if end:
                yield block[:end]
        if rest:  # a last line without its newline (never written so, but kept whole)
            yield rest + b"\n"


def copy_rejected_lines(folder: Path, source: str, file: str, out: IO[bytes]) -> None:
    """A file's rejected lines, as rejected.jsonl publishes them: with the source and the file's current path
    put in front of each cached line (which is a JSON object: its `{` is replaced)."""
    path = folder / REJECTED
    if not path.is_file() or not path.stat().st_size:
        return
    prefix = b'{"source":' + orjson.dumps(source) + b',"file":' + orjson.dumps(file) + b","
    with open(path, "rb") as lines:
        for line in lines:
            out.write(prefix + line[1:])


# -- the key ---------------------------------------------------------------------------------------------------


def file_sha1(path: str) -> str:
    digest = hashlib.sha1(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def imported_modules(root: str) -> list[str]:
    """The modules of this package that `root` imports, directly or not (itself included), sorted; imports
    made only for type checking (`if TYPE_CHECKING:`) are left out."""
    seen: set[str] = set()
    pending = [root]
    while pending:
        name = pending.pop()
        if name in seen or (path := _module_path(name)) is None:
            continue
        seen.add(name)
        pending.extend(_imports(name, path))
    return sorted(seen)


@cache
def _module_path(name: str) -> Path | None:
    """The source file of a module of this package (found without importing anything), or None."""
    parts = name.split(".")
    if parts[0] != "decp_pipeline":
        return None
    base = PACKAGE.joinpath(*parts[1:])
    for path in (base / "__init__.py", base.with_suffix(".py")):
        if path.is_file():
            return path
    return None


def _imports(name: str, path: Path) -> Iterator[str]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(_without_type_checking(ast.parse(path.read_bytes()))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            base = importlib.util.resolve_name(module, package) if node.level else module
            targets = [base, *(f"{base}.{alias.name}" for alias in node.names)]  # a name may be a module
        else:
            continue
        for target in targets:
            parts = target.split(".")
            if parts[0] == "decp_pipeline":  # its parent packages too: their __init__ runs first
                yield from (".".join(parts[:n]) for n in range(1, len(parts) + 1))


def _without_type_checking(tree: ast.Module) -> ast.Module:
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == "TYPE_CHECKING":
            node.body = [ast.Pass()]
    return tree


# The libraries whose behaviour is part of a cached result: the parsers, the validator, the Arrow writer.
LIBRARIES = ("ijson", "jsonschema-rs", "lxml", "orjson", "pyarrow")


def _library_versions() -> str:
    found = []
    for name in LIBRARIES:
        try:
            found.append(f"{name}={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            found.append(f"{name}=?")
    return " ".join(found)


def code_version(root: str) -> str:
    """The hash of the code `root` runs: package version, FORMAT, its modules' source and the schemas."""
    digest = hashlib.sha1(f"{__version__}|{FORMAT}|{_library_versions()}".encode(), usedforsecurity=False)
    for name in imported_modules(root):
        path = _module_path(name)
        assert path is not None
        digest.update(name.encode() + b"\0" + path.read_bytes())
    for schema in sorted((PACKAGE / "schemas").glob("*")):
        if schema.suffix in (".json", ".xsd"):
            digest.update(schema.read_bytes())
    return digest.hexdigest()[:12]


@cache
def reading_version() -> str:
    """The code version of reading a file (`CODE_VERSION`), computed when first asked for: parsing the modules
    costs 60 ms, which no command but `decp build`'s planning needs (not `decp validate`, not the workers)."""
    return code_version("decp_pipeline.pipeline.stage")


def __getattr__(name: str) -> str:
    if name == "CODE_VERSION":
        return reading_version()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
