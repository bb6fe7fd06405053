"""Streaming, safe XML reading of DECP files: one record element at a time.

The parser never expands entities, never loads a DTD, never opens the network, and keeps libxml2's limits
on text size and depth (huge_tree off). A document that declares a DTD is refused: DECP files have no use
for one, and a DTD is how entity-expansion attacks start. Records are the children of the root `<marches>`
(or the root itself when it is a single `<marche>` / `<contrat-concession>`), matched by local name; each
is yielded when its end tag is read, then freed, so memory holds one record whatever the file size.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from lxml import etree

from decp_pipeline.exceptions import XmlSyntaxError

RECORD_TAGS = ("marche", "contrat-concession")
_POSITION = re.compile(r",? line \d+, column \d+$")
ROOT_TAG = "marches"


@dataclass
class XmlItem:
    """A child of the root: a record (kind is "marche" or "contrat-concession") or an unexpected element."""

    element: etree._Element
    kind: str | None  # None: not a record element
    local_name: str
    line: int | None


def local_tag(tag: str) -> str:
    """A tag without its namespace (`{namespace}name` → `name`)."""
    return tag[tag.index("}") + 1 :] if tag[0] == "{" else tag


def local_name(element: etree._Element) -> str:
    return local_tag(str(element.tag))  # a str already (a QName's str is `{namespace}name`)


class XmlReader:
    """Reads the items of one XML file; `root` is set once the root element has been read."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.root: etree._Element | None = None

    def items(self) -> Iterator[XmlItem]:
        """Yield each record or unexpected element under the root, in document order.

        Raises XmlSyntaxError for a malformed or refused document, after the items read before the fault.
        """
        with open(self.path, "rb") as source:  # closed even when the caller stops early
            yield from self._items(source)

    def _items(self, source: BinaryIO) -> Iterator[XmlItem]:
        self._check_prolog()
        # Only the end of record elements reaches Python (libxml2 filters the events by tag): a file of a
        # million elements costs a few thousand events, not two million.
        parser_events = etree.iterparse(
            source,
            events=("end",),
            tag=[f"{{*}}{name}" for name in RECORD_TAGS],
            resolve_entities=False,
            load_dtd=False,
            no_network=True,
            huge_tree=False,
        )
        try:
            for _event, element in parser_events:
                parent = element.getparent()
                if parent is None:  # the root is the record
                    self._set_root(element)
                    yield XmlItem(element, local_name(element), local_name(element), element.sourceline)
                    continue
                if parent.getparent() is not None or local_name(parent) in RECORD_TAGS:
                    continue  # an element of that name inside a record: part of the record
                self._set_root(parent)
                while parent[0] is not element:  # what came before the record: unexpected elements, comments
                    yield from self._unexpected(parent[0])
                    del parent[0]
                name = local_name(element)
                yield XmlItem(element, name, name, element.sourceline)
                element.clear()  # free the record
                del parent[0]
            root = parser_events.root
            if root is not None:
                self._set_root(root)
                if root is self.root and local_name(root) not in RECORD_TAGS:
                    for child in list(root):  # unexpected elements after the last record
                        yield from self._unexpected(child)
        except etree.XMLSyntaxError as e:
            line, column = e.position if e.position else (e.lineno, None)
            raise XmlSyntaxError(_describe(e), line, column) from None

    def _check_prolog(self) -> None:
        """Refuse a DTD before anything else is parsed (the prolog, up to the start of the root element)."""
        with open(self.path, "rb") as head:
            try:
                for _event, root in etree.iterparse(
                    head, events=("start",), resolve_entities=False, load_dtd=False, no_network=True
                ):
                    _refuse_dtd(root)
                    break
            except etree.XMLSyntaxError:
                # lxml 6.2's libxml2 may fail inside the DTD itself (an entity nested too deeply) before the
                # first element: still a DTD, refused as such; any other fault is reported by the reading.
                head.seek(0)
                if _doctype_before_root(head.read(PROLOG_BYTES)):
                    raise _dtd_refused() from None

    def _set_root(self, root: etree._Element) -> None:
        if self.root is None:
            self.root = root
            _refuse_dtd(root)

    @staticmethod
    def _unexpected(element: etree._Element) -> Iterator[XmlItem]:
        if isinstance(element.tag, str):
            yield XmlItem(element, None, local_name(element), element.sourceline)


def _refuse_dtd(root: etree._Element) -> None:
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise _dtd_refused()


def _dtd_refused() -> XmlSyntaxError:
    return XmlSyntaxError(
        "the document declares a DTD (<!DOCTYPE ...>): refused, DECP files need none and DTD entities "
        "are never expanded",
        1,
        1,
    )


PROLOG_BYTES = 1 << 16
_DOCTYPE = [b"<!DOCTYPE", "<!DOCTYPE".encode("utf-16-le"), "<!DOCTYPE".encode("utf-16-be")]


def _doctype_before_root(head: bytes) -> bool:
    """Whether the bytes before the first element hold a `<!DOCTYPE` (the prolog may only hold the XML
    declaration, comments, processing instructions and the DTD)."""
    for doctype in _DOCTYPE:
        at = head.find(doctype)
        if at >= 0:
            return not re.search(rb"<[A-Za-z_]", head[:at].replace(b"\x00", b""))
    return False


def _describe(error: etree.XMLSyntaxError) -> str:
    message = _POSITION.sub("", error.msg or str(error)).strip()
    if message.startswith("Document is empty"):
        return "the file is empty or holds no XML element"
    if "proper UTF-8" in message or "Invalid bytes in character encoding" in message:
        return f"{message.rstrip('.')}: the bytes do not match the declared encoding (UTF-8 if none is declared)"
    return message
