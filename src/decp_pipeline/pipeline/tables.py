"""The tabular outputs: their columns, and the rows of each record (cached per file, as Arrow fragments).

    marches        one row per marché (uid unique): initial values, current values after modifications
    concessions    one row per contrat de concession (uid unique), with its own columns
    titulaires     one row per winner (titulaire or concessionnaire), initial or added by a modification
    modifications  one row per modification, numbered from 1 in publication order
    actes_sous_traitance  format 2022: one row per acte spécial de sous-traitance or modification of one
    listes         format 2022: one row per value of a multi-valued field (techniques, typesPrix ...)

Tables are linked by `uid`. Every record left out of decp.json appears too, with `valid = false` and its
error codes, under its uid or, when it has none or another row holds it, under its own key
(`rejected:SOURCE:FILE#POSITION`, writers/tables.py). Rows are converted in batches to one typed schema
(dates as dates, amounts as numbers, identifiers as text); pipeline/rows.py makes each record's rows when its
file is read, and pipeline/writers/tables.py writes the selected ones as CSV (UTF-8, comma, RFC 4180 quoting,
ISO dates, `.` decimals) and Parquet from the same batches.
"""

from __future__ import annotations

from functools import cache

import pyarrow as pa

BATCH_ROWS = 20_000
# What each table holds, in datapackage.json (and metadata.json for Datasette, explore/metadata.py).
DESCRIPTIONS = {
    "marches": "One row per marché (uid unique): initial values, current values after modifications",
    "concessions": "One row per contrat de concession (uid unique), with its own columns",
    "titulaires": "One row per winner (titulaire or concessionnaire), initial or added by a modification",
    "actes_sous_traitance": "Format 2022: one row per acte spécial de sous-traitance or modification of one",
    "listes": "Format 2022: one row per value of a multi-valued field (techniques, typesPrix ...)",
    "modifications": "One row per modification, numbered from 1 in publication order",
}
# The licence of the published data (Etalab's, that of the DECP on data.gouv.fr), in datapackage.json.
LICENSES = [{"name": "etalab-2.0", "path": "https://www.etalab.gouv.fr/licence-ouverte-open-licence",
             "title": "Licence Ouverte / Open Licence version 2.0"}]  # fmt: skip
