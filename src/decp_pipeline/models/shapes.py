"""The record model: what the normalizers produce, the validator checks and the exporters read.

A record is kept in the regulatory JSON shape of its own format version, with the regulation's field names,
because that shape is what the official schemas validate and what `decp.json` / `decp-2022.json` publish:
converting to an intermediate object model and back would cost time on 1.5 million records and could only
lose fields. The two versions differ in shape (1.5 lists are plain arrays, 2022 lists wrap each item as
`{"titulaire": {...}}`) and in fields (2022 drops names and `objetModification`, adds `techniques`,
`ccag`, ...), so each has its own TypedDicts below, checked against the vendored schemas by
`tests/test_models.py`. `Record` carries one of them with its provenance.

Fields that are optional in the schema are optional here (`total=False` plus `Required`).
"""

from dataclasses import dataclass
from typing import Any, Literal, Required, TypedDict

Kind = Literal["marche", "contrat-concession"]
FormatVersion = Literal["1.5", "2.0"]

# ---------------------------------------------------------------------------------------------------------
# Format 1.5 (marches.json, tag 1.5.0)


class Acheteur15(TypedDict):
    id: str  # SIRET, 14 digits
    nom: str


class LieuExecution15(TypedDict):
    code: str
    typeCode: str
    nom: str


class Titulaire15(TypedDict):
    typeIdentifiant: str
    id: str
    denominationSociale: str


class ModificationMarche15(TypedDict, total=False):
    objetModification: Required[str]
    dateNotificationModification: Required[str]
    datePublicationDonneesModification: Required[str]
    dureeMois: int
    montant: float
    titulaires: list[Titulaire15]


class Marche15(TypedDict, total=False):
    id: Required[str]
    uid: str
    _type: str  # "Marché"
    acheteur: Required[Acheteur15]
    nature: Required[str]
    objet: Required[str]
    codeCPV: Required[str]
    procedure: Required[str]
    lieuExecution: Required[LieuExecution15]
    dureeMois: Required[int]
    dateNotification: Required[str]
    datePublicationDonnees: Required[str]
    montant: Required[float]
    formePrix: Required[str]
    titulaires: Required[list[Titulaire15]]
    modifications: Required[list[ModificationMarche15]]


class AutoriteConcedante15(TypedDict):
    id: str
    nom: str


class Tarif15(TypedDict):
    intituleTarif: str
    tarif: float


class DonneesExecution15(TypedDict):
    datePublicationDonneesExecution: str
    depensesInvestissement: float
    tarifs: list[Tarif15]


class ModificationConcession15(TypedDict, total=False):
    objetModification: Required[str]
    dateSignatureModification: Required[str]
    datePublicationDonneesModification: Required[str]
    dureeMois: int
    valeurGlobale: float


class ContratConcession15(TypedDict, total=False):
    id: Required[str]
    uid: str
    _type: str  # "Contrat de concession"
    autoriteConcedante: Required[AutoriteConcedante15]
    nature: Required[str]
    objet: Required[str]
    procedure: Required[str]
    lieuExecution: Required[LieuExecution15]
    dureeMois: Required[int]
    dateSignature: Required[str]
    datePublicationDonnees: Required[str]
    dateDebutExecution: Required[str]
    valeurGlobale: Required[float]
    montantSubventionPublique: Required[float]
    donneesExecution: Required[list[DonneesExecution15]]
    concessionnaires: Required[list[Titulaire15]]
    modifications: Required[list[ModificationConcession15]]


# ---------------------------------------------------------------------------------------------------------
# Format 2022 (schema_decp_v2.0.3.json)


class Identifiant2022(TypedDict):
    """A titulaire, concessionnaire or sous-traitant: 2022 keeps only the identifier."""

    typeIdentifiant: str
    id: str


class TitulaireItem2022(TypedDict):
    titulaire: Identifiant2022


class Acheteur2022(TypedDict):
    id: str


class LieuExecution2022(TypedDict):
    code: str
    typeCode: str


class Techniques2022(TypedDict):
    technique: list[str]


class ModalitesExecution2022(TypedDict):
    modaliteExecution: list[str]


class TypesPrix2022(TypedDict):
    typePrix: list[str]


class ConsiderationsSociales2022(TypedDict):
    considerationSociale: list[str]


class ConsiderationsEnvironnementales2022(TypedDict):
    considerationEnvironnementale: list[str]


class ActeSousTraitance2022(TypedDict):
    id: int
    sousTraitant: Identifiant2022
    dureeMois: int
    dateNotification: str
    datePublicationDonnees: str
    montant: float
    variationPrix: str


class ActeSousTraitanceItem2022(TypedDict):
    acteSousTraitance: ActeSousTraitance2022


class ModificationActeSousTraitance2022(TypedDict, total=False):
    id: Required[int]
    dureeMois: int
    dateNotificationModificationSousTraitance: Required[str]
    montant: float
    datePublicationDonnees: Required[str]


class ModificationActeSousTraitanceItem2022(TypedDict):
    modificationActeSousTraitance: ModificationActeSousTraitance2022


