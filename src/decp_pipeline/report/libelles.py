"""The French words of the report's pages, for the public (the CLI and docs stay English): what each fix, each
anomaly and each schema rule means, in plain words. Keyed by the codes of the catalogues (normalize/fixes.py,
pipeline/anomalies.py) and of jsonschema's rules: tests/test_report.py checks that every code has its words.
"""

from __future__ import annotations

import csv
from functools import cache
from importlib.resources import files

FIXES = {
    "key-trimmed": "nom de champ entouré d'espaces corrigé",
    "absent-value": "valeur vide ou « NC » traitée comme absente",
    "value-trimmed": "espaces autour d'une valeur retirés",
    "number-from-text": "nombre écrit comme un texte lu comme un nombre",
    "text-from-number": "identifiant ou code écrit comme un nombre réécrit en texte",
    "duration-rounded-up": "durée fractionnaire arrondie au mois supérieur",
    "siret-spaces": "espaces retirés d'un SIRET ou d'un identifiant",
    "cpv-spaces": "espaces retirés d'un code CPV",
    "cpv-leading-zero": "zéro initial du code CPV rétabli",
    "date-padded": "date complétée de ses zéros (2019-1-5 → 2019-01-05)",
    "date-dmy": "date JJ/MM/AAAA réécrite AAAA-MM-JJ",
    "date-time-dropped": "heure retirée d'une date",
    "enum-case": "valeur d'une liste fermée corrigée (casse, accents)",
    "enum-label": "valeur d'une liste fermée écrite autrement ramenée au libellé officiel",
    "procedure-1.4": "libellé de procédure du format 1.4 ramené à celui du format 1.5",
    "list-unwrapped": "liste donnée à la manière XML remise à plat",
    "empty-list": "texte vide à la place d'une liste lu comme une liste vide",
    "list-wrapped": "élément de liste remis dans l'enveloppe du format 2022",
    "boolean-from-text": "oui/non écrit comme un texte lu comme un booléen",
    "non-schema-field-dropped": "champ inconnu du schéma 2022 retiré",
    "draft-2.0.0-name": "nom de champ du brouillon 2.0.0 ramené au nom officiel",
    "list-duplicate-item": "élément répété à l'identique dans une liste gardé une fois",
    "type-added": "_type ajouté d'après la liste d'origine",
    "type-corrected": "_type corrigé (casse)",
    "uid-set": "uid calculé (SIRET de l'acheteur suivi de l'id)",
    "source-set": "source renseignée",
    "date-publication-repeated": "plusieurs datePublicationDonnees : la première gardée",
    "date-publication-from-file-name": "datePublicationDonnees absente : reprise du nom du fichier (AIFE)",
    "date-publication-from-transmission": "datePublicationDonnees absente : reprise de la date de transmission (DGFiP)",
    "dgfip-field-dropped": "champ propre à la DGFiP retiré",
    "nan-as-absent": "NaN ou Infinity (hors JSON) lu comme une valeur absente",
    "dotted-key": "clé à points (« acheteur.id ») remise en objet",
    "xml-control-characters": "caractères interdits en XML retirés du fichier",
}
ANOMALIES = {
    "siret-checksum": "SIRET dont la clé de contrôle (Luhn) est fausse",
    "publication-before-notification": "données publiées avant la notification du contrat",
    "date-in-future": "date postérieure au jour de la construction",
    "date-before-2000": "date de notification ou de signature antérieure à 2000",
    "amount-too-low": "montant de 1 € ou moins",
    "amount-too-high": "montant au-dessus du plafond de vraisemblance",
    "duration-over-legal-maximum": "accord-cadre plus long que la durée légale maximale",
    "duration-aberrant": "durée de plus de 15 ans pour un marché",
    "test-record": "enregistrement de test",
    "damaged-encoding": "texte abîmé par un mauvais encodage (�)",
    "cpv-unknown-division": "code CPV d'une division inconnue de la nomenclature",
}
RULES = {  # jsonschema's rules (and ours: maxTextLength, depth, file-unreadable)
    "required": "champ obligatoire absent",
    "type": "valeur d'un type inattendu",
    "enum": "valeur hors de la liste autorisée",
    "const": "valeur différente de celle attendue",
    "pattern": "valeur au format invalide",
    "format": "valeur au format invalide",
    "minLength": "texte trop court",
    "maxLength": "texte trop long",
    "minimum": "nombre trop petit",
    "maximum": "nombre trop grand",
    "exclusiveMinimum": "nombre trop petit",
    "exclusiveMaximum": "nombre trop grand",
    "multipleOf": "nombre non multiple de la valeur attendue",
    "minItems": "liste trop courte",
    "maxItems": "liste trop longue",
    "uniqueItems": "liste avec des éléments répétés",
    "additionalProperties": "champ que le schéma ne prévoit pas",
    "anyOf": "enregistrement conforme à aucune des formes prévues",
    "oneOf": "enregistrement conforme à aucune des formes prévues",
    "maxTextLength": "texte démesuré (plus de 100 000 caractères)",
    "depth": "enregistrement imbriqué trop profondément",
    "file-unreadable": "fichier illisible",
    # decp validate's rules of a whole file, and those of XML Schema (validation/xml_records.py): the page of
    # decp serve (serve/page.py) says each problem with these words too.
    "syntax": "fichier mal formé : ni JSON ni XML lisible",
    "envelope": "enveloppe du fichier différente de celle du format",
    "enumeration": "valeur hors de la liste autorisée",
    "datatype": "valeur d'un type inattendu",
    "content": "élément absent, en trop ou mal placé",
    "minInclusive": "nombre trop petit",
    "maxInclusive": "nombre trop grand",
    "length": "texte d'une longueur inattendue",
    "totalDigits": "nombre de trop de chiffres",
    "attribute": "attribut non conforme",
    "element": "élément inattendu",
}


def rule_words(code: str) -> tuple[str, str]:
    """An error code (RULE:PATH) in plain words, and the field as the schema spells it."""
    rule, _, path = code.partition(":")
    return RULES.get(rule, f"non conforme au schéma (règle {rule})"), path


@cache
def cpv_divisions() -> dict[str, str]:
    """The 45 divisions of the CPV 2008 nomenclature (first two digits → French label), from its official
    list (samples/references/cpv.csv: the codes ending in 000000)."""
    with (files("decp_pipeline.report") / "cpv_divisions.csv").open(encoding="utf-8") as f:
        return {row["division"]: row["libelle"] for row in csv.DictReader(f)}


@cache
def legal_categories() -> dict[str, str]:
    """INSEE's catégories juridiques, level II (the first two digits of the SIRENE code → label)."""
    with (files("decp_pipeline.report") / "categories_juridiques.csv").open(encoding="utf-8") as f:
        return {row["code"]: row["libelle"] for row in csv.DictReader(f)}
