"""Rows of the DUME API (`recupererDEV2`) as format-2022 records.

A row holds the contract's common fields at its top level and the marché's own fields in `donneesMP`. Every
field the API sends is mapped, including the ones a peer loses: `technique` and `modaliteExecution` become
the 2022 `techniques` / `modalitesExecution` objects, and the API's `marchesInnovant` (sic) is `marcheInnovant`.
Values are mapped as they are; the 2022 normalizer then types and checks them like any other 2022 record.
A row without `donneesMP` (a concession) is passed on as it is, and the schema says what it lacks.
"""

from __future__ import annotations

from typing import Any

TOP_LEVEL = ("id", "objet", "nature", "procedure", "dureeMois", "datePublicationDonnees", "modifications")
SAME_NAME = (
    "idAccordCadre", "codeCPV", "dateNotification", "attributionAvance", "tauxAvance", "origineUE",
    "origineFrance", "ccag", "offresRecues", "montant", "formePrix", "typeGroupementOperateurs",
    "sousTraitanceDeclaree", "considerationsSociales", "considerationsEnvironnementales", "actesSousTraitance",
    "modificationsActesSousTraitance",
)  # fmt: skip
VALUE_LISTS = {
    "technique": ("techniques", "technique"),
    "modaliteExecution": ("modalitesExecution", "modaliteExecution"),
    "typePrix": ("typesPrix", "typePrix"),
    "considerationSociale": ("considerationsSociales", "considerationSociale"),
    "considerationEnvironnementale": ("considerationsEnvironnementales", "considerationEnvironnementale"),
}


def row_to_2022(row: dict[str, Any]) -> dict[str, Any]:
    details = row.get("donneesMP")
    if not isinstance(details, dict):
        return row
    record: dict[str, Any] = {key: row[key] for key in TOP_LEVEL if key in row}
    if "idAcheteur" in details:
        record["acheteur"] = {"id": details["idAcheteur"]}
    for key in SAME_NAME:
        if key in details:
            record[key] = details[key]
    for source_key, (field, item) in VALUE_LISTS.items():
        if source_key in details and field not in record:
            value = details[source_key]
            record[field] = {item: value if isinstance(value, list) else [value]}
    innovant = details.get("marcheInnovant", details.get("marchesInnovant"))
    if innovant is not None:
        record["marcheInnovant"] = innovant
    place = {k: details[f"lieuExecution{k[0].upper()}{k[1:]}"] for k in ("code", "typeCode")
             if f"lieuExecution{k[0].upper()}{k[1:]}" in details}  # fmt: skip
    if place:
        record["lieuExecution"] = place
    if isinstance(details.get("titulaires"), list):
        record["titulaires"] = details["titulaires"]  # bare or wrapped: the 2022 normalizer makes them wrapped
    return record
