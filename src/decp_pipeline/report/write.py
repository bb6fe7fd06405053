"""report.html, acheteurs.csv and acheteurs/: the report of a release, written into it once its tables and
report.json are (pipeline/assemble.py), before its manifest: the report is part of the release.

    report.html          one self-contained page (styles, plots and data inline; no request to any host)
    acheteurs.csv        the counts of every buyer (report/buyers.py)
    acheteurs/<id>.html  one page per buyer
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from decp_pipeline.exceptions import OutputError
from decp_pipeline.report import accounting, buyers, indicators, plots
from decp_pipeline.report.render import render
from decp_pipeline.report.store import SPILL, connect

PAGE = "report.html"
LISTED_BUYERS = 100  # buyers listed in report.html before any search (the most records first)


def write_report(folder: Path, document: dict[str, Any], today: str) -> dict[str, Any]:
    """Write the report of the release in `folder`; what was written (pages, bytes, seconds)."""
    started = time.perf_counter()
    try:
        db = connect(folder)
        try:
            everyone = buyers.counts(db)
            facts = _facts(db, folder, document, today, everyone)
            page = render(PAGE, **facts, plots=_plots(facts)).encode("utf-8")
            (folder / PAGE).write_bytes(page)
            buyers.write_csv(folder, everyone)
            pages_bytes = buyers.write_pages(folder, db, everyone)
        finally:
            db.close()
            shutil.rmtree(folder / SPILL, ignore_errors=True)
    except (duckdb.Error, pa.ArrowException) as e:  # disk, memory, a table unreadable: the build fails whole
        raise OutputError(
            f"could not write the report ({PAGE}): {' '.join(str(e).split())}; "
            "the current release was kept (outputs: {report: false} leaves it out)"
        ) from None
    _describe(folder, len(everyone))
    return {"pages": len(everyone), "report_bytes": len(page), "pages_bytes": pages_bytes,
            "seconds": round(time.perf_counter() - started, 2)}  # fmt: skip


def _facts(db: Any, folder: Path, document: dict[str, Any], today: str, everyone: list[dict[str, Any]]
           ) -> dict[str, Any]:  # fmt: skip
    enriched = bool(document.get("enrichment"))
    listed = sorted(everyone, key=lambda b: (-b["records"], b["acheteur_id"]))[:LISTED_BUYERS]
    return {
        "meta": {"release": document.get("release"), "generated_at": document.get("generated_at"),
                 "version": document.get("decp_pipeline"), "today": today, "enriched": enriched},
        "document": document,
        "sources": accounting.sources(document),
        "total": document["total"],
        "notification": accounting.months(db, "notification", today),
        "publication": accounting.months(db, "publication", today),
        "overlap": accounting.overlap(document),
        "marks": accounting.marks(document, db),
        "rejections": accounting.rejections(document, folder),
        "silent": accounting.silent(document),
        "indicators": indicators.all_indicators(db, enriched=enriched),
        "buyers": {"count": len(everyone), "listed": listed, "without_id": _without_id(db),
                   "all": [[b["acheteur_id"], b["acheteur_nom"] or "", b["records"], b["rejected"], b["page"]]
                           for b in everyone]},
    }  # fmt: skip


def _without_id(db: Any) -> int:
    """Rows whose buyer has no id: no page can be theirs (the report says how many)."""
    found = db.execute("SELECT count(*) FROM contrats WHERE acheteur IS NULL OR acheteur = ''").fetchone()
    return int(found[0]) if found else 0


def kept_report(release: Path) -> dict[str, Any]:
    """What the report of a kept release (nothing changed) holds, as write_report says it; empty without one."""
    page = release / PAGE
    if not page.is_file():
        return {}
    pages = [p.stat().st_size for p in (release / buyers.FOLDER).glob("*.html")]
    return {"pages": len(pages), "report_bytes": page.stat().st_size, "pages_bytes": sum(pages), "seconds": None}


def _plots(facts: dict[str, Any]) -> dict[str, str | None]:
    sources = facts["sources"]
    found = facts["indicators"]
    names = [s["source"] for s in sources]
    cpv = found["cpv"]["divisions"]
    sizes = found["sizes"]
    return {
        "notification": plots.months(facts["notification"], "Contrats exportés par mois de notification"),
        "publication": plots.months(facts["publication"], "Contrats exportés par mois de publication"),
        "outcome": plots.stacked_bars(
            names, {"exportés": [s["exported"] for s in sources], "rejetés": [s["rejected"] for s in sources],
                    "doublons": [s["duplicates"] for s in sources]},
            "Devenir des enregistrements lus, par source", xlabel="enregistrements lus",
            colors=["#009081", "#e1000f", "#c3992a"]),
        "overlap": plots.matrix(names, facts["overlap"]["matrix"], "Contrats publiés par deux sources")
        if facts["overlap"]["any"] else None,
        "cpv": plots.bars([f"{d['division'] or '–'} {d['libelle']}" for d in cpv], [d["sum_reliable"] for d in cpv],
                          "Montant des marchés par division CPV (montants fiables)", xlabel="euros HT"),
        "delays": plots.bars([s["source"] for s in found["delays"]["sources"]],
                             [s["on_time"] or 0.0 for s in found["delays"]["sources"]],
                             "Part publiée dans les deux mois, par source", xlabel="part des contrats", percent=True),
        "single_offer": plots.bars([p["procedure"] for p in found["single_offer"]["procedures"]],
                                   [p["share"] for p in found["single_offer"]["procedures"]],
                                   "Part des marchés à offre unique, par procédure", xlabel="part des marchés",
                                   percent=True),
        "sizes": plots.stacked_bars([p["procedure"] for p in sizes["procedures"]],
                                    {band: [p["counts"][i] for p in sizes["procedures"]]
                                     for i, band in enumerate(sizes["bands"])},
                                    "Procédures par taille de marché", xlabel="marchés"),
        "dependence": plots.histogram(found["dependence"]["shares"], "Part du premier fournisseur, par acheteur",
                                      xlabel="part du montant de l'acheteur allant à son premier fournisseur"),
    }  # fmt: skip


def _describe(folder: Path, rows: int) -> None:
    """acheteurs.csv in datapackage.json."""
    path = folder / "datapackage.json"
    if not path.is_file():
        return
    package = json.loads(path.read_text(encoding="utf-8"))
    package["resources"] = [r for r in package["resources"] if r.get("name") != "acheteurs"]
    package["resources"].append(buyers.describe(rows))
    path.write_text(json.dumps(package, ensure_ascii=False, indent=2) + "\n", "utf-8")
