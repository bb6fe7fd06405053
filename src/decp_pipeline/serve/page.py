"""The French page of `GET /`: stub."""

from __future__ import annotations

from decp_pipeline.serve.settings import ServeSettings

CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; connect-src 'self'; form-action 'self'"
)


def render_page(settings: ServeSettings) -> str:
    return "<!doctype html><title>x</title>"
