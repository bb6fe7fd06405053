"""The views of decp.sqlite, for the common questions, and the canned queries of metadata.json.

    contrats              the published contracts (valid = 1), marchés and concessions in the same columns
                          (`categorie`: marche or concession): a buyer's are `contrats?acheteur_id=...`
    contrats_titulaires   one row per published contract and winner: a supplier's are `?titulaire_id=...`
    contrats_par_annee    per year of notification (of signature for a concession) and category: contracts,
                          buyers, the sum of the initial amounts and of those not doubtful (montant_fiable)

Each branch reads one table through its indexes: a filter on a view's column is pushed into both branches.
"""

# ruff: noqa: S608 - the SQL is made of this package's constants and of the names datapackage.json gives (the
# build's own tables and columns) and quoted paths, never of data

from __future__ import annotations

# Per main table: its columns under the view's names (None: the table has no such column); `annee` follows `date`,
# its first four characters.
_COLUMNS = {
    "uid": ("uid", "uid"),
    "id": ("id", "id"),
    "source": ("source", "source"),
    "acheteur_id": ("acheteur_id", "autoriteConcedante_id"),
    "acheteur_nom": ("acheteur_nom", "autoriteConcedante_nom"),
    "objet": ("objet", "objet"),
    "nature": ("nature", "nature"),
    "procedure": ("procedure", "procedure"),
    "codeCPV": ("codeCPV", None),
    "date": ("dateNotification", "dateSignature"),
    "montant": ("montant", "valeurGlobale"),
    "montant_actuel": ("montant_actuel", "valeurGlobale_actuelle"),
    "montant_fiable": ("montant_fiable", "montant_fiable"),
    "dureeMois": ("dureeMois", "dureeMois"),
    "titulaires": ("titulaires_noms", "concessionnaires_noms"),
    "departement": ("acheteur_departement", "autoriteConcedante_departement"),
}
_MAIN = (("marches", "marche"), ("concessions", "concession"))

DESCRIPTIONS = {
    "contrats": "The published contracts (valid = 1), marchés and concessions in the same columns: the contracts "
    "of a buyer are those of its acheteur_id (autoriteConcedante.id for a concession).",
    "contrats_titulaires": "One row per published contract and winner (titulaire, concessionnaire, initial or "
    "added by a modification): the contracts of a supplier are those of its titulaire_id (or siren).",
    "contrats_par_annee": "Per year of notification (of signature for a concession) and category: the published "
    "contracts, their buyers, the sum of their initial amounts, and of those not doubtful (montant_fiable).",
}


def views(present: set[str]) -> dict[str, str]:
    """The SQL of each view, from the main tables `present` (none without them)."""
    main = [(table, category, side) for side, (table, category) in enumerate(_MAIN) if table in present]
    if not main:
        return {}
    contrats = " UNION ALL ".join(
        f"SELECT '{category}' AS categorie, {_columns(side)} FROM {table} WHERE valid = 1"
        for table, category, side in main
    )
    result = {"contrats": contrats}
    if "titulaires" in present:
        result["contrats_titulaires"] = " UNION ALL ".join(
            f"SELECT t.titulaire_id, t.denominationSociale, t.siren, t.typeIdentifiant, t.modification, "
            f"'{category}' AS categorie, {_columns(side, 'c.')} FROM titulaires t JOIN {table} c "
            f"ON c.uid = t.{category} WHERE c.valid = 1"
            for table, category, side in main
        )
    result["contrats_par_annee"] = (
        "SELECT annee, categorie, count(*) AS contrats, count(DISTINCT acheteur_id) AS acheteurs, "
        "round(sum(montant), 2) AS montant, "
        "round(sum(CASE WHEN montant_fiable = 0 THEN NULL ELSE montant END), 2) AS montant_fiable "
        "FROM contrats GROUP BY annee, categorie ORDER BY annee DESC, categorie"
    )
    return result


def queries(present: set[str]) -> dict[str, dict[str, str]]:
    """Datasette's canned queries: a buyer's contracts, a supplier's (by SIRET or SIREN)."""
    if not {"marches", "concessions"} & present:
        return {}
    result = {
        "contrats_d_un_acheteur": {
            "title": "The contracts of a buyer",
            "description": "The published contracts of a buyer (its SIRET), newest first.",
            "sql": "SELECT * FROM contrats WHERE acheteur_id = :acheteur_id ORDER BY date DESC",
        }
    }
    if "titulaires" in present:
        result["contrats_d_un_titulaire"] = {
            "title": "The contracts of a supplier",
            "description": "The published contracts won by a company, by its SIRET or its SIREN, newest first.",
            "sql": "SELECT * FROM contrats_titulaires WHERE titulaire_id = :identifiant OR siren = :identifiant "
            "ORDER BY date DESC",
        }
    return result


def _columns(side: int, prefix: str = "") -> str:
    parts = []
    for name, pair in _COLUMNS.items():
        column = pair[side]
        parts.append(f"{prefix}{column} AS {name}" if column is not None else f"NULL AS {name}")
        if name == "date":
            parts.append(f"substr({prefix}{column}, 1, 4) AS annee")
    return ", ".join(parts)
