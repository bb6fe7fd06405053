"""One buyer's page, acheteurs/<id>.html, written by hand rather than by a template: 27,000 pages at national
size, and a Jinja2 render costs 150 µs a page before any row (measured: 8 s of the report's 20), this 15. Every
value from the data goes through `escape`; the contract rows come already escaped from DuckDB (buyers.py). The
pages share one stylesheet, acheteurs/style.css (their policy allows it, and nothing else, to load).
"""

from __future__ import annotations

from typing import Any

from markupsafe import escape

from decp_pipeline.report.libelles import FIXES
from decp_pipeline.report.render import cell, days, environment, number, percent

SHOWN_CONTRACTS = 100  # the latest contracts listed on a page
SHOWN_REJECTED = 200  # rejected records listed
SHOWN_REPAIRED = 50  # repaired records listed (their fixes are all counted, per code, above them)
STYLESHEET = "style.css"  # beside the pages, written once (acheteurs/style.css): 27,000 inline copies weigh 60 MB


def stylesheet() -> str:
    return str(environment().globals["style"])


HEAD = """<!doctype html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'self'">
<title>{title} : données essentielles publiées</title>
<link rel="stylesheet" href="{STYLESHEET}">
</head>
<body>
"""
COUNTS = (("records", "enregistrements"), ("exported", "publiés (valides)"), ("rejected", "rejetés"),
          ("repaired", "corrigés"), ("with_anomalies", "avec une anomalie"))  # fmt: skip
DEFINITION = """<p class="definition">Délai : jours entre <code>dateNotification</code> (<code>dateSignature</code>
pour une concession) et <code>datePublicationDonnees</code>, pour vos enregistrements valides qui ont les deux dates ;
la réglementation demande une publication dans les deux mois. « Enregistrements » : ceux qui sont publiés ou rejetés
(une copie écartée comme doublon n'est pas comptée). La page montre au plus {rejected} enregistrements rejetés,
{repaired} corrigés et les {contracts} contrats les plus récents ; toutes les lignes sont dans <code>marches.csv</code>
et <code>concessions.csv</code> (colonne <code>acheteur_id</code> ou <code>autoriteConcedante_id</code> =
<code>{id}</code>).</p>
"""
NO_REJECTED = (
    '<section id="rejets">\n  <h2>Enregistrements rejetés</h2>\n  <p>Aucun enregistrement rejeté.</p>\n</section>\n'
)
MARKS = {
    "fixes": ("corriges", "Corrections", "correction", "Aucune correction.",
              "Vos enregistrements ont été corrigés automatiquement : la forme, pas le fond (aucune valeur n'est "
              "inventée). Les publier directement sous la bonne forme évite ces corrections."),
    "anomalies": ("anomalies", "Anomalies", "anomalie", "Aucune anomalie.",
                  "Valeurs douteuses, publiées telles quelles : à vérifier."),
}  # fmt: skip


def page(buyer: dict[str, Any], contracts: list[str], rejected: list[dict[str, Any]],
         marks: dict[str, list[dict[str, Any]]], repaired: list[dict[str, Any]]) -> str:  # fmt: skip
    """The page of `buyer` (a row of acheteurs.csv), with its latest contracts (HTML rows), its first rejected
    records, its fixes and anomalies per code, and its first repaired records."""
    name = buyer["acheteur_nom"]
    parts = [
        HEAD.format(title=escape(name or buyer["acheteur_id"]), STYLESHEET=STYLESHEET),
        f"<header>\n  <h1>{escape(name or 'Acheteur sans nom')}</h1>\n  <p>Identifiant <code>"
        f"{escape(buyer['acheteur_id'])}</code> · sources : {escape(buyer['sources'])} · "
        '<a href="../report.html#acheteurs">retour au rapport de la publication</a></p>\n</header>\n<main>\n',
        _counts(buyer),
        DEFINITION.format(
            id=escape(buyer["acheteur_id"]), rejected=SHOWN_REJECTED, repaired=SHOWN_REPAIRED, contracts=SHOWN_CONTRACTS
        ),
        _rejected(rejected, buyer["rejected"] - len(rejected)),
        _marks("fixes", marks.get("fixes", []), _repaired(repaired, buyer["repaired"] - len(repaired))),
        _marks("anomalies", marks.get("anomalies", [])),
        _contracts(contracts, buyer["records"] - len(contracts)),
        "</main>\n</body>\n</html>\n",
    ]
    return "".join(parts)


def _counts(buyer: dict[str, Any]) -> str:
    boxes = [f'  <div class="chiffre" data-count="{key}"><b>{cell(buyer[key])}</b>{words}</div>\n'
             for key, words in COUNTS]  # fmt: skip
    delay, share = buyer["delay_median_days"], buyer["published_within_two_months"]
    boxes.append(f'  <div class="chiffre" data-count="delay_median_days"><b>{cell(delay, days(delay))}</b>'
                 "jours de délai médian de publication</div>\n")  # fmt: skip
    boxes.append(f'  <div class="chiffre" data-count="published_within_two_months"><b>{cell(share, percent(share))}'
                 "</b>publiés dans les deux mois</div>\n")  # fmt: skip
    return '<div class="chiffres" id="comptes">\n' + "".join(boxes) + "</div>\n"


