"""Format 1.5 (`schemas/marches.json`, JSON Schema draft 4): marchés and contrats de concession.

One Struct per object of the schema, with its field names and constraints; `typed.typed_verdict` decodes a
record into `Marche` or `ContratConcession` and gives the schema's verdict. Notes on the schema, kept as is:

- no object forbids additional properties: unknown fields are ignored, as the schema allows;
- `Acheteur` has no `"type": "object"`, so an `acheteur` that is not an object is valid (`| NotObject`);
- "integer" is draft 4's: a JSON number with a fraction part or an exponent (`1.0`) is not an integer;
- `uniqueItems` is checked after decoding (`UNIQUE`, see `json_types`); the dates are patterns, not formats;
- a record of the `marches` list is valid when it is a valid `Marche` or a valid `ContratConcession`
  (`anyOf`): `typed.typed_verdict_15`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

from decp_pipeline.models.json_types import UNIQUE, NotObject

Date = Annotated[str, Meta(pattern=r"^\d{4}-[01]\d-[0-3]\d([+-][0-2]\d:[0-5]\dZ?)?$")]
Siret = Annotated[str, Meta(pattern=r"^[0-9]{14}$")]
IdentifiantMarche = Annotated[str, Meta(min_length=7, max_length=16)]
IdentifiantUniqueMarche = Annotated[str, Meta(pattern=r"^[0-9]{14}.{7,16}$")]
Texte256 = Annotated[str, Meta(max_length=256)]
NonNegative = Annotated[float, Meta(ge=0)]
Mois = Annotated[int, Meta(ge=1)]

TypeCode = Literal[
    "Code postal",
    "Code commune",
    "Code arrondissement",
    "Code canton",
    "Code département",
    "Code région",
    "Code pays",
]
TypeIdentifiant = Literal["SIRET", "TVA", "TAHITI", "RIDET", "FRWF", "IREP", "UE", "HORS-UE"]


class Model(Struct):
    """Base of the 1.5 objects. A record's fields are keyword-only (`kw_only`: msgspec's option is per class), so
    they can be listed in the schema's order, optional ones among the required."""


class Titulaire(Model):
    typeIdentifiant: TypeIdentifiant
    id: str
    denominationSociale: str


class Concessionnaire(Titulaire):
    """Same fields and rules as a titulaire, under its own name in the schema."""


# ---------------------------------------------------------------------------------------------------------
# Marché


class Acheteur(Model):
    id: Siret
    nom: str


class LieuExecution(Model):
    code: str
    typeCode: TypeCode
    nom: str


class ModificationMarche(Model):
    objetModification: Texte256
    dateNotificationModification: Date
    datePublicationDonneesModification: Date
    dureeMois: int | UnsetType = UNSET
    montant: float | UnsetType = UNSET
    titulaires: Annotated[list[Titulaire], Meta(min_length=1, extra_json_schema=UNIQUE)] | UnsetType = UNSET


class Marche(Model, kw_only=True):
    id: IdentifiantMarche
    uid: IdentifiantUniqueMarche | UnsetType = UNSET
    _type: Annotated[str, Meta(pattern="^Marché$")] | UnsetType = UNSET
    acheteur: Acheteur | NotObject
    nature: Literal["Marché", "Marché de partenariat", "Accord-cadre", "Marché subséquent"]
    objet: Texte256
    codeCPV: Annotated[str, Meta(pattern=r"^[0-9]{8}(\-[0-9])?$")]
    procedure: Literal[
        "Procédure adaptée",
        "Appel d'offres ouvert",
        "Appel d'offres restreint",
        "Marché passé sans publicité ni mise en concurrence préalable",
        "Dialogue compétitif",
        "Procédure avec négociation",
    ]
    lieuExecution: LieuExecution
    dureeMois: Mois
    dateNotification: Date
    datePublicationDonnees: Date
    montant: NonNegative
    formePrix: Literal["Ferme", "Ferme et actualisable", "Révisable"]
    titulaires: Annotated[list[Titulaire], Meta(min_length=1, extra_json_schema=UNIQUE)]
    modifications: Annotated[list[ModificationMarche], Meta(extra_json_schema=UNIQUE)]


# ---------------------------------------------------------------------------------------------------------
# Contrat de concession


class AutoriteConcedante(Model):
    id: Siret
    nom: str


class LieuExecutionConcession(Model):
    """The concession's lieu d'exécution: its code is at most 6 characters (the marché's is not bounded)."""

    code: Annotated[str, Meta(max_length=6)]
    typeCode: TypeCode
    nom: str


class Tarif(Model):
    intituleTarif: Texte256
    tarif: NonNegative


class DonneesExecution(Model):
    datePublicationDonneesExecution: Date
    depensesInvestissement: NonNegative
    tarifs: Annotated[list[Tarif], Meta(min_length=1)]


class ModificationConcession(Model):
    objetModification: Texte256
    dateSignatureModification: Date
    datePublicationDonneesModification: Date
    dureeMois: Mois | UnsetType = UNSET
    valeurGlobale: NonNegative | UnsetType = UNSET


class ContratConcession(Model, kw_only=True):
    id: IdentifiantMarche
    uid: IdentifiantUniqueMarche | UnsetType = UNSET
    _type: Annotated[str, Meta(pattern="^Contrat de concession$")] | UnsetType = UNSET
    autoriteConcedante: AutoriteConcedante
    nature: Literal[
        "Concession de travaux",
        "Concession de service",
        "Concession de service public",
        "Délégation de service public",
    ]
    objet: Texte256
    procedure: Literal[
        "Procédure négociée ouverte",
        "Procédure non négociée ouverte",
        "Procédure négociée restreinte",
        "Procédure non négociée restreinte",
    ]
    lieuExecution: LieuExecutionConcession
    dureeMois: Mois
    dateSignature: Date
    datePublicationDonnees: Date
    dateDebutExecution: Date
    valeurGlobale: float
    montantSubventionPublique: NonNegative
    donneesExecution: Annotated[list[DonneesExecution], Meta(extra_json_schema=UNIQUE)]
    concessionnaires: Annotated[list[Concessionnaire], Meta(min_length=1, extra_json_schema=UNIQUE)]
    modifications: Annotated[list[ModificationConcession], Meta(extra_json_schema=UNIQUE)]
