"""Write the PES Marché and AIFE XML samples from the real records of their JSON conversions.

    .venv/bin/python samples/make_xml_samples.py

The real PES and AIFE samples we have (tests/fixtures/realdata, from ColinMaudry/decp-json) are decp-json's
JSON conversions; the publishers really send XML. This script writes, from those real values, the XML each
publisher sends, with the quirks documented in docs/normalization.md, and nothing else changed:

- PES Marché (`pes-marche/dgfip-pes-decp.xml`), DGFiP variant of the XSD (marches-dgfip.xsd): every record
  gets `dateTransmissionDonneesEtalab` (mandatory in the variant) equal to its real `datePublicationDonnees`,
  which is then left out of every second record (optional in the variant, and often missing); the buyer gets
  `urlProfilAcheteur` (mandatory in the variant, absent from the JSON conversion: the value of the official
  DGFiP example, http://marches-publics.net); dates keep their real time zones (+01:00).
- AIFE (`aife/donnees-essentielles-marches04.04.2019.01-30.xml`, the daily file name the AIFE uses): `nature`
  and `lieuExecution/typeCode` in the upper case the AIFE used (MARCHE, CODE DEPARTEMENT); the real missing
  `datePublicationDonnees` stay missing; one vertical tab (a character XML forbids, met in AIFE files) is put in
  the first record's `objet`.

The output is committed; the tests and `make demo` read it and never run this script.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT / "tests" / "fixtures" / "realdata"
MARCHE_ORDER = [
    "id", "acheteur", "nature", "objet", "codeCPV", "procedure", "lieuExecution", "dureeMois", "dateNotification",
    "datePublicationDonnees", "dateTransmissionDonneesEtalab", "montant", "formePrix", "titulaires", "modifications",
]  # fmt: skip
CONCESSION_ORDER = [
    "id", "autoriteConcedante", "nature", "objet", "procedure", "lieuExecution", "dureeMois", "dateSignature",
    "datePublicationDonnees", "dateDebutExecution", "valeurGlobale", "montantSubventionPublique", "donneesExecution",
    "concessionnaires", "modifications",
]  # fmt: skip
LIST_ITEMS = {
    "titulaires": "titulaire",
    "modifications": "modification",
    "concessionnaires": "concessionnaire",
    "donneesExecution": "donneesAnnuelles",
    "tarifs": "tarif",
}
AIFE_UPPER = {"nature", "typeCode"}  # concessions' nature too (CONCESSION DE TRAVAUX)
PLACEHOLDER = "\ue000"


def add(parent: etree._Element, name: str, value: Any, upper: bool = False) -> None:
    element = etree.SubElement(parent, name)
    if name in LIST_ITEMS:
        for item in value:
            add_object(etree.SubElement(element, LIST_ITEMS[name]), item, upper)
    elif isinstance(value, dict):
        add_object(element, value, upper)
    else:
        text = str(value)
        element.text = text.upper().replace("É", "E") if upper and name in AIFE_UPPER else text


def add_object(element: etree._Element, value: dict[str, Any], upper: bool) -> None:
    for key, item in value.items():
        add(element, key, item, upper)


def add_record(root: etree._Element, record: dict[str, Any], upper: bool = False) -> None:
    """A <marche> or <contrat-concession> with the record's fields in the XSD's order."""
    concession = record.get("_type") == "Contrat de concession"
    element = etree.SubElement(root, "contrat-concession" if concession else "marche")
    record = {k: v for k, v in record.items() if k not in ("source", "uid", "_type")}
    for key in CONCESSION_ORDER if concession else MARCHE_ORDER:
        if key in record:
            add(element, key, record[key], upper)


def pes() -> None:
    records = json.loads((REAL / "pes_2019-04-05_excerpt.json").read_text(encoding="utf-8"))["marches"]
    root = etree.Element("marches")
    for n, real in enumerate(records):
        record = dict(real)
        record["acheteur"] = {**record["acheteur"], "urlProfilAcheteur": "http://marches-publics.net"}
        record["dateTransmissionDonneesEtalab"] = record["datePublicationDonnees"]
        if n % 2:
            del record["datePublicationDonnees"]
        add_record(root, record)
    write(root, ROOT / "samples" / "pes-marche" / "dgfip-pes-decp.xml")


def aife() -> None:
    records = json.loads((REAL / "aife_2019-04-04_excerpt.json").read_text(encoding="utf-8"))["marches"]
    root = etree.Element("marches")
    for n, real in enumerate(records):
        record = dict(real)
        if n == 0:
            record["objet"] = record["objet"].replace(" ", " " + PLACEHOLDER, 1)
        add_record(root, record, upper=True)
    write(root, ROOT / "samples" / "aife" / "donnees-essentielles-marches04.04.2019.01-30.xml")


def write(root: etree._Element, path: Path) -> None:
    etree.indent(root, space="  ")
    text = etree.tostring(root, encoding="unicode")
    text = text.replace(PLACEHOLDER, "\x0b")  # lxml refuses to write the forbidden character itself
    path.write_bytes(('<?xml version="1.0" encoding="UTF-8"?>\n' + text + "\n").encode("utf-8"))


if __name__ == "__main__":
    pes()
    aife()
