"""Who publishes, and who went silent: coverage.csv, buyers.csv and report.json's `silent` list.

Both files are computed from the main tables just written (marches and concessions: every exported and every
rejected record has its row there), as columns (pyarrow group-bys), never record by record.

    coverage.csv   per source, per date (`dateNotification`, its counterpart `dateSignature` for concessions;
                   `datePublicationDonnees`) and month: rows, exported (valid) and rejected rows, distinct buyers.
                   Rows without the date have an empty month: a source's rows of one date add up to its
                   exported + rejected of report.json.
    buyers.csv     one row per non-empty buyer id (acheteur.id, autoriteConcedante.id for concessions), valid
                   rows or not: the name of its latest publication, its sources, first and last publication
                   days, its rows per year of notification, and the share of its rows that are rejected.

A source is `silent` when its newest publication is older than SILENT_FACTOR times its usual gap between two
publication days (the median gap, at least MIN_SILENCE days), counted to the build's day; or when it was in
the previous release and is not in this one.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

COVERAGE, BUYERS = "coverage.csv", "buyers.csv"
SILENT_FACTOR = 4  # a source is silent after 4 times its usual gap between two publication days
MIN_SILENCE = 31  # days: never silent sooner
MAIN = {  # table → (its buyer column prefix, its notification date)
    "marches": ("acheteur", "dateNotification"),
    "concessions": ("autoriteConcedante", "dateSignature"),
}
DATES = ("dateNotification", "datePublicationDonnees")  # the names coverage.csv gives the two dates


@dataclass(frozen=True)
class Silence:
    source: str
    why: str
    newest_publication: str | None = None
    days: int | None = None  # since the newest publication
    usual_gap: int | None = None  # days

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @property
    def warning(self) -> str:
        if self.days is None:
            return f"source {self.source} is silent: {self.why}"
        rhythm = (f"against a usual gap of {self.usual_gap:,} day(s)" if self.usual_gap is not None
                  else f"one publication day only, no rhythm known: silent after {MIN_SILENCE} days")  # fmt: skip
        return (f"source {self.source} is silent: its newest publication is of {self.newest_publication}, "
                f"{self.days:,} days ago, {rhythm}")  # fmt: skip


# The two files' columns, for datapackage.json: (name, Table Schema type, description).
DESCRIPTIONS = {
    COVERAGE: "Per source, per date (dateNotification or datePublicationDonnees) and month: rows, exported and "
    "rejected, distinct buyers",
    BUYERS: "One row per buyer id: its latest name, sources, first and last publication, rows per year, share rejected",
}
FIELDS = {
    COVERAGE: [
        ("source", "string", "the id of the source (sources.yaml)"),
        ("date", "string", "dateNotification (dateSignature for concessions) or datePublicationDonnees"),
        ("month", "string", "YYYY-MM of that date; empty for the rows without it"),
        ("records", "integer", "rows of marches and concessions (exported + rejected records)"),
        ("exported", "integer", "of which valid (published in decp.json or decp-2022.json)"),
        ("rejected", "integer", "of which rejected (rejected.jsonl)"),
        ("buyers", "integer", "distinct buyer ids (acheteur, autorité concédante)"),
    ],
    BUYERS: [
        ("acheteur_id", "string", "the buyer's id (acheteur.id, autoriteConcedante.id for concessions)"),
        ("acheteur_nom", "string", "its name in its latest publication"),
        ("sources", "string", "the sources that publish it, separated by ' '"),
        ("records", "integer", "its rows of marches and concessions, valid or not"),
        ("rejected", "integer", "of which rejected"),
        ("share_rejected", "number", "rejected / records"),
        ("first_publication", "date", "its earliest datePublicationDonnees"),
        ("last_publication", "date", "its latest datePublicationDonnees"),
        ("records_by_year", "string", "records per year of notification (YEAR:COUNT, 'none' without a date)"),
    ],
}


def describe(counts: dict[str, int]) -> list[dict[str, Any]]:
    """The datapackage.json resources of coverage.csv and buyers.csv (`counts`: their rows)."""
    return [
        {"name": name.removesuffix(".csv"), "path": name, "title": name.removesuffix(".csv"),
         "description": DESCRIPTIONS[name], "format": "csv", "mediatype": "text/csv",
         "encoding": "utf-8", "dialect": {"delimiter": ",", "quoteChar": '"', "header": True},
         "schema": {"fields": [{"name": n, "type": t, "description": d} for n, t, d in fields],
                    **({"primaryKey": ["acheteur_id"]} if name == BUYERS else {})},
         "count": counts[name]}
        for name, fields in FIELDS.items()
    ]  # fmt: skip


def contracts(folder: Path) -> pa.Table:
    """The rows of marches and concessions with the columns coverage needs, under common names."""
    parts = []
    for table, (buyer, notification) in MAIN.items():
        path = folder / f"{table}.parquet"
        if not path.is_file():
            continue
        columns = ["source", "valid", f"{buyer}_id", f"{buyer}_nom", notification, "datePublicationDonnees"]
        rows = pq.read_table(path, columns=columns)
        parts.append(rows.rename_columns(["source", "valid", "buyer", "name", "dateNotification",
                                          "datePublicationDonnees"]))  # fmt: skip
    schema = pa.schema([("source", pa.string()), ("valid", pa.bool_()), ("buyer", pa.string()),
                        ("name", pa.string()), ("dateNotification", pa.date32()),
                        ("datePublicationDonnees", pa.date32())])  # fmt: skip
    return pa.concat_tables([p.cast(schema) for p in parts]) if parts else schema.empty_table()


def write_coverage(folder: Path, rows: pa.Table) -> int:
    """coverage.csv: one row per source, date and month (empty: the date is missing)."""
    tables = []
    for date in DATES:
        month = pc.strftime(rows[date], format="%Y-%m")
        keyed = pa.table({"source": rows["source"], "date": pa.array([date] * rows.num_rows, pa.string()),
                          "month": pc.fill_null(month, ""), "valid": pc.cast(rows["valid"], pa.int64()),
                          "buyer": rows["buyer"]})  # fmt: skip
        grouped = keyed.group_by(["source", "date", "month"]).aggregate(
            [("valid", "count"), ("valid", "sum"), ("buyer", "count_distinct")]
        )
        tables.append(grouped)
    table = pa.concat_tables(tables) if tables else pa.table({})
    records, exported = table["valid_count"], pc.fill_null(table["valid_sum"], 0)
    out = pa.table({"source": table["source"], "date": table["date"], "month": table["month"],
                    "records": records, "exported": exported, "rejected": pc.subtract(records, exported),
                    "buyers": table["buyer_count_distinct"]})  # fmt: skip
    out = out.sort_by([("source", "ascending"), ("date", "ascending"), ("month", "ascending")])
    pa_csv.write_csv(out, folder / COVERAGE)
    return int(out.num_rows)


def write_buyers(folder: Path, rows: pa.Table) -> int:
    """buyers.csv: one row per non-empty buyer id, valid rows or not, in the order of the ids."""
    rows = rows.filter(pc.and_(pc.is_valid(rows["buyer"]), pc.not_equal(rows["buyer"], "")))
    rows = rows.append_column("rejected", pc.cast(pc.invert(rows["valid"]), pa.int64()))
    publication = "datePublicationDonnees"
    base = rows.group_by("buyer").aggregate([("valid", "count"), ("rejected", "sum"), (publication, "min"),
                                             (publication, "max")])  # fmt: skip
    latest = (rows.sort_by([("buyer", "ascending"), (publication, "descending")])
              .group_by("buyer", use_threads=False).aggregate([("name", "first")]).sort_by("buyer"))  # fmt: skip
    sources = _listed(rows.group_by(["buyer", "source"]).aggregate([]), "source")
    year = pc.fill_null(pc.cast(pc.year(rows["dateNotification"]), pa.string()), "none")
    per_year = pa.table({"buyer": rows["buyer"], "year": year, "n": rows["valid"]}).group_by(["buyer", "year"])
    per_year = per_year.aggregate([("n", "count")])
    text = pc.binary_join_element_wise(per_year["year"], pc.cast(per_year["n_count"], pa.string()), ":")
    years = _listed(per_year.append_column("text", text).select(["buyer", "text"]), "text")
    # Each of the four has one row per buyer, sorted by id (a join would refuse the lists).
    base = base.sort_by("buyer")
    assert all(part["buyer"].equals(base["buyer"]) for part in (latest, sources, years))
    records = base["valid_count"]
    out = pa.table({
        "acheteur_id": base["buyer"],
        "acheteur_nom": latest["name_first"],
        "sources": pc.binary_join(sources["source_list"], " "),
        "records": records,
        "rejected": base["rejected_sum"],
        "share_rejected": pc.round(pc.divide(pc.cast(base["rejected_sum"], pa.float64()), records), 4),
        "first_publication": base[f"{publication}_min"],
        "last_publication": base[f"{publication}_max"],
        "records_by_year": pc.binary_join(years["text_list"], " "),
    })  # fmt: skip
    pa_csv.write_csv(out, folder / BUYERS)
    return int(out.num_rows)


def _listed(pairs: pa.Table, column: str) -> pa.Table:
    """(buyer, value) pairs → one row per buyer with the list of its values, in ascending order."""
    ordered = pairs.sort_by([("buyer", "ascending"), (column, "ascending")])
    return ordered.group_by("buyer", use_threads=False).aggregate([(column, "list")]).sort_by("buyer")


def silent_sources(rows: pa.Table, today: str, sources: list[str], previous: Path | None) -> list[Silence]:
    """The sources gone silent, by their rhythm; and those of the previous release missing from this one."""
    silences = []
    for source in sorted(set(sources)):
        days = pc.unique(rows.filter(pc.equal(rows["source"], source))["datePublicationDonnees"].drop_null())
        silence = _by_rhythm(source, np.sort(days.to_numpy(zero_copy_only=False)), datetime.date.fromisoformat(today))
        if silence is not None:
            silences.append(silence)
    for source in sorted(set(_sources_of(previous)) - set(sources)):
        silences.append(Silence(source, "it was in the previous release and is missing from this one"))
    return silences


def _by_rhythm(source: str, days: np.ndarray, today: datetime.date) -> Silence | None:
    """Silent when the newest publication day is older than SILENT_FACTOR times the median gap between the
    source's publication days, and than MIN_SILENCE days (the only bound for a source of one day)."""
    if not len(days):
        return None
    ordinals = days.astype("datetime64[D]").astype(np.int64)
    usual = max(int(np.median(np.diff(ordinals))), 1) if len(ordinals) > 1 else None
    newest = datetime.date(1970, 1, 1) + datetime.timedelta(days=int(ordinals[-1]))
    since = (today - newest).days
    if since <= max(SILENT_FACTOR * (usual or 0), MIN_SILENCE):
        return None
    return Silence(source, "no publication for longer than its rhythm", newest.isoformat(), since, usual)


def _sources_of(release: Path | None) -> list[str]:
    """The sources of a release's report.json (none when it cannot be read)."""
    if release is None:
        return []
    try:
        document = json.loads((release / "report.json").read_text(encoding="utf-8"))
        return [str(source) for source in document["sources"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []
