"""The pages' templates (report/templates/, Jinja2, every value escaped) and the French ways of writing numbers.

Each number the page shows is written for people (`1 234`, `12,5 %`) and given again, as it is, in a
`data-value` attribute: the tests read the figures from there and compare them with report.json.
"""

from __future__ import annotations

import json
import math
import re
from functools import cache
from importlib.resources import files
from typing import Any

import jinja2
from markupsafe import Markup, escape

THIN = "\u202f"  # the French thousands separator (espace fine insécable)


def number(value: Any, digits: int = 0) -> str:
    """`1 234 567`, `3,5`: French digit groups and decimal comma; `–` for nothing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    text = f"{value:,.{digits}f}"
    return text.replace(",", THIN).replace(".", ",")


def days(value: Any) -> str:
    """A number of days, as a median gives it: `21`, or `22,5` between two days (never rounded away)."""
    if value is None:
        return "–"
    return number(value, 0 if float(value).is_integer() else 1)


def euros(value: Any) -> str:
    """Amounts: whole euros below a million, then `12,5 M€`, `1,2 Md€`."""
    if value is None:
        return "–"
    if abs(value) >= 1e9:
        return number(value / 1e9, 1) + f"{THIN}Md€"
    if abs(value) >= 1e6:
        return number(value / 1e6, 1) + f"{THIN}M€"
    return number(value) + f"{THIN}€"


def percent(value: Any, digits: int = 1) -> str:
    return "–" if value is None else number(100 * value, digits) + f"{THIN}%"


def cell(value: Any, shown: str | None = None) -> Markup:
    """A figure as a table cell's content: the text shown, the value kept in `data-value`."""
    if value is None:
        raw = ""
    elif isinstance(value, int | float) and not isinstance(value, bool):
        raw = repr(value)  # a finite number's JSON, without json.dumps's cost
    else:
        raw = json.dumps(value)
    text = number(value) if shown is None else shown
    # An f-string, not Markup.format: thousands of cells per set of pages, and Markup.format is much slower.
    return Markup(f'<span data-value="{escape(raw)}">{escape(text)}</span>')  # noqa: S704 - escaped


def json_script(value: Any) -> Markup:
    """Data for the page's script, safe inside <script>: `<`, `>` and `&` escaped as JSON unicode escapes."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    safe = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return Markup(safe)  # noqa: S704 - made safe on the line above


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("decp_pipeline.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,  # a name missing from the facts fails the build's tests, not silently
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(number=number, days=days, euros=euros, percent=percent, cell=cell, json_script=json_script)
    style = files("decp_pipeline.report").joinpath("templates/style.css").read_text(encoding="utf-8")
    style = re.sub(r"\s*([{};:,])\s*", r"\1", re.sub(r"\s+", " ", style)).strip()  # 27,000 copies: no spaces
    env.globals["style"] = Markup(style)  # noqa: S704 - our own stylesheet, inlined in every page
    return env


def render(template: str, **facts: Any) -> str:
    return environment().get_template(template).render(**facts)