def _rejected(rejected: list[dict[str, Any]], hidden: int) -> str:
    if not rejected:
        return NO_REJECTED
    rows = []
    for r in rejected:
        reasons = "".join(f"<li>{escape(words)}" + (f" : <code>{escape(field)}</code>" if field else "") + "</li>"
                          for words, field in r["reasons"])  # fmt: skip
        rows.append(f'<tr data-uid="{escape(r["uid"] or "")}"><td><code>{escape(r["id"] or "–")}</code></td>'
                    f"<td>{escape(_cut(r['objet']))}</td><td><ul>{reasons}</ul></td><td class=\"note\">"
                    f"{escape(r['source'])}, {escape(r['file'])}, enregistrement {r['position']}</td></tr>"
                    )  # fmt: skip
    more = f'  <p class="note">{number(hidden)} autres non affichés.</p>\n' if hidden > 0 else ""
    return ('<section id="rejets">\n  <h2>Enregistrements rejetés</h2>\n  <p>Ces enregistrements ne sont pas publiés : '
            "ils ne sont pas conformes au schéma officiel et ne peuvent pas être corrigés sans inventer une donnée. "
            "Corrigez-les à la source pour qu'ils le soient.</p>\n  <div class=\"table\"><table>\n    <thead><tr>"
            "<th>id</th><th>objet</th><th>raisons</th><th>où</th></tr></thead>\n    <tbody>"
            + "\n".join(rows) + "</tbody></table></div>\n" + more + "</section>\n")  # fmt: skip


def _marks(column: str, marks: list[dict[str, Any]], listed: str = "") -> str:
    section, title, what, absent, intro = MARKS[column]
    head = f'<section id="{section}">\n  <h2>{title}</h2>\n'
    if not marks:
        return head + f"  <p>{absent}</p>\n</section>\n"
    rows = "".join(
        f'<tr data-code="{escape(m["code"])}"><td>{escape(m["libelle"])}</td><td><code>{escape(m["code"])}</code></td>'
        f'<td class="n">{cell(m["records"])}</td><td>'
        + ", ".join(f"<code>{escape(e)}</code>" for e in m["examples"]) + "</td></tr>"
        for m in marks
    )  # fmt: skip
    return (head + f'  <p>{intro}</p>\n  <div class="table"><table>\n    <thead><tr><th>{what}</th><th>code</th>'
            '<th class="n">enregistrements</th><th>par exemple</th></tr></thead>\n    <tbody>' + rows
            + "</tbody></table></div>\n" + listed + "</section>\n")  # fmt: skip


def _repaired(repaired: list[dict[str, Any]], hidden: int) -> str:
    """The first repaired records, each with its fixes in plain words (the code in the title)."""
    if not repaired:
        return ""
    rows = "\n".join(
        f'<tr data-uid="{escape(r["uid"] or "")}"><td><code>{escape(r["id"] or "–")}</code></td>'
        f"<td>{escape(_cut(r['objet']))}</td><td>"
        + "; ".join(f'<span title="{escape(code)}">{escape(FIXES.get(code, code))}</span>'
                    for code in (r["fixes"] or "").split())
        + f"</td><td>{'oui' if r['valid'] else 'non (rejeté)'}</td></tr>"
        for r in repaired
    )  # fmt: skip
    more = f'  <p class="note">{number(hidden)} autres non affichés.</p>\n' if hidden > 0 else ""
    return ('  <h3>Les enregistrements corrigés</h3>\n  <div class="table"><table id="corriges-liste">\n    <thead><tr>'
            "<th>id</th><th>objet</th><th>corrections</th><th>publié</th></tr></thead>\n    <tbody>" + rows
            + "</tbody></table></div>\n" + more)  # fmt: skip


def _contracts(rows: list[str], hidden: int) -> str:
    more = (f'  <p class="note">Les {number(len(rows))} plus récents ; {number(hidden)} autres non affichés.</p>\n'
            if hidden > 0 else "")  # fmt: skip
    return ('<section id="contrats">\n  <h2>Contrats</h2>\n  <div class="table"><table>\n    <thead><tr>'
            "<th>notification</th><th>publication</th><th>id</th><th>objet</th><th class=\"n\">montant</th>"
            "<th>procédure</th><th>statut</th></tr></thead>\n    <tbody>\n" + "\n".join(rows)
            + "\n    </tbody></table></div>\n" + more + "</section>\n")  # fmt: skip


def _cut(text: str | None) -> str:
    if not text:
        return "–"
    return text if len(text) <= 120 else text[:119] + "…"
