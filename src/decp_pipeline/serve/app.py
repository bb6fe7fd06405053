"""The Starlette application of `decp serve`: its five routes, its pool of workers and its temporary folder.

`create_app(settings)` is the one entry point (cli/serve.py hands it to uvicorn; the tests do too). The pool
and the folder live as long as the server (the lifespan): the folder is created private to the server and
removed with what is left in it when the server stops.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from decp_pipeline import __version__
from decp_pipeline.config import SCHEMA_VERSIONS
from decp_pipeline.exceptions import UploadError, UploadTooLargeError, ValidationTimeoutError, WorkerLostError
from decp_pipeline.official_schemas import VERSIONS
from decp_pipeline.serve.openapi import openapi_document
from decp_pipeline.serve.page import render_page
from decp_pipeline.serve.settings import ServeSettings
from decp_pipeline.serve.upload import receive
from decp_pipeline.serve.worker import ValidationPool


class _State:
    """What the routes share: set by the lifespan, read by the handlers."""

    pool: ValidationPool
    folder: str


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


def schemas_document() -> dict[str, Any]:
    """The versions `schema_version` accepts, with the official files each is checked against."""
    return {
        "default": "auto",
        "versions": [
            {"name": v.name, "label": v.label, "json_schema": v.json_schema, "xml_schema": v.xsd}
            for v in VERSIONS.values()
        ],
    }


def create_app(settings: ServeSettings) -> Starlette:
    """The service, with `settings`' limits; its workers start with the server (the lifespan)."""
    state = _State()
    page, policy = render_page(settings)
    openapi = openapi_document()

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        state.folder = tempfile.mkdtemp(prefix="decp-serve-")  # mode 0700: the uploads are the server's only
        state.pool = ValidationPool(settings.workers, settings.time_limit)
        try:
            await state.pool.start()
            yield
        finally:
            state.pool.close()
            shutil.rmtree(state.folder, ignore_errors=True)

    async def validate(request: Request) -> Response:
        version = request.query_params.get("schema_version", "auto")
        if version not in SCHEMA_VERSIONS:
            return _error(400, f"schema_version must be one of {', '.join(SCHEMA_VERSIONS)}, not {version!r}")
        try:
            upload = await receive(request, state.folder, settings.max_upload_bytes)
        except UploadTooLargeError as e:
            return _error(413, str(e), max_upload_bytes=e.limit)
        except UploadError as e:
            return _error(400, str(e))
        try:
            exit_code, document = await state.pool.run(upload.path, version, upload.name)
        except ValidationTimeoutError as e:
            return _error(503, f"{e}: the file could not be judged in time", time_limit=e.seconds)
        except WorkerLostError as e:
            return _error(503, str(e))
        finally:
            os.unlink(upload.path)
        return JSONResponse(document, status_code=200 if exit_code == 0 else 422)

    async def home(_request: Request) -> Response:
        return HTMLResponse(page, headers={"Content-Security-Policy": policy})

    routes = [
        Route("/", home, methods=["GET"]),
        Route("/api/validate", validate, methods=["POST"]),
        Route("/api/schemas", lambda _r: JSONResponse(schemas_document()), methods=["GET"]),
        Route("/health", lambda _r: JSONResponse({"status": "ok", "version": __version__}), methods=["GET"]),
        Route("/openapi.json", lambda _r: JSONResponse(openapi), methods=["GET"]),
    ]
    return Starlette(routes=routes, lifespan=lifespan)
