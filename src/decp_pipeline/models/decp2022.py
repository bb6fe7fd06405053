"""Format 2022 (`schemas/schema_decp_v2.0.3.json`, JSON Schema draft 7): marchés and contrats de concession.

One Struct per object of the schema, with its field names and constraints; `typed.typed_verdict` decodes a
record into `Marche` or `ContratConcession` and gives the schema's verdict. Notes on the schema, kept as is:

- only the two records forbid additional properties (`forbid_unknown_fields`); their parts do not;
- lists wrap each item in an object (`{"titulaire": {...}}`): the `...Item` Structs. `TitulaireArray` and
  `ConcessionnaireArray` have no `"type": "object"`, so a titulaire that is not an object is valid
  (`| NotObject`);
- "integer" is draft 7's: `1.0` is one (`Integer7`);
- the date patterns are not anchored (`\\d{4}-\\d{2}-\\d{2}` anywhere in the string), as in the schema;
- `uniqueItems` is checked after decoding (`UNIQUE`, see `json_types`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from msgspec import UNSET, Meta, Struct, UnsetType

from decp_pipeline.models.json_types import UNIQUE, Integer7, NotObject

Date = Annotated[str, Meta(pattern=r"\d{4}-\d{2}-\d{2}")]
Siret = Annotated[str, Meta(pattern=r"^[0-9]{14}$")]
Identifiant = Annotated[str, Meta(min_length=1, max_length=16)]
Texte1000 = Annotated[str, Meta(max_length=1000)]
Montant = Annotated[float, Meta(ge=1)]
NonNegative = Annotated[float, Meta(ge=0)]
Part = Annotated[float, Meta(ge=0, le=1)]

TypeIdentifiant = Literal["SIRET", "TVA", "TAHITI", "RIDET", "FRWF", "IREP", "HORS-UE"]
ConsiderationEnvironnementale = Literal[
    "Clause environnementale", "Critère environnemental", "Pas de considération environnementale"
]


class Model(Struct):
    """Base of the 2022 objects (fields are keyword-only where optional ones come before required ones)."""


class Titulaire(Model):
    """A titulaire, sous-traitant or concessionnaire: 2022 keeps only the identifier."""

    typeIdentifiant: TypeIdentifiant
    id: str


class TitulaireItem(Model):
    titulaire: Titulaire


class ConsiderationsEnvironnementales(Model):
    considerationEnvironnementale: Annotated[
        list[ConsiderationEnvironnementale], Meta(min_length=1, extra_json_schema=UNIQUE)
    ]


# ---------------------------------------------------------------------------------------------------------
# Marché


class Acheteur(Model):
    id: Siret


class Techniques(Model):
    technique: Annotated[
        list[
            Literal[
                "Accord-cadre",
                "Concours",
                "Système de qualification",
                "Système d'acquisition dynamique",
                "Catalogue électronique",
                "Enchère électronique",
                "Sans objet",
            ]
        ],
        Meta(min_length=1, extra_json_schema=UNIQUE),
    ]


class ModalitesExecution(Model):
    modaliteExecution: Annotated[
        list[Literal["Tranches", "Bons de commande", "Marchés subséquents", "Sans objet"]],
        Meta(min_length=1, extra_json_schema=UNIQUE),
    ]


class TypesPrix(Model):
    typePrix: Annotated[
        list[Literal["Définitif ferme", "Définitif actualisable", "Définitif révisable", "Provisoire"]],
        Meta(min_length=1, extra_json_schema=UNIQUE),
    ]


class ConsiderationsSociales(Model):
    considerationSociale: Annotated[
        list[Literal["Clause sociale", "Critère social", "Marché réservé", "Pas de considération sociale"]],
        Meta(min_length=1, extra_json_schema=UNIQUE),
    ]


class LieuExecution(Model):
    code: str
    typeCode: Literal[
        "Code postal",
        "Code commune",
        "Code arrondissement",
        "Code canton",
        "Code département",
        "Code région",
        "Code pays",
    ]


class ActeSousTraitance(Model):
    id: Integer7
    sousTraitant: Titulaire
    dureeMois: Integer7
    dateNotification: Date
    datePublicationDonnees: Date
    montant: Montant
    variationPrix: Literal["Ferme", "Actualisable", "Révisable"]


class ActeSousTraitanceItem(Model):
    acteSousTraitance: ActeSousTraitance


class ModificationActeSousTraitance(Model, kw_only=True):
    id: Integer7
    dureeMois: Integer7 | UnsetType = UNSET
    dateNotificationModificationSousTraitance: Date
    montant: Montant | UnsetType = UNSET
    datePublicationDonnees: Date


class ModificationActeSousTraitanceItem(Model):
    modificationActeSousTraitance: ModificationActeSousTraitance


class ModificationMarche(Model, kw_only=True):
    id: Integer7
    dateNotificationModification: Date
    datePublicationDonneesModification: Date
    dureeMois: Integer7 | UnsetType = UNSET
    montant: Montant | UnsetType = UNSET
    titulaires: Annotated[list[TitulaireItem | NotObject], Meta(min_length=1, extra_json_schema=UNIQUE)] | UnsetType = (
        UNSET
    )


class ModificationMarcheItem(Model):
    modification: ModificationMarche


class Marche(Model, kw_only=True, forbid_unknown_fields=True):
    id: Identifiant
    acheteur: Acheteur
    nature: Literal["Marché", "Marché de partenariat", "Marché de défense ou de sécurité"]
    objet: Texte1000
    codeCPV: Annotated[str, Meta(pattern=r"^[0-9]{8}(-[0-9])?$")]
    techniques: Techniques
    modalitesExecution: ModalitesExecution
    idAccordCadre: Identifiant | UnsetType = UNSET
    marcheInnovant: bool
    ccag: Literal[
        "Travaux",
        "Maitrise d'œuvre",
        "Fournitures courantes et services",
        "Marchés industriels",
        "Prestations intellectuelles",
        "Techniques de l'information et de la communication",
        "Pas de CCAG",
    ]
    offresRecues: Integer7
    attributionAvance: bool
    tauxAvance: Part | UnsetType = UNSET
    typeGroupementOperateurs: Literal["Conjoint", "Solidaire", "Pas de groupement"]
    sousTraitanceDeclaree: bool
    actesSousTraitance: (
        Annotated[list[ActeSousTraitanceItem], Meta(min_length=1, extra_json_schema=UNIQUE)] | UnsetType
    ) = UNSET
    procedure: Literal[
        "Procédure adaptée",
        "Appel d'offres ouvert",
        "Appel d'offres restreint",
        "Procédure avec négociation",
        "Marché passé sans publicité ni mise en concurrence préalable",
        "Dialogue compétitif",
    ]
    lieuExecution: LieuExecution
    dureeMois: Integer7
    dateNotification: Date
    datePublicationDonnees: Date
    montant: Montant
    typesPrix: TypesPrix
    formePrix: Literal["Unitaire", "Forfaitaire", "Mixte"]
    origineUE: Part | UnsetType = UNSET
    origineFrance: Part | UnsetType = UNSET
    titulaires: Annotated[list[TitulaireItem | NotObject], Meta(min_length=1, extra_json_schema=UNIQUE)]
    considerationsSociales: ConsiderationsSociales
    considerationsEnvironnementales: ConsiderationsEnvironnementales
    modificationsActesSousTraitance: (
        Annotated[list[ModificationActeSousTraitanceItem], Meta(min_length=1, extra_json_schema=UNIQUE)] | UnsetType
    ) = UNSET
    modifications: Annotated[list[ModificationMarcheItem], Meta(min_length=1, extra_json_schema=UNIQUE)] | UnsetType = (
        UNSET
    )


# ---------------------------------------------------------------------------------------------------------
# Contrat de concession


class AutoriteConcedante(Model):
    id: Siret


class ConcessionnaireItem(Model):
    concessionnaire: Titulaire


class ConsiderationsSocialesConcession(Model):
    """A concession's considérations sociales: "Concession réservée" where a marché has "Marché réservé"."""

    considerationSociale: Annotated[
        list[Literal["Clause sociale", "Critère social", "Concession réservée", "Pas de considération sociale"]],
        Meta(min_length=1, extra_json_schema=UNIQUE),
    ]


