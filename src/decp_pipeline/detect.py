"""Telling what a DECP file holds: JSON or XML, and which version of the format.

Everything is read from the content, never from the file name: publishers name files freely.
"""

from __future__ import annotations

from typing import Any, Literal

from lxml import etree

from decp_pipeline.exceptions import NotDecpDataError

Syntax = Literal["json", "xml"]

# Fields that exist only in format 2022 (arrêtés du 22 décembre 2022): one of them is enough.
MARKERS_2022 = frozenset(
    {
        "techniques",
        "modalitesExecution",
        "typesPrix",
        "considerationsSociales",
        "considerationsEnvironnementales",
        "marcheInnovant",
        "ccag",
        "offresRecues",
        "attributionAvance",
        "sousTraitanceDeclaree",
        "typeGroupementOperateurs",
        "actesSousTraitance",
        "modificationsActesSousTraitance",
    }
)
# The field that only the DGFiP variant of format 1.5 (PES Marché) has, and requires, in the buyer.
# (`dateTransmissionDonneesEtalab` is not enough: Grand Lyon publishes an empty one in standard 1.5 files.)
MARKER_DGFIP = "urlProfilAcheteur"

HEAD_SIZE = 512


def sniff_syntax(head: bytes) -> Syntax:
    """JSON or XML, from the first bytes of a file; raises NotDecpDataError otherwise."""
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = head.decode("utf-16", errors="ignore").lstrip()
        if text.startswith("<"):
            return "xml"
        raise NotDecpDataError("the file is UTF-16 encoded: DECP JSON files must be UTF-8")
    head = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not head:
        raise NotDecpDataError("the file is empty")
    lowered = head[:64].lower()
    if lowered.startswith((b"<!doctype html", b"<html")):
        raise NotDecpDataError("the file is an HTML page, not DECP data")
    if head.startswith(b"<"):
        return "xml"
    if head.startswith((b"{", b"[")):
        return "json"
    if head.startswith(b"PK\x03\x04"):
        raise NotDecpDataError("the file is a ZIP archive, not JSON or XML")
    if head.startswith(b"\x1f\x8b"):
        raise NotDecpDataError("the file is gzip-compressed, not JSON or XML")
    shown = head[:20].decode("utf-8", errors="replace")
    raise NotDecpDataError(f"the file is neither JSON nor XML: it starts with {shown!r}")


def json_record_version(record: Any) -> str:
    """'2.0' for a format-2022 record, else '1.5'."""
    if not isinstance(record, dict):
        return "1.5"
    if MARKERS_2022 & record.keys():
        return "2.0"
    holders = record.get("titulaires") or record.get("concessionnaires")
    first = holders[0] if isinstance(holders, list) and holders else None
    if isinstance(first, dict) and {"titulaire", "concessionnaire"} & first.keys():
        return "2.0"
    return "1.5"


def xml_record_version(element: etree._Element) -> str:
    """'2.0', '1.5-dgfip' or '1.5' for a record element, from the names of its children."""
    names = {etree.QName(child).localname for child in element if isinstance(child.tag, str)}
    if MARKERS_2022 & names:
        return "2.0"
    buyers = [
        child
        for child in element
        if isinstance(child.tag, str) and etree.QName(child).localname in ("acheteur", "autoriteConcedante")
    ]
    buyer_fields = {etree.QName(g).localname for b in buyers for g in b if isinstance(g.tag, str)}
    if MARKER_DGFIP in buyer_fields:
        return "1.5-dgfip"
    return "1.5"


def xml_dict_version(record: dict[str, Any]) -> str:
    """`xml_record_version` of a record element, from the dict it was turned into (element_to_dict): the
    same names give the same answer, without walking the element again."""
    if MARKERS_2022 & record.keys():
        return "2.0"
    for key in ("acheteur", "autoriteConcedante"):
        buyers = record.get(key)
        for buyer in buyers if isinstance(buyers, list) else [buyers]:
            if isinstance(buyer, dict) and MARKER_DGFIP in buyer:
                return "1.5-dgfip"
    return "1.5"
