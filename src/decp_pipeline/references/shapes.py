"""The SQL that turns each accepted shape of a reference file into its normalized columns (docs/references.md).

Each function gets the input's column names (as the file spells them) and returns a DuckDB SELECT over the
relation `src`, or raises ReferenceDataError when the file is not of a shape it knows. Columns are looked up
without regard to case (`CODE` or `code`); only the columns used are read, so that a multi-GB SIRENE stock is
read column by column. Every value is read as text (a SIREN keeps its leading zeros), trimmed, and an empty
cell is null.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from decp_pipeline.exceptions import ReferenceDataError

# The normalized columns of each reference, in order; all text but the `date_debut` dates.
SCHEMAS: dict[str, tuple[str, ...]] = {
    "cpv": ("code8", "code", "libelle"),
    "cog-communes": ("code_commune", "nom", "code_departement", "code_region"),
    "sirene-etablissements": (
        *("siret", "siren", "etat", "date_debut"),
        *("code_commune", "naf", "tranche_effectifs", "denomination"),
    ),
    "sirene-unites-legales": (
        *("siren", "denomination", "categorie_juridique", "categorie_entreprise"),
        *("tranche_effectifs", "etat", "date_debut"),
    ),
}


class Columns:
    """The input's columns, found by name whatever their case."""

    def __init__(self, name: str, columns: Sequence[str]) -> None:
        self.name = name
        self.by_lower = {c.lower(): c for c in columns}

    def has(self, *names: str) -> bool:
        return all(n.lower() in self.by_lower for n in names)

    def text(self, *names: str) -> str:
        """The first of `names` the file has, as trimmed text (empty: null); `NULL` when it has none."""
        for name in names:
            if (actual := self.by_lower.get(name.lower())) is not None:
                quoted = '"' + actual.replace('"', '""') + '"'
                return f"NULLIF(TRIM(CAST({quoted} AS VARCHAR)), '')"
        return "CAST(NULL AS VARCHAR)"

    def require(self, *names: str) -> None:
        missing = [n for n in names if not self.has(n)]
        if missing:
            found = ", ".join(sorted(self.by_lower.values())[:12])
            raise ReferenceDataError(f"not a {self.name} file: no column {', '.join(missing)} (its columns: {found})")


def digits(expression: str, width: int) -> str:
    """A code of `width` digits, its leading zeros put back (a spreadsheet may have read it as a number)."""
    return f"CASE WHEN regexp_full_match({expression}, '[0-9]{{1,{width}}}') THEN lpad({expression}, {width}, '0') END"


def day(expression: str) -> str:
    """A date written YYYY-MM-DD (or a date already); anything else is null."""
    return f"TRY_CAST(left({expression}, 10) AS DATE)"


def cpv(columns: Columns) -> str:
    """`CODE,FR` (the official .xls) or `code,code8,libelle_fr`; codes `45000000-7` or `45000000`."""
    if not columns.has("code") and not columns.has("code8"):
        columns.require("code")
    label = columns.text("libelle_fr", "libelle", "fr", "label", "libelle_cpv")
    if label == "CAST(NULL AS VARCHAR)":
        columns.require("libelle_fr")
    raw = f"replace(coalesce({columns.text('code')}, {columns.text('code8')}), ' ', '')"
    return f"""
    WITH read AS (
        SELECT {raw} AS raw, {label} AS libelle, row_number() OVER () AS position FROM src
    ), parsed AS (
        SELECT {digits("split_part(raw, '-', 1)", 8)} AS code8,
               CASE WHEN regexp_full_match(raw, '[0-9]{{1,8}}-[0-9]') THEN raw END AS with_check,
               libelle, position
        FROM read WHERE regexp_full_match(raw, '[0-9]{{1,8}}(-[0-9])?')
    )
    SELECT code8, CASE WHEN with_check IS NOT NULL THEN code8 || '-' || right(with_check, 1) END AS code, libelle
    FROM parsed
    QUALIFY row_number() OVER (PARTITION BY code8 ORDER BY with_check IS NULL, position) = 1
    ORDER BY code8"""


# Which row wins when the COG gives a code twice: the commune itself (a commune nouvelle keeps the code of
# its chef-lieu, also listed as its commune déléguée), then a municipal arrondissement, associated, delegated.
TYPE_ORDER = "CASE typecom WHEN 'COM' THEN 0 WHEN 'ARM' THEN 1 WHEN 'COMA' THEN 2 WHEN 'COMD' THEN 3 ELSE 4 END"


