"""The report's plots, drawn by matplotlib as SVG and inlined in the page: no script, no request, sharp on a
phone and a laptop (the SVG scales to the width of the page), with the text as text (searchable, readable by a
screen reader and by the tests).

Each function takes the facts of a section (report/accounting.py, report/indicators.py) and returns the SVG
markup, or None when there is nothing to draw. The same facts always give the same bytes.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import matplotlib as mpl
from cycler import cycler
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator, PercentFormatter

from decp_pipeline.report.render import number

PALETTE = ["#000091", "#e1000f", "#009081", "#c3992a", "#6a6af4", "#ce614a", "#3a3a3a", "#b7a73f", "#958b62",
           "#00a95f"]  # fmt: skip
STYLE: Any = {
    "svg.fonttype": "none",  # text as <text>, in the page's font
    "svg.hashsalt": "decp-report",  # stable ids: the same facts, the same bytes
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": cycler(color=PALETTE),
}
MAX_SERIES = 8  # lines or bars drawn by name; the others summed as "autres"


@contextmanager
def figure(width: float = 7.5, height: float = 3.2) -> Iterator[Figure]:
    with mpl.rc_context(STYLE):
        yield Figure(figsize=(width, height), layout="constrained")


def svg(fig: Figure, title: str) -> str:
    """The figure as inline SVG: no fixed size (it takes the width of its box), titled for screen readers."""
    with mpl.rc_context(STYLE):
        out = io.StringIO()
        fig.savefig(out, format="svg", metadata={"Date": None, "Creator": None})
    text = out.getvalue()
    text = text[text.index("<svg") :]
    text = re.sub(r'(<svg[^>]*?) width="[^"]*" height="[^"]*"', r"\1", text, count=1)
    escaped = title.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
    return text.replace(">", f' role="img" aria-label="{escaped}" class="plot">', 1)


def _top(series: dict[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """The MAX_SERIES largest series by name, the others summed as "autres"."""
    ordered = sorted(series, key=lambda name: -sum(series[name].values()))
    kept = {name: series[name] for name in ordered[:MAX_SERIES]}
    rest: dict[str, int] = {}
    for name in ordered[MAX_SERIES:]:
        for key, value in series[name].items():
            rest[key] = rest.get(key, 0) + value
    return kept | ({"autres": rest} if rest else {})


def months(facts: dict[str, Any], title: str) -> str | None:
    """Exported contracts per month, one line per source."""
    series = _top(facts["series"])
    present = sorted({month for values in series.values() for month in values})
    if not present:
        return None
    every = _month_range(present[0], present[-1])  # every month between: the axis is linear in time
    with figure() as fig:
        axes = fig.add_subplot()
        positions = {month: i for i, month in enumerate(every)}
        for name, values in series.items():  # a month without contracts of a source is a 0 of that source
            axes.plot(list(positions.values()), [values.get(m, 0) for m in every], label=name, linewidth=1.4,
                      marker="o" if len(every) < 24 else None, markersize=3)  # fmt: skip
        ticks = [i for i, month in enumerate(every) if month.endswith("-01")] or list(range(len(every)))
        axes.set_xticks(ticks, [every[i][:4] if every[i].endswith("-01") else every[i] for i in ticks])
        axes.set_ylabel("contrats exportés")
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.yaxis.set_major_formatter(NUMBERS)
        axes.legend(fontsize=7, frameon=False, ncols=2)
        return svg(fig, title)


def stacked_bars(labels: Sequence[str], stacks: dict[str, Sequence[float]], title: str, *, xlabel: str,
                 colors: Sequence[str] | None = None) -> str | None:  # fmt: skip
    """Horizontal bars, one per label, stacked by the named parts."""
    if not labels:
        return None
    height = max(2.0, 0.32 * len(labels) + 1.0)
    with figure(height=height) as fig:
        axes = fig.add_subplot()
        left = [0.0] * len(labels)
        for i, (name, values) in enumerate(stacks.items()):
            color = colors[i] if colors else PALETTE[i % len(PALETTE)]
            axes.barh(range(len(labels)), values, left=left, label=name, color=color)
            left = [a + b for a, b in zip(left, values, strict=True)]
        axes.set_yticks(range(len(labels)), [_short(label) for label in labels])
        axes.invert_yaxis()
        axes.set_xlabel(xlabel)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
        axes.xaxis.set_major_formatter(NUMBERS)
        if len(stacks) > 1:
            axes.legend(fontsize=7, frameon=False, loc="lower right")
        return svg(fig, title)


def bars(labels: Sequence[str], values: Sequence[float], title: str, *, xlabel: str, percent: bool = False
         ) -> str | None:  # fmt: skip
    """Horizontal bars, one per label, with the value written at the end of each."""
    if not labels:
        return None
    height = max(2.0, 0.32 * len(labels) + 1.0)
    with figure(height=height) as fig:
        axes = fig.add_subplot()
        axes.barh(range(len(labels)), values, color=PALETTE[0])
        axes.set_yticks(range(len(labels)), [_short(label) for label in labels])
        axes.invert_yaxis()
        axes.set_xlabel(xlabel)
        for i, value in enumerate(values):
            axes.text(value, i, f" {value:.0%}" if percent else f" {_number(value)}", va="center", fontsize=7)
        if percent:
            axes.set_xlim(0, 1.1)
            axes.xaxis.set_major_formatter(PercentFormatter(1.0))
        else:
            axes.xaxis.set_major_formatter(NUMBERS)
        return svg(fig, title)


def matrix(names: Sequence[str], cells: Sequence[Sequence[int]], title: str) -> str | None:
    """The overlap between sources: a heat map with the count in each cell."""
    if not names:
        return None
    size = max(3.0, 0.45 * len(names) + 2.0)
    with figure(width=size + 1.5, height=size) as fig:
        axes = fig.add_subplot()
        image = axes.imshow(cells, cmap="Blues")
        axes.set_xticks(range(len(names)), [_short(n, 18) for n in names], rotation=45, ha="right")
        axes.set_yticks(range(len(names)), [_short(n, 18) for n in names])
        peak = max((max(row) for row in cells), default=0) or 1
        for i, row in enumerate(cells):
            for j, value in enumerate(row):
                if value:
                    color = "white" if value > peak / 2 else "black"
                    axes.text(j, i, _number(value), ha="center", va="center", fontsize=7, color=color)
        fig.colorbar(image, ax=axes, shrink=0.7)
        return svg(fig, title)


def histogram(values: Sequence[float], title: str, *, xlabel: str) -> str | None:
    if not values:
        return None
    with figure(height=2.8) as fig:
        axes = fig.add_subplot()
        axes.hist(values, bins=[i / 20 for i in range(21)], color=PALETTE[0], edgecolor="white")
        axes.set_xlabel(xlabel)
        axes.set_ylabel("acheteurs")
        axes.yaxis.set_major_locator(MaxNLocator(integer=True))
        axes.xaxis.set_major_formatter(PercentFormatter(1.0))
        return svg(fig, title)


def _month_range(first: str, last: str) -> list[str]:
    """Every YYYY-MM from `first` to `last`."""
    year, month = int(first[:4]), int(first[5:7])
    months = []
    while (current := f"{year:04d}-{month:02d}") <= last:
        months.append(current)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def _short(label: str, width: int = 42) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


def _number(value: float) -> str:
    """1 234 567 (render.number: a French thin space between thousands), 12,5 M for millions and more."""
    if abs(value) >= 1e9:
        return number(value / 1e9, 1) + " Md"
    if abs(value) >= 1e6:
        return number(value / 1e6, 1) + " M"
    return number(value)


NUMBERS = FuncFormatter(lambda value, _: _number(value))  # the axes' figures, the French way
