"""decp.json copies a file's kept records in blocks of whole lines when it keeps them all (writers/regulatory.py)."""

from __future__ import annotations

from pathlib import Path

import orjson

from decp_pipeline.pipeline.cache import RECORDS, record_blocks, record_lines


def test_blocks_are_whole_lines_whatever_their_size(tmp_path: Path) -> None:
    lines = [orjson.dumps({"id": str(n), "objet": "é" * n + "\n dans le texte"}) + b"\n" for n in range(40)]
    (tmp_path / RECORDS).write_bytes(b"".join(lines))
    for size in (1, 7, 64, 1 << 20):
        blocks = list(record_blocks(tmp_path, size))
        assert all(block.endswith(b"\n") for block in blocks)
        assert b"".join(blocks) == b"".join(lines)
        split = [line + b"\n" for block in blocks for line in block[:-1].split(b"\n")]
        assert split == lines == [line for chunk in record_lines(tmp_path, size) for line in chunk]
