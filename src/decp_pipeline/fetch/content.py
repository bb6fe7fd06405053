"""Checks of a body's first bytes, so that an error page served with status 200 never replaces good data."""

from __future__ import annotations

import re

from decp_pipeline.detect import sniff_syntax
from decp_pipeline.exceptions import NotDecpDataError

_HTML = re.compile(rb"<(!doctype\s+html|html[\s>]|head[\s>]|body[\s>])", re.IGNORECASE)
_RDF_XML = re.compile(rb"<([A-Za-z_][\w.-]*:)?RDF[\s>]")
_TURTLE = re.compile(rb"^\s*(@prefix|@base|prefix\s|base\s|<https?://[^>\s]*>\s|#)", re.IGNORECASE)


def check_decp_data(head: bytes) -> None:
    """A DECP file must be JSON or XML, and not an HTML page (XHTML included)."""
    try:
        syntax = sniff_syntax(head)
    except NotDecpDataError as e:
        raise ValueError(str(e).replace("the file is", "the server sent", 1)) from None
    if syntax == "xml" and _HTML.search(head[:2048]):
        raise ValueError("the server sent an HTML page, not DECP data")


def check_catalog(head: bytes) -> None:
    """A DCAT catalogue is RDF/XML or Turtle."""
    stripped = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if _HTML.search(stripped[:2048]) and not _RDF_XML.search(stripped):
        raise ValueError("the server sent an HTML page, not a DCAT catalogue")
    if stripped.startswith(b"<") or _TURTLE.match(stripped):
        return
    shown = stripped[:40].decode("utf-8", errors="replace")
    raise ValueError(f"not a DCAT catalogue (RDF/XML or Turtle): it starts with {shown!r}")


def is_turtle(head: bytes) -> bool:
    """Turtle unless the catalogue is XML (an XML declaration or an rdf:RDF element)."""
    stripped = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    return not (stripped.startswith(b"<?xml") or _RDF_XML.search(stripped[:4096]))
