"""`decp build`: from the raw files of each source to the published outputs.

stage.py       each new file, in a pool of processes: readers → record.py → cache.py (one folder per file)
record.py      one raw record → Kept | Rejected (normalize, hooks, validate; the Contract's facts)
cache.py       the per-file result format and its key (the code it depends on)
plan.py        from the cached facts of every file: dedup/ decides each record's fate, rows are chosen
assemble.py    writers/ stream the outputs from the cache; report.py accounts; all published as one set
run.py         the command: fetch, stage the selected sources, reuse the others' stages, assemble
"""
