"""A finding's evidence as a PNG: the series, its neighbours or limit, the flagged span.

What an inspector pins into a case file: the source's hourly values around the finding, the
comparison that makes it suspicious (neighbouring stations' median, or the outlet's emission
limit and its O2/flow), hours flagged M/D/C… marked, and the finding's hours shaded.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import datetime

import matplotlib

matplotlib.use("Agg")  # no display: render to memory only

import numpy as np
from matplotlib import font_manager
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure

# Latin from DejaVu, 汉字 from the first CJK font installed (glyph by glyph, matplotlib ≥ 3.6):
# Debian's fonts-wqy-microhei, which `make install` and the Docker image install.
# Only those installed: matplotlib logs a warning per absent family at every draw.
_INSTALLED = {entry.name for entry in font_manager.fontManager.ttflist}
FONTS = [name for name in ("DejaVu Sans", "WenQuanYi Micro Hei", "Noto Sans CJK SC",
                           "Droid Sans Fallback") if name in _INSTALLED]


@dataclass(frozen=True)
class EvidenceChart:
    """What to draw. `times` are local naive-or-aware datetimes (hour starts) for every array;
    `values` the source's series (NaN = missing) in `unit`; `flagged` (same length) True on
    hours whose value carries a non-normal flag; `comparison` named series drawn thin (the
    neighbours' median, each neighbour); `limit` a horizontal line; `process` named series in
    panels of their own (O2 %, flow m³/h); `span` the finding's first and last hour."""

    title: str
    unit: str
    times: list[datetime]
    values: np.ndarray
    span: tuple[datetime, datetime]
    flagged: np.ndarray | None = None
    comparison: dict[str, np.ndarray] = field(default_factory=dict)
    limit: float | None = None
    process: dict[str, np.ndarray] = field(default_factory=dict)
    note: str = ""
    label: str = "this source"
    lang: str = "en"  # of the chart's own words (WORDS); the rest comes translated


WORDS = {
    "en": {"finding": "finding", "flagged": "flagged (M/D/C…)", "limit": "limit {limit:g} {unit}"},
    "zh": {"finding": "线索时段", "flagged": "异常标记 (M/D/C…)", "limit": "限值 {limit:g} {unit}"},
}


def render_png(chart: EvidenceChart, dpi: int = 110) -> bytes:
    """The chart as PNG bytes (Figure, not pyplot: safe in a threaded web server).

    Process signals get a panel each below the main one, sharing its time axis.
    """
    n_panels = 1 + len(chart.process)
    # a list of families, not a generic one: matplotlib falls back along it glyph by glyph
    with matplotlib.rc_context({"font.family": FONTS}):
        return _render(chart, dpi, n_panels)


def _render(chart: EvidenceChart, dpi: int, n_panels: int) -> bytes:
    figure = Figure(figsize=(10, 4.2 + 1.4 * len(chart.process)), dpi=dpi, layout="constrained")
    panels = figure.subplots(n_panels, 1, sharex=True, squeeze=False,
                             gridspec_kw={"height_ratios": [3] + [1] * len(chart.process)})[:, 0]
    axes = panels[0]
    words = WORDS[chart.lang]
    for panel in panels:
        panel.axvspan(chart.span[0], chart.span[1], color="#f4a261", alpha=0.25, lw=0,
                      label=words["finding"] if panel is axes else None)
        panel.grid(alpha=0.3)
    for index, (name, series) in enumerate(chart.comparison.items()):
        axes.plot(chart.times, series, lw=1.4 if index == 0 else 0.6,
                  color="#2a9d8f" if index == 0 else "#8ab17d", alpha=1.0 if index == 0 else 0.6,
                  label=name if index < 4 else None)
    axes.plot(chart.times, chart.values, lw=1.8, color="#264653", label=chart.label)
    if chart.flagged is not None and chart.flagged.any():
        when = [t for t, f in zip(chart.times, chart.flagged, strict=True) if f]
        axes.scatter(when, chart.values[chart.flagged], marker="x", color="#e63946", zorder=5,
                     label=words["flagged"])
    if chart.limit is not None:
        axes.axhline(chart.limit, color="#e63946", ls="--", lw=1.2,
                     label=words["limit"].format(limit=chart.limit, unit=chart.unit))
    axes.set_ylabel(chart.unit)
    axes.set_title(chart.title, fontsize=10, loc="left")
    axes.legend(fontsize=7, loc="upper left", ncols=3)
    for panel, (name, series) in zip(panels[1:], chart.process.items(), strict=True):
        panel.plot(chart.times, series, lw=1.2, color="#6d597a")
        panel.set_ylabel(name, fontsize=8)
    locator = AutoDateLocator()
    panels[-1].xaxis.set_major_locator(locator)
    panels[-1].xaxis.set_major_formatter(ConciseDateFormatter(locator))
    if chart.note:
        figure.text(0.01, 0.005, chart.note, fontsize=7, color="#555555")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
