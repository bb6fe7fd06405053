"""What each published resource says of itself on data.gouv.fr (in French: the page is the public's).

A description names the content of the file, the release it comes from (its build id and date), the counts
of that release and its sources, and links to the documentation when `publish.documentation` is set. It is
made from the release's manifest and report only, so that publishing the same release twice sends the same
text (and no update).
"""

from __future__ import annotations

import datetime
import re
from pathlib import PurePath
from typing import Any

TABLE_NAMES = {
    "marches": "des marchés publics (une ligne par marché)",
    "concessions": "des contrats de concession (une ligne par contrat)",
    "titulaires": "des titulaires des marchés et concessionnaires (une ligne par titulaire et par contrat)",
    "actes_sous_traitance": "des actes de sous-traitance (format 2022)",
    "listes": "des valeurs multiples des contrats (techniques, modalités d'exécution, considérations…)",
    "modifications": "des modifications des contrats (une ligne par modification)",
}
FILES = {
    "decp.json": "Données essentielles de la commande publique consolidées, au format réglementaire 1.x "
    "(schéma 1.5.0, JSON) : marchés et contrats de concession valides, dédoublonnés.",
    "decp-2022.json": "Données essentielles de la commande publique consolidées, au format réglementaire 2022 "
    "(schéma 2.0, JSON) : marchés et contrats de concession valides, dédoublonnés.",
    "datapackage.json": "Description des tables (Frictionless Data Package) : colonnes, types et définitions.",
    "report.json": "Bilan de la consolidation : pour chaque source, les fichiers lus, les contrats publiés, "
    "écartés et dédoublonnés, les corrections appliquées et les erreurs rencontrées.",
    "delta.json": "Ce qui a changé depuis la version précédente : contrats ajoutés, retirés (et pourquoi) et "
    "modifiés (et quels champs), en JSON.",
    "delta.csv": "Ce qui a changé depuis la version précédente : contrats ajoutés, retirés (et pourquoi) et "
    "modifiés (et quels champs), en CSV.",
    "duplicates.csv": "Les doublons écartés : chaque copie retirée, sa source, son fichier et sa position, "
    "l'identifiant qu'elle a perdu contre et la règle appliquée.",
    "rejected.jsonl": "Les contrats écartés parce qu'invalides au regard du schéma réglementaire, "
    "chacun avec ses erreurs (JSON Lines).",
    "ocds.zip": "Les contrats publiés au format OCDS 1.1 (Open Contracting Data Standard), archive ZIP du dossier "
    "ocds/ : un paquet de publications (release package) par jour de publication, une publication à la "
    "notification et une par modification, et un paquet d'enregistrements (record package) de chaque contrat "
    "compilé avec son historique.",
}


def slug(name: str) -> str:
    """The title udata gives a resource made from an uploaded file: `actes_sous_traitance.csv` becomes
    `actes-sous-traitance.csv` (the name slugified, its extension kept in lower case)."""
    path = PurePath(name)
    stem = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")
    return stem + path.suffix.lower()


def describe(name: str, manifest: dict[str, Any], report: dict[str, Any], documentation: str | None) -> str:
    """The description of the resource `name` of the release `manifest` describes."""
    total = manifest["counts"]["total"]
    sources = ", ".join(manifest["counts"]["sources"])
    lines = [
        _what(name, report),
        f"Version {manifest['build_id']} du {_date(manifest.get('generated_at'))} : "
        f"{_n(total['exported'], 'contrat publié', 'contrats publiés')}, {_n(total['rejected'], 'écarté', 'écartés')}, "
        f"{_n(total['duplicates'], 'doublon', 'doublons')}, lus dans {_n(total['files'], 'fichier', 'fichiers')} de "
        f"{_n(len(manifest['counts']['sources']), 'source', 'sources')} ({sources}).",
    ]
    if documentation:
        lines.append(f"Documentation : {documentation}")
    return "\n\n".join(lines)


def _what(name: str, report: dict[str, Any]) -> str:
    if name in FILES:
        return FILES[name]
    path = PurePath(name)
    if path.stem in TABLE_NAMES and path.suffix in (".csv", ".parquet"):
        rows = (report.get("tables") or {}).get(path.stem)
        count = f" : {_n(rows, 'ligne', 'lignes')}" if isinstance(rows, int) else ""
        return f"Table {TABLE_NAMES[path.stem]}, en {path.suffix[1:].upper()}{count}."
    return f"Fichier {name} de la consolidation des données essentielles de la commande publique."


def _date(value: Any) -> str:
    try:
        when = datetime.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    return f"{when:%d/%m/%Y à %H:%M} UTC"


def _n(value: Any, one: str = "", many: str = "") -> str:
    """12345 → `12 345` (the French thousands separator, a narrow no-break space), then the noun: singular for
    0 and 1, as French has it."""
    number = f"{value:,}".replace(",", "\u202f") if isinstance(value, int) else str(value)
    noun = (one if isinstance(value, int) and value < 2 else many) if many else ""
    return f"{number} {noun}" if noun else number