def cog_communes(columns: Columns) -> str:
    """INSEE's `v_commune_YYYY` (TYPECOM,COM,REG,DEP,...,LIBELLE,...,COMPARENT), or the pre-joined shape
    commune_code, commune_nom, departement_code, region_code."""
    if columns.has("commune_code"):
        code = digits_or_corsica(columns.text("commune_code"))
        return f"""
        SELECT {code} AS code_commune, {columns.text("commune_nom")} AS nom,
               {columns.text("departement_code")} AS code_departement, {columns.text("region_code")} AS code_region
        FROM src WHERE {code} IS NOT NULL
        QUALIFY row_number() OVER (PARTITION BY code_commune ORDER BY nom) = 1 ORDER BY code_commune"""
    columns.require("COM", "LIBELLE")
    typecom = f"coalesce(upper({columns.text('TYPECOM')}), 'COM')"
    code = digits_or_corsica(columns.text("COM"))
    return f"""
    WITH read AS (
        SELECT {typecom} AS typecom, {code} AS code, {columns.text("LIBELLE", "NCCENR")} AS nom,
               {columns.text("DEP")} AS dep, {columns.text("REG")} AS reg, {columns.text("COMPARENT")} AS parent
        FROM src
    ), communes AS (SELECT code, dep, reg FROM read WHERE typecom = 'COM')
    SELECT r.code AS code_commune, r.nom, coalesce(r.dep, p.dep) AS code_departement,
           coalesce(r.reg, p.reg) AS code_region
    FROM read r LEFT JOIN communes p ON p.code = r.parent
    WHERE r.code IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY r.code ORDER BY {TYPE_ORDER.replace("typecom", "r.typecom")}, r.nom) = 1
    ORDER BY code_commune"""


def digits_or_corsica(expression: str) -> str:
    """A commune code: 5 characters, digits or 2A/2B then 3 digits (leading zero restored: `1001` → `01001`)."""
    return (
        f"CASE WHEN regexp_full_match({expression}, '[0-9]{{4,5}}') THEN lpad({expression}, 5, '0') "
        f"WHEN regexp_full_match(upper({expression}), '2[AB][0-9]{{3}}') THEN upper({expression}) END"
    )


def sirene_etablissements(columns: Columns) -> str:
    """StockEtablissement (CSV or Parquet), the 2019 header or the current one: siret (or siren + nic)."""
    if not columns.has("siret") and not columns.has("siren", "nic"):
        columns.require("siret")
    siret = columns.text("siret") if columns.has("siret") else f"({columns.text('siren')} || {columns.text('nic')})"
    return f"""
    WITH read AS (SELECT {digits(siret, 14)} AS siret, * EXCLUDE (siret) FROM (
        SELECT {siret} AS siret,
               {columns.text("etatAdministratifEtablissement")} AS etat,
               {day(columns.text("dateDebut"))} AS date_debut,
               {columns.text("codeCommuneEtablissement")} AS code_commune,
               {columns.text("activitePrincipaleEtablissement")} AS naf,
               {columns.text("trancheEffectifsEtablissement")} AS tranche_effectifs,
               coalesce({columns.text("denominationUsuelleEtablissement")},
                        {columns.text("enseigne1Etablissement")}) AS denomination
        FROM src))
    SELECT siret, left(siret, 9) AS siren, etat, date_debut, code_commune, naf, tranche_effectifs, denomination
    FROM read WHERE siret IS NOT NULL"""


def sirene_unites_legales(columns: Columns) -> str:
    """StockUniteLegale (CSV or Parquet), the 2019 header (33 columns) or the current one (35)."""
    columns.require("siren")
    person = (
        f"NULLIF(concat_ws(' ', coalesce({columns.text('nomUsageUniteLegale')}, {columns.text('nomUniteLegale')}), "
        f"coalesce({columns.text('prenomUsuelUniteLegale')}, {columns.text('prenom1UniteLegale')})), '')"
    )
    siren = digits(columns.text("siren"), 9)
    return f"""
    SELECT {siren} AS siren,
           coalesce({columns.text("denominationUniteLegale")}, {person}) AS denomination,
           {columns.text("categorieJuridiqueUniteLegale")} AS categorie_juridique,
           {columns.text("categorieEntreprise")} AS categorie_entreprise,
           {columns.text("trancheEffectifsUniteLegale")} AS tranche_effectifs,
           {columns.text("etatAdministratifUniteLegale")} AS etat,
           {day(columns.text("dateDebut"))} AS date_debut
    FROM src WHERE {siren} IS NOT NULL"""


QUERIES: dict[str, Callable[[Columns], str]] = {
    "cpv": cpv,
    "cog-communes": cog_communes,
    "sirene-etablissements": sirene_etablissements,
    "sirene-unites-legales": sirene_unites_legales,
}
