"""The publishers' page of `GET /`, in French: pick or drop a file, read the verdict and what to fix.

Rendered once when the server starts: the page is the same for every visitor. Its script and style are
inline, allowed by their sha256 in the Content-Security-Policy (sent as a header and in a meta tag), which
allows nothing else but requests to the server itself: the page asks no other host for anything. The words of
each rule are the report's (report/libelles.py), the fields' definitions the official JSON schemas' own titles
and descriptions, listed at the bottom of the page so that each problem links to its field without leaving it.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from functools import cache
from typing import Any

import jinja2
from markupsafe import Markup

from decp_pipeline import __version__
from decp_pipeline.official_schemas import VERSIONS, load_json_schema
from decp_pipeline.report.libelles import RULES
from decp_pipeline.report.render import json_script
from decp_pipeline.serve.settings import ServeSettings

MAX_DEPTH = 6  # levels of fields listed: modifications.modification.titulaires.titulaire.id (2022) is 5
KINDS = {"marche": "marché", "contrat-concession": "contrat de concession"}
# Each format's list of fields: the version whose JSON schema defines it, and who it serves.
GLOSSARIES = {"1.5": "format 1.5 (et sa variante DGFiP)", "2.0": "format 2022"}


@dataclass
class Field:
    path: str  # as the schemas spell it, levels joined by dots: acheteur.id
    title: str
    description: str
    kinds: list[str]


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """The schema `$ref` points to inside the same document (`#/definitions/...`), its own keys on top."""
    ref = schema.get("$ref")
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return schema
    target: Any = root
    for part in ref[2:].split("/"):
        target = target.get(part, {}) if isinstance(target, dict) else {}
    return {**_resolve(target, root), **{k: v for k, v in schema.items() if k != "$ref"}}


def _walk(schema: dict[str, Any], root: dict[str, Any], prefix: str, depth: int) -> list[tuple[str, dict[str, Any]]]:
    """(path, schema) of each property under `schema`, through arrays and `$ref`s, MAX_DEPTH levels down."""
    schema = _resolve(schema, root)
    if schema.get("type") == "array" or "items" in schema:
        items = schema.get("items")
        return _walk(items, root, prefix, depth) if isinstance(items, dict) else []
    found = []
    for name, child in (schema.get("properties") or {}).items():
        path = f"{prefix}.{name}" if prefix else name
        resolved = _resolve(child, root)
        found.append((path, resolved))
        if depth + 1 < MAX_DEPTH:
            found.extend(_walk(resolved, root, path, depth + 1))
    return found


@cache
def glossary(version: str) -> list[Field]:
    """The fields of the format's marchés and concessions, with the schema's title and description."""
    json_schema = VERSIONS[version].json_schema
    if json_schema is None:  # the DGFiP variant: XML only, its fields are those of 1.5
        return []
    root = load_json_schema(json_schema)
    fields: dict[str, Field] = {}
    for kind, label in KINDS.items():
        for path, schema in _walk(root["definitions"][kind], root, "", 0):
            entry = fields.setdefault(path, Field(path, "", "", []))
            entry.title = entry.title or str(schema.get("title", "")).strip()
            entry.description = entry.description or str(schema.get("description", "")).strip()
            entry.kinds.append(label)
    return sorted(fields.values(), key=lambda f: f.path.lower())


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


@cache
def _environment() -> jinja2.Environment:
    loader = jinja2.PackageLoader("decp_pipeline.serve", "templates")
    env = jinja2.Environment(loader=loader, autoescape=True, undefined=jinja2.StrictUndefined)
    env.filters["json_script"] = json_script
    return env


def content_security_policy(script: str, style: str) -> str:
    """Nothing from anywhere, but this page's own script and style, and requests to the server itself."""
    return (
        f"default-src 'none'; script-src {_sha256(script)}; style-src {_sha256(style)}; connect-src 'self'; "
        "img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    )


def render_page(settings: ServeSettings) -> tuple[str, str]:
    """The page and its Content-Security-Policy."""
    env = _environment()
    script = env.get_template("page.js").render(
        rules=RULES, versions=list(GLOSSARIES), anchors={v: [f.path for f in glossary(v)] for v in GLOSSARIES}
    )
    style = env.get_template("page.css").render()
    policy = content_security_policy(script, style)
    page = env.get_template("page.html").render(
        script=Markup(script),  # noqa: S704 - our own template, its data made safe
        style=Markup(style),  # noqa: S704 - our own stylesheet
        policy=policy,
        glossaries={v: (label, glossary(v)) for v, label in GLOSSARIES.items()},
        max_upload_mb=f"{settings.max_upload_mb:g}",
        version=__version__,
    )
    return page, policy
