"""A local server that behaves like data.gouv.fr's API v1 (udata) for what `decp publish` uses.

    GET  /api/1/datasets/{id}/                          the dataset and its resources (checksum: sha1)
    POST /api/1/datasets/{id}/upload/                   a new resource from a multipart `file` (201)
    POST /api/1/datasets/{id}/resources/{rid}/upload/   the resource's file replaced, its id kept
    PUT  /api/1/datasets/{id}/resources/{rid}/          the resource's metadata (title, description)

As udata does: writes need the `X-API-KEY` header (401 without a valid key, 403 for a key that may not write
the dataset; `echo_key` makes those answers repeat the key, as a careless server would); an upload titles the
resource with the file name slugified (`actes_sous_traitance.csv` → `actes-sous-traitance.csv`); HTML is
refused. `faults` are answers given instead of the real one, once each, to the first request they match;
a fault `after` the request was carried out (a creation whose answer is lost) does the work, then fails.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

from .httpserver import LocalServer, Reply, Request

ROUTE = re.compile(r"^/api/1/datasets/(?P<dataset>[^/]+)/(?:resources/(?P<rid>[^/]+)/)?(?P<upload>upload/)?$")
REFUSED_EXTENSIONS = (".html", ".htm", ".exe")


@dataclass
class Fault:
    method: str
    path: str  # a regex matched against the request's path
    reply: Reply
    after: bool = False  # the request is carried out, then this is the answer


@dataclass
class FakeUdata:
    server: LocalServer
    key: str = "s3cr3t-key-0123456789"
    forbidden_key: str = "valid-key-of-someone-else"
    echo_key: bool = False
    datasets: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    bodies: dict[str, bytes] = field(default_factory=dict)  # resource id → the bytes last uploaded

    def __post_init__(self) -> None:
        self.server.fallback = self.answer

    @property
    def api_base(self) -> str:
        return self.server.url("/api")

    def add_dataset(self, dataset: str, resources: list[dict[str, Any]] | None = None) -> None:
        self.datasets[dataset] = {"id": dataset, "title": "Données essentielles", "resources": resources or []}

    def resources(self, dataset: str) -> list[dict[str, Any]]:
        return list(self.datasets[dataset]["resources"])

    def writes(self) -> list[Request]:
        return [r for r in self.server.log if r.method != "GET"]

    def answer(self, request: Request) -> Reply:
        fault = self._fault(request)
        if fault is not None and not fault.after:
            return fault.reply
        reply = self._serve(request)
        return fault.reply if fault is not None else reply

    def _fault(self, request: Request) -> Fault | None:
        for fault in self.faults:
            if fault.method == request.method and re.search(fault.path, request.path):
                self.faults.remove(fault)
                return fault
        return None

    def _serve(self, request: Request) -> Reply:  # noqa: PLR0911 - one answer per route and failure
        match = ROUTE.match(request.path.split("?")[0])
        if match is None or match["dataset"] not in self.datasets:
            return _json({"message": "Not found"}, 404)
        refused = self._refused(request)
        if refused is not None:
            return refused
        dataset = self.datasets[match["dataset"]]
        if request.method == "GET" and not match["rid"] and not match["upload"]:
            return _json(dataset)
        resource = next((r for r in dataset["resources"] if r["id"] == match["rid"]), None)
        if match["rid"] and resource is None:
            return _json({"message": "Resource not found"}, 404)
        if request.method == "POST" and match["upload"]:
            return self._upload(request, dataset, resource)
        if request.method == "PUT" and resource is not None and not match["upload"]:
            resource.update({k: v for k, v in request.json().items() if k in ("title", "description", "type")})
            return _json(resource)
        return _json({"message": "Method not allowed"}, 405)

    def _refused(self, request: Request) -> Reply | None:
        given = request.headers.get("x-api-key")
        if request.method == "GET" and given is None:
            return None
        echo = f": {given}" if self.echo_key else ""
        if given == self.forbidden_key:  # a valid key: it reads, it may not write this dataset
            if request.method == "GET":
                return None
            return _json({"message": f"You are not allowed to edit this dataset{echo}"}, 403)
        if given != self.key:
            return _json({"message": f"Invalid API Key{echo}"}, 401)
        return None

    def _upload(self, request: Request, dataset: dict[str, Any], resource: dict[str, Any] | None) -> Reply:
        parsed = _multipart(request)
        if parsed is None:
            return _json({"message": "No file in the request (multipart field 'file')"}, 400)
        filename, content = parsed
        if filename.lower().endswith(REFUSED_EXTENSIONS):
            return _json({"message": "This file type is not allowed"}, 400)
        created = resource is None
        if resource is None:
            resource = {"id": str(uuid.uuid4()), "description": None, "type": "main"}
            dataset["resources"].append(resource)
        resource.update({
            "title": _slug(filename),
            "checksum": {"type": "sha1", "value": hashlib.sha1(content, usedforsecurity=False).hexdigest()},
            "filesize": len(content),
            "url": self.server.url(f"/fr/datasets/r/{resource['id']}"),
            "format": filename.rsplit(".", 1)[-1].lower(),
        })  # fmt: skip
        self.bodies[resource["id"]] = content
        return _json(resource, 201 if created else 200)


def _multipart(request: Request) -> tuple[str, bytes] | None:
    """The file name and bytes of the multipart field `file`."""
    boundary = re.search(r"boundary=([^;]+)", request.headers.get("content-type", ""))
    if boundary is None:
        return None
    for part in request.body.split(b"--" + boundary[1].encode())[1:-1]:
        head, _, content = part[2:].partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]*)"; filename="([^"]*)"', head)
        if name and name[1] == b"file":
            return name[2].decode(), content[:-2]  # the CRLF before the next boundary
    return None


def _slug(filename: str) -> str:
    stem, _, ext = filename.rpartition(".")
    return re.sub(r"[^a-z0-9]+", "-", stem.lower()).strip("-") + "." + ext.lower()


def _json(document: Any, status: int = 200) -> Reply:
    return Reply(status, json.dumps(document).encode(), {"Content-Type": "application/json"})
