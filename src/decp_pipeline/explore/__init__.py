"""decp.sqlite and metadata.json: the release's tables in one SQLite database, ready for Datasette.

    schema.py     which tables (those of datapackage.json), their keys, links, indexes and searched columns
    load.py       Arrow batches into SQLite rows, fast (the columns converted, never per-record dicts)
    views.py      the views and canned queries for the common questions (a buyer's, a supplier's, per year)
    database.py   decp.sqlite written (sqlite-utils), in bounded memory, put in place in one step
    metadata.py   metadata.json for Datasette: titles, descriptions, licence, source, facets, from datapackage.json

`datasette dist/decp.sqlite -m dist/metadata.json` serves it (docs/explore.md).
"""