class Tarif(Model):
    intituleTarif: Annotated[str, Meta(max_length=256)]
    tarif: NonNegative


class TarifItem(Model):
    tarif: Tarif


class DonneesExecution(Model):
    datePublicationDonneesExecution: Date
    depensesInvestissement: NonNegative
    tarifs: Annotated[list[TarifItem], Meta(min_length=1)]


class DonneesExecutionItem(Model):
    donneesAnnuelles: DonneesExecution


class ModificationConcession(Model, kw_only=True):
    id: Integer7
    dateSignatureModification: Date
    datePublicationDonneesModification: Date
    dureeMois: Integer7 | UnsetType = UNSET
    valeurGlobale: Montant | UnsetType = UNSET


class ModificationConcessionItem(Model):
    modification: ModificationConcession


class ContratConcession(Model, kw_only=True, forbid_unknown_fields=True):
    id: Identifiant
    autoriteConcedante: AutoriteConcedante
    nature: Literal[
        "Concession de travaux",
        "Concession de service",
        "Concession de service public",
        "Délégation de service public",
    ]
    objet: Texte1000
    procedure: Literal[
        "Procédure négociée ouverte",
        "Procédure non négociée ouverte",
        "Procédure négociée restreinte",
        "Procédure non négociée restreinte",
    ]
    dureeMois: Integer7
    dateSignature: Date
    datePublicationDonnees: Date
    dateDebutExecution: Date
    valeurGlobale: Montant
    montantSubventionPublique: NonNegative
    donneesExecution: Annotated[list[DonneesExecutionItem], Meta(extra_json_schema=UNIQUE)] | UnsetType = UNSET
    concessionnaires: Annotated[list[ConcessionnaireItem | NotObject], Meta(min_length=1, extra_json_schema=UNIQUE)]
    considerationsSociales: ConsiderationsSocialesConcession
    considerationsEnvironnementales: ConsiderationsEnvironnementales
    modifications: (
        Annotated[list[ModificationConcessionItem], Meta(min_length=1, extra_json_schema=UNIQUE)] | UnsetType
    ) = UNSET
