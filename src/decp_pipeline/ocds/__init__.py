"""The OCDS 1.1 export of a release: dist/ocds/ (a release package per publication day, one record package), from
the valid, deduplicated contracts of decp.json and decp-2022.json; `decp publish` sends it as ocds.zip.

settings.py   the `ocds:` section of sources.yaml (ocid prefix, base URI, publisher, licence)
mapping.py    one contract → its releases (at notification, then one per modification); docs/ocds.md
merge.py      the releases of a contract → its compiled release (OCDS merging)
pieces.py     the contracts cut into pieces of lines, each mapped in a worker process
write.py      the packages, streamed (pipeline/assemble.py calls it)
archive.py    ocds.zip, made by `decp publish`
extension/    the decp extension: the DECP fields OCDS has no place for
"""
