"""The record model matches the official schemas field for field, so no field of either version is lost."""

from __future__ import annotations

from typing import Any, get_type_hints

import pytest

from decp_pipeline.models import shapes as models
from decp_pipeline.models.shapes import Record, make_uid
from decp_pipeline.official_schemas import load_json_schema

V15 = load_json_schema("marches.json")
V2022 = load_json_schema("schema_decp_v2.0.3.json")


def resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = schema
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def at(schema: dict[str, Any], *path: str) -> dict[str, Any]:
    """The object schema reached by following properties (and `items` for lists)."""
    node = resolve(schema, schema["definitions"][path[0]])
    for step in path[1:]:
        node = resolve(schema, node["properties"][step])
        if node.get("type") == "array":
            node = resolve(schema, node["items"])
    return node


CASES = [
    (models.Marche15, V15, ("marche",)),
    (models.Acheteur15, V15, ("marche", "acheteur")),
    (models.LieuExecution15, V15, ("marche", "lieuExecution")),
    (models.Titulaire15, V15, ("marche", "titulaires")),
    (models.ModificationMarche15, V15, ("marche", "modifications")),
    (models.ContratConcession15, V15, ("contrat-concession",)),
    (models.DonneesExecution15, V15, ("contrat-concession", "donneesExecution")),
    (models.Tarif15, V15, ("contrat-concession", "donneesExecution", "tarifs")),
    (models.ModificationConcession15, V15, ("contrat-concession", "modifications")),
    (models.Marche2022, V2022, ("marche",)),
    (models.TitulaireItem2022, V2022, ("marche", "titulaires")),
    (models.Identifiant2022, V2022, ("marche", "titulaires", "titulaire")),
    (models.ActeSousTraitance2022, V2022, ("marche", "actesSousTraitance", "acteSousTraitance")),
    (
        models.ModificationActeSousTraitance2022,
        V2022,
        ("marche", "modificationsActesSousTraitance", "modificationActeSousTraitance"),
    ),
    (models.ModificationMarche2022, V2022, ("marche", "modifications", "modification")),
    (models.ContratConcession2022, V2022, ("contrat-concession",)),
    (models.DonneesAnnuelles2022, V2022, ("contrat-concession", "donneesExecution", "donneesAnnuelles")),
    (models.Tarif2022, V2022, ("contrat-concession", "donneesExecution", "donneesAnnuelles", "tarifs", "tarif")),
    (models.ModificationConcession2022, V2022, ("contrat-concession", "modifications", "modification")),
]


@pytest.mark.parametrize(("typed", "schema", "path"), CASES, ids=lambda c: getattr(c, "__name__", ""))
def test_fields_and_required_fields_match_the_schema(typed: Any, schema: dict, path: tuple[str, ...]) -> None:
    node = at(schema, *path)
    assert set(get_type_hints(typed)) == set(node["properties"])
    assert typed.__required_keys__ == set(node.get("required", []))


def test_record_identity_for_both_kinds() -> None:
    marche = Record("marche", "1.5", {"id": "2019A0100", "acheteur": {"id": "21350238800019", "nom": "Rennes"}})
    assert (marche.id, marche.buyer_id, marche.uid) == ("2019A0100", "21350238800019", "213502388000192019A0100")
    concession = Record("contrat-concession", "2.0", {"id": "C1", "autoriteConcedante": {"id": "12345678901234"}})
    assert concession.uid == make_uid("12345678901234", "C1") == "12345678901234C1"
    assert Record("marche", "2.0", {"id": "X"}).uid is None