class ModificationMarche2022(TypedDict, total=False):
    id: Required[int]
    dateNotificationModification: Required[str]
    datePublicationDonneesModification: Required[str]
    dureeMois: int
    montant: float
    titulaires: list[TitulaireItem2022]


class ModificationMarcheItem2022(TypedDict):
    modification: ModificationMarche2022


class Marche2022(TypedDict, total=False):
    id: Required[str]
    acheteur: Required[Acheteur2022]
    nature: Required[str]
    objet: Required[str]
    codeCPV: Required[str]
    techniques: Required[Techniques2022]
    modalitesExecution: Required[ModalitesExecution2022]
    idAccordCadre: str
    marcheInnovant: Required[bool]
    ccag: Required[str]
    offresRecues: Required[int]
    attributionAvance: Required[bool]
    tauxAvance: float
    typeGroupementOperateurs: Required[str]
    sousTraitanceDeclaree: Required[bool]
    actesSousTraitance: list[ActeSousTraitanceItem2022]
    procedure: Required[str]
    lieuExecution: Required[LieuExecution2022]
    dureeMois: Required[int]
    dateNotification: Required[str]
    datePublicationDonnees: Required[str]
    montant: Required[float]
    typesPrix: Required[TypesPrix2022]
    formePrix: Required[str]
    origineUE: float
    origineFrance: float
    titulaires: Required[list[TitulaireItem2022]]
    considerationsSociales: Required[ConsiderationsSociales2022]
    considerationsEnvironnementales: Required[ConsiderationsEnvironnementales2022]
    modificationsActesSousTraitance: list[ModificationActeSousTraitanceItem2022]
    modifications: list[ModificationMarcheItem2022]


class ConcessionnaireItem2022(TypedDict):
    concessionnaire: Identifiant2022


class Tarif2022(TypedDict):
    intituleTarif: str
    tarif: float


class TarifItem2022(TypedDict):
    tarif: Tarif2022


class DonneesAnnuelles2022(TypedDict):
    datePublicationDonneesExecution: str
    depensesInvestissement: float
    tarifs: list[TarifItem2022]


class DonneesAnnuellesItem2022(TypedDict):
    donneesAnnuelles: DonneesAnnuelles2022


class ModificationConcession2022(TypedDict, total=False):
    id: Required[int]
    dateSignatureModification: Required[str]
    datePublicationDonneesModification: Required[str]
    dureeMois: int
    valeurGlobale: float


class ModificationConcessionItem2022(TypedDict):
    modification: ModificationConcession2022


class ContratConcession2022(TypedDict, total=False):
    id: Required[str]
    autoriteConcedante: Required[Acheteur2022]
    nature: Required[str]
    objet: Required[str]
    procedure: Required[str]
    dureeMois: Required[int]
    dateSignature: Required[str]
    datePublicationDonnees: Required[str]
    dateDebutExecution: Required[str]
    valeurGlobale: Required[float]
    montantSubventionPublique: Required[float]
    donneesExecution: list[DonneesAnnuellesItem2022]
    concessionnaires: Required[list[ConcessionnaireItem2022]]
    considerationsSociales: Required[ConsiderationsSociales2022]
    considerationsEnvironnementales: Required[ConsiderationsEnvironnementales2022]
    modifications: list[ModificationConcessionItem2022]


RecordData = Marche15 | ContratConcession15 | Marche2022 | ContratConcession2022

# The key holding the buyer of each kind of contract, in both versions.
BUYER_KEY: dict[str, str] = {"marche": "acheteur", "contrat-concession": "autoriteConcedante"}


def make_uid(buyer_siret: str, contract_id: str) -> str:
    """The national key of a contract: the buyer's SIRET followed by the buyer's own `id`.

    Format 1.5 defines it as `uid` (pattern `^[0-9]{14}.{7,16}$`); for a concession the buyer is the
    `autoriteConcedante`. In format 1.5 the `id` ends with a two-digit modification counter, so a uid names
    a version of a contract; in format 2022 the `id` is stable across modifications.
    """
    return f"{buyer_siret}{contract_id}"


@dataclass(slots=True)
class Record:
    """One contract (marché or contrat de concession) in its regulatory shape, with where it came from."""

    kind: Kind
    version: FormatVersion
    data: dict[str, Any]  # one of RecordData, as read or as normalized
    source: str | None = None  # sources.yaml id
    file: str | None = None  # the file it was read from
    position: int | None = None  # 1-based ordinal of the record in that file

    @property
    def id(self) -> str | None:
        value = self.data.get("id")
        return value if isinstance(value, str) else None

    @property
    def buyer_id(self) -> str | None:
        buyer = self.data.get(BUYER_KEY[self.kind])
        value = buyer.get("id") if isinstance(buyer, dict) else None
        return value if isinstance(value, str) else None

    @property
    def uid(self) -> str | None:
        if self.id is None or self.buyer_id is None:
            return None
        return make_uid(self.buyer_id, self.id)
