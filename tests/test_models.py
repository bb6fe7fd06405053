"""The typed models match the official schemas field for field: no field of either version is lost, the
required ones are required, `uniqueItems` and `additionalProperties: false` are where the schemas put them."""

from __future__ import annotations

import inspect
from typing import Any

import msgspec
import msgspec.inspect as mi
import pytest

from decp_pipeline.models import decp15, decp2022
from decp_pipeline.models.contract import Contract
from decp_pipeline.models.typed import _describe
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


M, C = ("marche",), ("contrat-concession",)
ACTE = (*M, "actesSousTraitance", "acteSousTraitance")
MODIF_ACTE = (*M, "modificationsActesSousTraitance", "modificationActeSousTraitance")
DONNEES = (*C, "donneesExecution", "donneesAnnuelles")
CASES = [
    (decp15.Marche, V15, M),
    (decp15.Acheteur, V15, (*M, "acheteur")),
    (decp15.LieuExecution, V15, (*M, "lieuExecution")),
    (decp15.Titulaire, V15, (*M, "titulaires")),
    (decp15.ModificationMarche, V15, (*M, "modifications")),
    (decp15.ContratConcession, V15, C),
    (decp15.AutoriteConcedante, V15, (*C, "autoriteConcedante")),
    (decp15.LieuExecutionConcession, V15, (*C, "lieuExecution")),
    (decp15.Concessionnaire, V15, (*C, "concessionnaires")),
    (decp15.DonneesExecution, V15, (*C, "donneesExecution")),
    (decp15.Tarif, V15, (*C, "donneesExecution", "tarifs")),
    (decp15.ModificationConcession, V15, (*C, "modifications")),
    (decp2022.Marche, V2022, M),
    (decp2022.Acheteur, V2022, (*M, "acheteur")),
    (decp2022.Techniques, V2022, (*M, "techniques")),
    (decp2022.ModalitesExecution, V2022, (*M, "modalitesExecution")),
    (decp2022.TypesPrix, V2022, (*M, "typesPrix")),
    (decp2022.ConsiderationsSociales, V2022, (*M, "considerationsSociales")),
    (decp2022.ConsiderationsEnvironnementales, V2022, (*M, "considerationsEnvironnementales")),
    (decp2022.LieuExecution, V2022, (*M, "lieuExecution")),
    (decp2022.TitulaireItem, V2022, (*M, "titulaires")),
    (decp2022.Titulaire, V2022, (*M, "titulaires", "titulaire")),
    (decp2022.ActeSousTraitanceItem, V2022, (*M, "actesSousTraitance")),
    (decp2022.ActeSousTraitance, V2022, ACTE),
    (decp2022.Titulaire, V2022, (*ACTE, "sousTraitant")),
    (decp2022.ModificationActeSousTraitanceItem, V2022, (*M, "modificationsActesSousTraitance")),
    (decp2022.ModificationActeSousTraitance, V2022, MODIF_ACTE),
    (decp2022.ModificationMarcheItem, V2022, (*M, "modifications")),
    (decp2022.ModificationMarche, V2022, (*M, "modifications", "modification")),
    (decp2022.TitulaireItem, V2022, (*M, "modifications", "modification", "titulaires")),
    (decp2022.ContratConcession, V2022, C),
    (decp2022.AutoriteConcedante, V2022, (*C, "autoriteConcedante")),
    (decp2022.ConcessionnaireItem, V2022, (*C, "concessionnaires")),
    (decp2022.Titulaire, V2022, (*C, "concessionnaires", "concessionnaire")),
    (decp2022.ConsiderationsSocialesConcession, V2022, (*C, "considerationsSociales")),
    (decp2022.ConsiderationsEnvironnementales, V2022, (*C, "considerationsEnvironnementales")),
    (decp2022.DonneesExecutionItem, V2022, (*C, "donneesExecution")),
    (decp2022.DonneesExecution, V2022, DONNEES),
    (decp2022.TarifItem, V2022, (*DONNEES, "tarifs")),
    (decp2022.Tarif, V2022, (*DONNEES, "tarifs", "tarif")),
    (decp2022.ModificationConcessionItem, V2022, (*C, "modifications")),
    (decp2022.ModificationConcession, V2022, (*C, "modifications", "modification")),
]


def case_id(case: Any) -> str:
    return f"{case.__module__.rsplit('.', 1)[-1]}.{case.__name__}" if isinstance(case, type) else ""


@pytest.mark.parametrize(("typed", "schema", "path"), CASES, ids=case_id)
def test_fields_and_rules_match_the_schema(typed: Any, schema: dict, path: tuple[str, ...]) -> None:
    node = at(schema, *path)
    fields = msgspec.structs.fields(typed)
    assert {f.encode_name for f in fields} == set(node["properties"])
    assert {f.encode_name for f in fields if f.required} == set(node.get("required", []))
    info = mi.type_info(typed)
    assert isinstance(info, mi.StructType)
    assert info.forbid_unknown_fields == (node.get("additionalProperties") is False)
    for field in info.fields:
        prop = resolve(schema, node["properties"][field.encode_name])
        assert _describe(field.type)[0] == bool(prop.get("uniqueItems")), field.name


def test_every_struct_is_checked() -> None:
    checked = {typed for typed, _, _ in CASES}
    for module in (decp15, decp2022):
        classes = inspect.getmembers(module, inspect.isclass)
        structs = {c for _, c in classes if issubclass(c, msgspec.Struct) and c.__module__ == module.__name__}
        assert structs - {module.Model} == {c for c in checked if c.__module__ == module.__name__}


def test_contract_identity_for_both_kinds() -> None:
    marche = Contract({"id": "2019A0100", "acheteur": {"id": "21350238800019", "nom": "Rennes"}}, "1.5", "marche")
    assert (marche.id, marche.buyer["id"], marche.uid) == ("2019A0100", "21350238800019", "213502388000192019A0100")
    concession = Contract({"id": "C1", "autoriteConcedante": {"id": "12345678901234"}}, "2.0", "contrat-concession")
    assert (concession.concession, concession.uid) == (True, "12345678901234C1")
    assert Contract({"id": "X"}, "2.0", "marche").uid is None
    # 2022 winners are wrapped: the contract reads them unwrapped, as every consumer needs them
    wrapped = {"id": "M1", "acheteur": {"id": "21350238800019"}, "montant": 12.5,
               "titulaires": [{"titulaire": {"typeIdentifiant": "SIRET", "id": "55210055400013"}}]}  # fmt: skip
    contract = Contract(wrapped, "2.0", "marche")
    assert (contract.holders, contract.numeric_amount) == ([{"typeIdentifiant": "SIRET", "id": "55210055400013"}], 12.5)