TEXT, NUMBER, INTEGER, BOOLEAN, DATE = pa.string(), pa.float64(), pa.int64(), pa.bool_(), pa.date32()
COMMON = [
    ("uid", TEXT, "buyer SIRET followed by the contract id: the key linking the tables"),
    ("id", TEXT, "the contract id given by the buyer"),
    ("source", TEXT, "the id of the source (sources.yaml) the row comes from"),
    ("format", TEXT, "1.5 (published in decp.json) or 2.0 (format 2022, published in decp-2022.json)"),
    ("valid", BOOLEAN, "true when the record is valid against the schema of its format and published"),
    ("errors", TEXT, "the schema error codes of an invalid record (RULE:PATH, separated by ' ')"),
    ("anomalies", TEXT, "quality anomaly codes (docs/build.md), separated by ' '"),
    (
        "fixes",
        TEXT,
        "the codes of the fixes made to the record (docs/normalization.md), separated by ' ': not "
        "uid-set and source-set (made to every record of format 1.5), nor those made to its whole file",
    ),
    ("nature", TEXT, "nature of the contract"),
    ("objet", TEXT, "object of the contract"),
    ("procedure", TEXT, "award procedure"),
    ("lieuExecution_code", TEXT, "place of performance: code"),
    ("lieuExecution_typeCode", TEXT, "place of performance: type of code"),
    ("lieuExecution_nom", TEXT, "place of performance: name"),
    ("dureeMois", INTEGER, "initial duration in months"),
    ("datePublicationDonnees", DATE, "date the data was first published"),
]
# Fields of format 2022 only (empty for 1.x rows); lists of values are joined by "; ".
FIELDS_2022 = [
    ("idAccordCadre", TEXT, "id of the accord-cadre a marché subséquent belongs to"),
    ("ccag", TEXT, "the CCAG of reference"),
    ("offresRecues", INTEGER, "number of offers received"),
    ("marcheInnovant", BOOLEAN, "innovative contract"),
    ("attributionAvance", BOOLEAN, "advance payment granted"),
    ("tauxAvance", NUMBER, "advance rate"),
    ("origineUE", NUMBER, "share of EU origin"),
    ("origineFrance", NUMBER, "share of French origin"),
    ("sousTraitanceDeclaree", BOOLEAN, "subcontracting declared"),
    ("typeGroupementOperateurs", TEXT, "type of grouping of operators"),
    ("techniques", TEXT, "purchase techniques, '; '-separated"),
    ("modalitesExecution", TEXT, "performance arrangements, '; '-separated"),
    ("typesPrix", TEXT, "price types, '; '-separated"),
    ("considerationsSociales", TEXT, "social considerations, '; '-separated"),
    ("considerationsEnvironnementales", TEXT, "environmental considerations, '; '-separated"),
]
TABLES: dict[str, list[tuple[str, pa.DataType, str]]] = {
    "marches": [
        *COMMON[:6],
        ("acheteur_id", TEXT, "SIRET of the buyer"),
        ("acheteur_nom", TEXT, "name of the buyer"),
        *COMMON[6:],
        ("codeCPV", TEXT, "CPV code"),
        ("dateNotification", DATE, "notification date of the contract"),
        ("montant", NUMBER, "initial amount, euros excluding VAT"),
        ("formePrix", TEXT, "price form"),
        ("montant_actuel", NUMBER, "amount after the last modification that changed it"),
        ("dureeMois_actuelle", INTEGER, "duration after the last modification that changed it"),
        ("titulaires_count", INTEGER, "number of initial titulaires"),
        ("modifications_count", INTEGER, "number of modifications"),
        *[(name, kind, f"format 2022: {text}") for name, kind, text in FIELDS_2022],
        ("file", TEXT, "the file the record was read from"),
        ("position", INTEGER, "1-based position of the record in its file"),
    ],
    "concessions": [
        *COMMON[:6],
        ("autoriteConcedante_id", TEXT, "SIRET of the granting authority"),
        ("autoriteConcedante_nom", TEXT, "name of the granting authority"),
        *COMMON[6:],
        ("dateSignature", DATE, "signature date"),
        ("dateDebutExecution", DATE, "start of performance"),
        ("valeurGlobale", NUMBER, "initial global value, euros"),
        ("montantSubventionPublique", NUMBER, "public subsidy, euros"),
        ("valeurGlobale_actuelle", NUMBER, "global value after the last modification that changed it"),
        ("dureeMois_actuelle", INTEGER, "duration after the last modification that changed it"),
        ("concessionnaires_count", INTEGER, "number of initial concessionnaires"),
        ("modifications_count", INTEGER, "number of modifications"),
        ("file", TEXT, "the file the record was read from"),
        ("position", INTEGER, "1-based position of the record in its file"),
    ],
    "titulaires": [
        ("uid", TEXT, "the contract (marches.uid or concessions.uid)"),
        ("role", TEXT, "titulaire (marché) or concessionnaire (concession)"),
        ("modification", INTEGER, "0 for the initial winners, else the number of the modification that lists them"),
        ("rang", INTEGER, "1-based rank in its list"),
        ("typeIdentifiant", TEXT, "type of identifier"),
        ("titulaire_id", TEXT, "identifier (SIRET ...)"),
        ("denominationSociale", TEXT, "company name"),
    ],
    "actes_sous_traitance": [
        ("uid", TEXT, "the marché (marches.uid), format 2022"),
        ("acte", TEXT, "acte (an acte spécial de sous-traitance) or modification (a modification of one)"),
        ("id", INTEGER, "number of the acte spécial de sous-traitance"),
        ("sousTraitant_typeIdentifiant", TEXT, "type of identifier of the subcontractor"),
        ("sousTraitant_id", TEXT, "identifier of the subcontractor"),
        ("dureeMois", INTEGER, "duration in months (new duration for a modification)"),
        ("dateNotification", DATE, "notification date (of the modification, for a modification)"),
        ("datePublicationDonnees", DATE, "publication date"),
        ("montant", NUMBER, "amount, euros excluding VAT (new amount for a modification)"),
        ("variationPrix", TEXT, "price variation"),
    ],
    "listes": [
        ("uid", TEXT, "the contract (marches.uid or concessions.uid), format 2022"),
        (
            "champ",
            TEXT,
            "the multi-valued field: techniques, modalitesExecution, typesPrix, considerationsSociales, "
            "considerationsEnvironnementales",
        ),
        ("rang", INTEGER, "1-based rank of the value in its list"),
        ("valeur", TEXT, "the value"),
    ],
    "modifications": [
        ("uid", TEXT, "the contract (marches.uid or concessions.uid)"),
        ("numero", INTEGER, "1-based number of the modification, in the order published"),
        ("objetModification", TEXT, "object of the modification"),
        ("dateNotificationModification", DATE, "notification date (marché)"),
        ("dateSignatureModification", DATE, "signature date (concession)"),
        ("datePublicationDonneesModification", DATE, "publication date of the modification"),
        ("dureeMois", INTEGER, "new duration in months"),
        ("montant", NUMBER, "new amount (marché)"),
        ("valeurGlobale", NUMBER, "new global value (concession)"),
        ("titulaires_count", INTEGER, "number of titulaires the modification lists"),
    ],
}
# Columns computed when the tables are written, never cached (pipeline/derived.py says how).
_CONTRACT_DERIVED = [
    ("montant_fiable", BOOLEAN, "false when the initial amount is doubtful (montant_fiable_raison), null without one: "
     "sum the amounts with and without the doubtful rows"),
    ("montant_fiable_raison", TEXT, "why the amount is doubtful: au-dessus-du-plafond, un-euro-ou-moins, "
     "suite-123456789, chiffres-repetes, egal-a-la-duree, par-mois-invraisemblable"),
    ("duree_restante_mois", INTEGER, "months left at the build's day (start plus current duration), 0 once ended"),
]  # fmt: skip
DERIVED: dict[str, list[tuple[str, pa.DataType, str]]] = {
    "marches": [
        *_CONTRACT_DERIVED,
        ("cpv_division", TEXT, "the CPV division: the first 2 digits of codeCPV"),
        ("cpv_groupe", TEXT, "the CPV group: the first 3 digits of codeCPV"),
    ],
    "concessions": _CONTRACT_DERIVED,
    "titulaires": [
        ("identifiant_type", TEXT, "typeIdentifiant in one spelling (SIRET, SIREN, TVA, HORS-UE, FRWF...)"),
        ("identifiant_valide", BOOLEAN, "a SIRET or SIREN that passes INSEE's check (Luhn); null for other types"),
        ("siren", TEXT, "the SIREN (first 9 digits) of a valid SIRET or SIREN"),
    ],
}


