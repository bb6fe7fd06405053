"""`kind: dcat`: the federation model of the regulation, a buyer's DCAT catalogue pointing to its DECP files.

The catalogue (RDF/XML or Turtle) is cached like any resource; its distributions in JSON or XML are the
source's resources. Real catalogues are sloppy, so the RDF/XML reading is tolerant on purpose:

- Klekoon's catalogues declare `encoding="utf-16"` but are UTF-8 (or Latin-1): a declared encoding that does
  not match the bytes is ignored, and the fix is noted;
- Klekoon puts its file URLs in a non-standard `rdfs:ressource` element as text: any `accessURL`,
  `downloadURL`, `resource` or `ressource` element, as attribute or text, is a candidate URL.

For each distribution (or each dataset, when a catalogue has no distributions) one URL is kept: the JSON one
if there is one, else the XML one, so that a marché published in both is fetched once. The XML is parsed
with entities and DTDs refused and no network access; Turtle is parsed with rdflib.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from lxml import etree

from decp_pipeline.config import Source
from decp_pipeline.exceptions import CatalogError, FetchError
from decp_pipeline.fetch.content import check_catalog, check_decp_data, is_turtle
from decp_pipeline.fetch.resources import FetchContext, Resource, SourceResult, fetch_resource

DCAT = "http://www.w3.org/ns/dcat#"
URL_PROPERTIES = frozenset({"accessURL", "downloadURL", "resource", "ressource"})
FORMAT_PROPERTIES = frozenset({"format", "mediaType", "MediaTypeOrExtent", "MediaType", "label", "value"})
RDF_RESOURCE = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}resource"
_DECLARATION = re.compile(rb"^(\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"'][^>]*\?>")


@dataclass(frozen=True)
class Distribution:
    url: str
    format: str | None  # json or xml


def parse_catalog(data: bytes, base_url: str = "") -> tuple[list[Distribution], list[str]]:
    """The JSON/XML distributions of a DCAT catalogue, and notes on what had to be repaired."""
    if is_turtle(data[:4096]):
        return _parse_turtle(data, base_url), []
    if b"<!DOCTYPE" in data[:4096].upper():
        raise CatalogError("the catalogue declares a DTD, which is refused (entities are never expanded)")
    data, notes = _fix_declared_encoding(data)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as e:
        raise CatalogError(f"not well-formed RDF/XML: {e}") from None
    if root.getroottree().docinfo.internalDTD is not None:
        raise CatalogError("the catalogue declares a DTD, which is refused (entities are never expanded)")
    return _distributions_from_xml(root), notes


def _fix_declared_encoding(data: bytes) -> tuple[bytes, list[str]]:
    """Drop an encoding declaration the bytes contradict (Klekoon: 'utf-16' on UTF-8 text)."""
    match = _DECLARATION.match(data)
    if not match:
        return data, []
    declared = match.group(2).decode("ascii").lower()
    try:
        data.decode(declared)
        agrees = not declared.startswith(("utf-16", "utf-32")) or data.startswith((b"\xff\xfe", b"\xfe\xff"))
    except (LookupError, UnicodeDecodeError):
        agrees = False
    if agrees:
        return data, []
    actual = "utf-8"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        actual = "iso-8859-1"
    start, end = match.span(2)
    fixed = data[:start] + actual.encode() + data[end:]
    return fixed, [f"the catalogue declares encoding {declared!r} but is {actual}: read as {actual}"]


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname if isinstance(element.tag, str) else ""


def _distributions_from_xml(root: etree._Element) -> list[Distribution]:
    described = {
        e.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about"): e
        for e in root.iter()
        if _local(e) == "Distribution" and e.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about")
    }
    scopes: list[etree._Element] = [e for e in root.iter() if _local(e) == "Distribution"]
    # A `dcat:distribution rdf:resource="…"` pointing to a Distribution not described in the file is a URL.
    loose = [
        e.get(RDF_RESOURCE)
        for e in root.iter()
        if _local(e) == "distribution" and e.get(RDF_RESOURCE) and e.get(RDF_RESOURCE) not in described
    ]
    if not scopes:  # no distributions: each dataset is one scope (Klekoon)
        scopes = [e for e in root.iter() if _local(e) in ("dataset", "Dataset") and len(e)]
    chosen = [_choose(_urls(scope), _formats(scope)) for scope in scopes]
    chosen += [_choose([u], "") for u in loose if u]
    return _unique(d for d in chosen if d is not None)


def _urls(scope: etree._Element) -> list[str]:
    urls = []
    for e in scope.iter():
        if _local(e) in URL_PROPERTIES:
            for value in (e.get(RDF_RESOURCE), e.get("{http://www.w3.org/1999/02/22-rdf-syntax-ns#}about"), e.text):
                if value and value.strip().startswith(("http://", "https://")):
                    urls.append(value.strip())
    return urls


def _formats(scope: etree._Element) -> str:
    parts: list[str] = []
    for e in scope.iter():
        if _local(e) in FORMAT_PROPERTIES:
            parts.extend(v for v in (e.get(RDF_RESOURCE), e.text) if v)
    return " ".join(parts).lower()


def _url_format(url: str) -> str | None:
    path = urlsplit(url).path.lower()
    if path.endswith(".json") or "/json/" in path or path.endswith("/json"):
        return "json"
    if path.endswith(".xml") or "/xml/" in path or path.endswith("/xml"):
        return "xml"
    return None


def _choose(urls: list[str], declared: str) -> Distribution | None:
    """The JSON URL of a scope if any, else the XML one; the declared format decides for plain URLs."""
    declared_format = "json" if "json" in declared else "xml" if "xml" in declared else None
    candidates = [(url, _url_format(url) or declared_format) for url in dict.fromkeys(urls)]
    for wanted in ("json", "xml"):
        for url, fmt in candidates:
            if fmt == wanted:
                return Distribution(url, fmt)
    return None


def _unique(distributions: object) -> list[Distribution]:
    seen: dict[str, Distribution] = {}
    for d in distributions:  # type: ignore[attr-defined]
        seen.setdefault(d.url, d)
    return list(seen.values())


def _parse_turtle(data: bytes, base_url: str) -> list[Distribution]:
    # Imported here: only Turtle catalogues need rdflib, and importing it costs every command 0.3 s.
    import rdflib  # noqa: PLC0415
    from rdflib.namespace import DCAT as NS_DCAT  # noqa: PLC0415
    from rdflib.namespace import DCTERMS, RDF, RDFS  # noqa: PLC0415

    graph = rdflib.Graph()
    try:
        graph.parse(data=data.decode("utf-8-sig"), format="turtle", publicID=base_url or None)
    except Exception as e:  # rdflib raises many unrelated types for bad Turtle
        raise CatalogError(f"not valid Turtle: {str(e).splitlines()[0] if str(e) else type(e).__name__}") from None

    def texts(node: rdflib.term.Node) -> str:
        values = []
        for prop in (DCTERMS.format, NS_DCAT.mediaType):
            for value in graph.objects(node, prop):
                values.append(str(value))
                values.extend(str(v) for v in graph.objects(value, RDFS.label))
                values.extend(str(v) for v in graph.objects(value, RDF.value))
        return " ".join(values).lower()

    distributions = set(graph.subjects(RDF.type, NS_DCAT.Distribution)) | set(graph.objects(None, NS_DCAT.distribution))
    chosen = []
    for node in sorted(distributions, key=str):
        urls = [str(u) for prop in (NS_DCAT.downloadURL, NS_DCAT.accessURL) for u in graph.objects(node, prop)]
        if not urls and isinstance(node, rdflib.URIRef) and not list(graph.predicate_objects(node)):
            urls = [str(node)]
        chosen.append(_choose(urls, texts(node)))
    return _unique(d for d in chosen if d is not None)


def catalog_urls(source: Source) -> list[str]:
    if "catalog" in source.location:
        return [source.location["catalog"]]
    return list(dict.fromkeys(source.location["catalogs"]))


def fetch(ctx: FetchContext, source: Source, result: SourceResult) -> None:
    listed: set[str] = set()
    problems = []
    vanished = 0
    catalogs = catalog_urls(source)
    for catalog in catalogs:
        before, counts = len(result.failures), (result.downloaded, result.unchanged)
        fetch_resource(
            ctx, source.id, Resource(catalog, title="DCAT catalogue"), result, check=check_catalog, role="catalog"
        )
        result.downloaded, result.unchanged = counts  # counts are of data files; bytes include the catalogue
        cached = ctx.store.cached(source.id, catalog)
        if len(result.failures) > before:
            failure = result.failures.pop()
            result.failed -= 1
            vanished += failure.gone
            problems.append(f"catalogue {catalog}: {failure.reason}")
            continue
        assert cached is not None
        assert cached.path is not None
        try:
            distributions, notes = parse_catalog(ctx.store.absolute(cached.path).read_bytes(), catalog)
        except CatalogError as e:
            ctx.store.record_failure(source.id, catalog, str(e))
            problems.append(f"catalogue {catalog}: {e}")
            continue
        listed.add(catalog)
        result.notes.extend(f"catalogue {catalog}: {note}" for note in notes)
        ctx.progress(f"{source.id}: catalogue {catalog}: {len(distributions)} JSON/XML distributions")
        for distribution in distributions:
            if distribution.url in listed:
                continue
            listed.add(distribution.url)
            result.listed += 1
            fetch_resource(ctx, source.id, Resource(distribution.url), result, check=check_decp_data)
    if problems:
        result.notes.extend(problems)
        result.fail_source("; ".join(problems), vanished=vanished == len(catalogs))
        return
    ctx.store.set_listing(source.id, listed)


__all__ = ["CatalogError", "Distribution", "FetchError", "fetch", "parse_catalog"]
