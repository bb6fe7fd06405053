"""What the 1.x normalizer knows of the regulation's fields: which are lists, numbers, texts, dates, and the
labels of enumerated values (from the official schema itself, plus the other spellings met in real files)."""

from __future__ import annotations

import unicodedata
from functools import cache, lru_cache
from typing import Any

from decp_pipeline.official_schemas import VERSIONS, load_json_schema

ABSENT = frozenset({"", "NC", "nc", "N/C", "n/c"})

# The list fields of format 1.x and the wrapper key of their items in the XML-like shape.
LIST_FIELDS = {
    "titulaires": "titulaire",
    "modifications": "modification",
    "concessionnaires": "concessionnaire",
    "donneesExecution": "donneesAnnuelles",
    "tarifs": "tarif",
}
NUMBER_FIELDS = frozenset(
    {"montant", "valeurGlobale", "montantSubventionPublique", "depensesInvestissement", "tarif", "dureeMois"}
)
TEXT_FIELDS = frozenset(
    {"id", "codeCPV", "code", "nom", "denominationSociale", "objet", "intituleTarif", "objetModification"}
)
# Objects that flattened exports write as dotted keys (`acheteur.id`).
DOTTED_PARENTS = frozenset({"acheteur", "autoriteConcedante", "lieuExecution"})
# Objects whose `id` is a SIRET (or another company identifier).
SIRET_HOLDERS = frozenset({"acheteur", "autoriteConcedante", "titulaires", "concessionnaires"})
DATE_FIELDS = frozenset(
    {
        "dateNotification",
        "datePublicationDonnees",
        "dateSignature",
        "dateDebutExecution",
        "dateNotificationModification",
        "datePublicationDonneesModification",
        "dateSignatureModification",
        "datePublicationDonneesExecution",
    }
)
PROCEDURES_14 = {
    "Marché négocié sans publicité ni mise en concurrence préalable": (
        "Marché passé sans publicité ni mise en concurrence préalable"
    ),
    "Marché public négocié sans publicité ni mise en concurrence préalable": (
        "Marché passé sans publicité ni mise en concurrence préalable"
    ),
    "Procédure concurrentielle avec négociation": "Procédure avec négociation",
    "Procédure négociée avec mise en concurrence préalable": "Procédure avec négociation",
}
# Other spellings met in real files, by folded form (see `fold`), for each enumerated field.
KNOWN_LABELS = {
    "typeIdentifiant": {
        "tva intracommunautaire": "TVA",
        "tva_intracommunautaire": "TVA",
        "tva-intracommunautaire": "TVA",
        "hors_ue": "HORS-UE",
        "hors ue": "HORS-UE",
        "frw": "FRWF",
    },
}


@lru_cache(maxsize=4096)
def fold(text: str) -> str:
    """Lower case, without accents, spaces collapsed: the form enum labels are compared in (cached: the same
    few labels come back in every record)."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.lower().replace("’", "'").split())


PROCEDURES_14_FOLDED = {fold(label): new for label, new in PROCEDURES_14.items()}


@cache
def enums(version: str = "1.5") -> dict[tuple[str, str], dict[str, str]]:
    """For each (record kind, field name): folded label → official label, from the official schema itself."""
    definitions = load_json_schema(VERSIONS[version].json_schema)["definitions"]
    found: dict[tuple[str, str], dict[str, str]] = {}

    def walk(node: Any, kind: str, name: str) -> None:
        if isinstance(node, dict):
            if "enum" in node:
                found[(kind, name)] = {fold(v): v for v in node["enum"]}
            for key, value in node.items():
                walk(value, kind, name if key in ("properties", "items", "definitions") else key)
        elif isinstance(node, list):
            for value in node:
                walk(value, kind, name)

    for kind in ("marche", "contrat-concession"):
        walk(definitions[kind], kind, "")
    return found


# The divisions of the CPV nomenclature (Commission Regulation (EC) No 213/2008).
CPV_DIVISIONS = frozenset(
    [
        "03",
        "09",
        "14",
        "15",
        "16",
        "18",
        "19",
        "22",
        "24",
        "30",
        "31",
        "32",
        "33",
        "34",
        "35",
        "37",
        "38",
        "39",
        "41",
        "42",
        "43",
        "44",
        "45",
        "48",
        "50",
        "51",
        "55",
        "60",
        "63",
        "64",
        "65",
        "66",
        "70",
        "71",
        "72",
        "73",
        "75",
        "76",
        "77",
        "79",
        "80",
        "85",
        "90",
        "92",
        "98",
    ]
)