# Columns filled from the reference data (pipeline/enrich.py), empty without it: written empty with the table,
# replaced when the references are there.
_BUYER_ENRICHED = [
    ("nom_sirene", TEXT, "name in the SIRENE register (the unité légale's), when the record's differs or lacks"),
    ("categorie_juridique", TEXT, "legal category (SIRENE, catégorie juridique)"),
    ("commune", TEXT, "commune code of the establishment (SIRENE, COG)"),
    ("departement", TEXT, "département code (COG)"),
    ("region", TEXT, "région code (COG)"),
    ("ferme_a_la_notification", BOOLEAN, "the establishment was closed at the notification date (SIRENE)"),
]
ENRICHED: dict[str, list[tuple[str, pa.DataType, str]]] = {
    "marches": [*[(f"acheteur_{n}", t, f"buyer: {d}") for n, t, d in _BUYER_ENRICHED],
                ("cpv_libelle", TEXT, "label of the CPV code (CPV 2008 nomenclature)"),
                ("cpv_connu", BOOLEAN, "the CPV code is in the nomenclature (null without it)")],
    "concessions": [(f"autoriteConcedante_{n}", t, f"granting authority: {d}") for n, t, d in _BUYER_ENRICHED],
    "titulaires": [
        ("titulaire_nom_sirene", TEXT, "name in the SIRENE register (unité légale)"),
        ("titulaire_categorie_entreprise", TEXT, "company category (PME, ETI, GE: SIRENE)"),
        ("titulaire_tranche_effectifs", TEXT, "headcount band (SIRENE code)"),
        ("titulaire_naf", TEXT, "NAF activity of the establishment (SIRENE)"),
        ("titulaire_commune", TEXT, "commune code of the establishment (SIRENE)"),
        ("titulaire_departement", TEXT, "département code (COG)"),
        ("titulaire_region", TEXT, "région code (COG)"),
        ("titulaire_pays", TEXT, "country: FR for a SIRET or SIREN, the prefix of a TVA number, else null"),
        ("fournisseur_local", BOOLEAN, "the holder's département is the buyer's"),
    ],
}  # fmt: skip


def published_columns(name: str) -> list[tuple[str, pa.DataType, str]]:
    """A table's columns as published: those of its cached fragments, the derived ones, the enriched ones."""
    return [*TABLES[name], *DERIVED.get(name, []), *ENRICHED.get(name, [])]


FRICTIONLESS_TYPES = {TEXT: "string", NUMBER: "number", INTEGER: "integer", BOOLEAN: "boolean", DATE: "date"}


# Columns the fragments cached per file carry for the build, never published: the record a linked row belongs
# to (its position in the file), and the facts of the run-dependent quality checks.
HIDDEN_POSITION = ("_position", pa.int64())
HIDDEN_FACTS = [("_day", TEXT), ("_amount", NUMBER)]
MAIN_TABLES = ("marches", "concessions")


@cache
def fragment_schema(name: str) -> pa.Schema:
    """A table as cached per file: its columns but `file` (known only when the build runs), plus hidden ones."""
    fields = [(column, kind) for column, kind, _ in TABLES[name] if column != "file"]
    fields += HIDDEN_FACTS if name in MAIN_TABLES else [HIDDEN_POSITION]
    return pa.schema(fields)


def fragment_name(table: str, valid: bool) -> str:
    return f"{table}.arrow" if valid else f"{table}.rejected.arrow"
