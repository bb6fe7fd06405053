"""The OpenAPI 3.0 document of `GET /openapi.json`, written by hand: it describes these five routes and their
answers exactly (tests/test_serve_schemathesis.py holds the server to it), which a generator reading
docstrings would only approximate."""

from __future__ import annotations

from typing import Any

from decp_pipeline import __version__
from decp_pipeline.config import SCHEMA_VERSIONS

_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "time_limit": {"type": "number"},
        "max_upload_bytes": {"type": "integer"},
    },
}
_PROBLEM = {
    "type": "object",
    "required": ["record", "id", "path", "rule", "message", "line", "column", "pointer"],
    "properties": {
        "record": {"type": "integer", "nullable": True, "description": "1-based ordinal; null: the file itself"},
        "id": {"type": "string", "nullable": True},
        "path": {"type": "string", "description": "the field in the record (JSON: a.b[0].c; XML: a/b[1]/c)"},
        "rule": {"type": "string"},
        "message": {"type": "string"},
        "line": {"type": "integer", "nullable": True},
        "column": {"type": "integer", "nullable": True},
        "pointer": {"type": "string", "nullable": True},
    },
}
_FILE = {
    "type": "object",
    "required": ["problems", "file", "status", "records", "invalid_records", "problem_count", "notes"],
    "properties": {
        "problems": {"type": "array", "items": {"$ref": "#/components/schemas/Problem"}},
        "file": {"type": "string"},
        "status": {"type": "string", "enum": ["valid", "invalid", "unreadable"]},
        "syntax": {"type": "string", "nullable": True, "enum": ["json", "xml", None]},
        "schema_version": {"type": "string", "nullable": True},
        "shape": {"type": "string", "nullable": True},
        "records": {"type": "integer"},
        "invalid_records": {"type": "integer"},
        "problem_count": {"type": "integer"},
        "unreadable": {"type": "string", "nullable": True},
        "notes": {"type": "array", "items": {"type": "string"}},
    },
}
_COUNTS = ("files", "valid", "invalid", "unreadable", "records", "invalid_records", "problems")
_VALIDATION = {
    "type": "object",
    "description": "What `decp validate --json FILE` prints for the uploaded file",
    "required": ["files", "summary", "valid"],
    "properties": {
        "files": {"type": "array", "minItems": 1, "maxItems": 1, "items": {"$ref": "#/components/schemas/File"}},
        "summary": {
            "type": "object",
            "required": list(_COUNTS),
            "properties": {k: {"type": "integer"} for k in _COUNTS},
        },
        "valid": {"type": "boolean"},
    },
}


def _json(description: str, schema: str) -> dict[str, Any]:
    ref = {"$ref": f"#/components/schemas/{schema}"}
    return {"description": description, "content": {"application/json": {"schema": ref}}}


def _validate_operation() -> dict[str, Any]:
    binary = {"type": "string", "format": "binary"}
    return {
        "summary": "Validate one DECP file (JSON or XML, format 1.5 or 2022) as `decp validate --json` does",
        "operationId": "validate",
        "parameters": [
            {
                "name": "schema_version",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "enum": list(SCHEMA_VERSIONS), "default": "auto"},
                "description": "as `decp validate --schema-version`",
            },
            {
                "name": "filename",
                "in": "query",
                "required": False,
                "schema": {"type": "string"},
                "description": "the file's name, shown in the answer (raw body only)",
            },
        ],
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {"type": "object", "required": ["file"], "properties": {"file": binary}}
                },
                "application/octet-stream": {"schema": binary},
            },
        },
        "responses": {
            "200": _json("The file is valid", "Validation"),
            "422": _json("The file is invalid (each problem listed) or unreadable", "Validation"),
            "400": _json("No file in the request, or an unknown schema_version", "Error"),
            "413": _json("The upload is larger than the server's limit", "Error"),
            "503": _json("The validation took longer than the server's time limit", "Error"),
        },
    }


_SCHEMAS = {
    "type": "object",
    "required": ["default", "versions"],
    "properties": {
        "default": {"type": "string"},
        "versions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "label", "json_schema", "xml_schema"],
                "properties": {
                    "name": {"type": "string", "enum": [v for v in SCHEMA_VERSIONS if v != "auto"]},
                    "label": {"type": "string"},
                    "json_schema": {"type": "string", "nullable": True},
                    "xml_schema": {"type": "string"},
                },
            },
        },
    },
}
_HEALTH = {
    "type": "object",
    "required": ["status", "version"],
    "properties": {"status": {"type": "string", "enum": ["ok"]}, "version": {"type": "string"}},
}


def _get(operation: str, summary: str, answer: dict[str, Any]) -> dict[str, Any]:
    return {"get": {"summary": summary, "operationId": operation, "responses": {"200": answer}}}


def openapi_document() -> dict[str, Any]:
    """The document: the five routes, and the schemas of their answers."""
    html = {"description": "The publishers' page (French)", "content": {"text/html": {"schema": {"type": "string"}}}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "decp serve: validation of DECP files", "version": __version__},
        "paths": {
            "/": _get("page", "The publishers' page", html),
            "/api/validate": {"post": _validate_operation()},
            "/api/schemas": _get("schemas", "The schema versions checked", _json("The versions", "Schemas")),
            "/health": _get("health", "The server answers", _json("Alive", "Health")),
            "/openapi.json": _get(
                "openapi", "This document", {"description": "OpenAPI 3.0", "content": {"application/json": {}}}
            ),
        },
        "components": {
            "schemas": {
                "Validation": _VALIDATION,
                "File": _FILE,
                "Problem": _PROBLEM,
                "Error": _ERROR,
                "Schemas": _SCHEMAS,
                "Health": _HEALTH,
            }
        },
    }
