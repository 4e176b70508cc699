"""The SVG pieces of the HTML report: the palette, MTTR per strategy as a box and strip plot, the metric bars.

Plain strings of inline SVG (no script, no external file); every text from the report is escaped.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import Any

from .render import format_seconds

__all__ = ["COLORS", "HONEST", "SecondsAxis", "VERDICTS", "metric_bar", "mttr_chart", "mttr_samples"]

HONEST = "expected_unrecoverable"
#: The matrix's columns: the verdicts, with an unrecovered test that expected it (and passed) apart.
VERDICTS = ("restored", "repaired", "degraded", "critical", "unrecovered", HONEST, "false_recovery", "error")
COLORS: Mapping[str, str] = {
    HONEST: "#1b7c83",
    "restored": "#1a7f37",
    "repaired": "#4c9a2a",
    "degraded": "#bf8700",
    "critical": "#cf222e",
    "unrecovered": "#a40e26",
    "false_recovery": "#6e011a",
    "error": "#8250df",
}


def _e(value: Any) -> str:
    return escape(str(value), quote=True)


# -- MTTR per strategy: box and strip plot ---------------------------------------------------------------


def mttr_samples(records: Iterable[Mapping[str, Any]]) -> dict[str, list[float]]:
    """Recovery times per winning strategy, by the rule of the summary's ``mttr_by_strategy``."""
    times: dict[str, list[float]] = {}
    for r in records:
        seconds = r.get("time_to_recover")
        if r.get("recovery_claimed") and isinstance(seconds, (int, float)) and math.isfinite(seconds):
            times.setdefault(r.get("strategy") or "(unnamed)", []).append(float(seconds))
    return {name: sorted(values) for name, values in sorted(times.items())}


def _quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    if len(values) < 2:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def mttr_chart(records: Sequence[Mapping[str, Any]]) -> str:
    """The report section: a row per winning strategy, its box (quartiles, median) and a dot per recovery."""
    samples = mttr_samples(records)
    if not samples:
        return "<section><h2>MTTR per recovery strategy</h2><p>No recovery was claimed.</p></section>"
    label_w, plot_w, row_h, top_pad = 190, 760, 34, 10
    height = top_pad + row_h * len(samples) + 26
    width = label_w + plot_w + 190
    axis = SecondsAxis.fit([v for values in samples.values() for v in values])

    def x(seconds: float) -> float:
        return label_w + plot_w * axis.position(seconds)

    out = [
        f'<svg role=img aria-label="MTTR per strategy" width="100%" height={height} viewBox="0 0 {width} {height}" '
        'preserveAspectRatio="xMinYMin meet">'
    ]
    for value in axis.ticks():  # grid and axis labels
        gx = x(value)
        out.append(f'<line x1="{gx:.1f}" y1="{top_pad}" x2="{gx:.1f}" y2="{height - 22}" stroke="#eaeef2"/>')
        out.append(f'<text x="{gx:.1f}" y="{height - 8}" text-anchor="middle">{_e(_tick_label(value))}</text>')
    for row, (name, values) in enumerate(samples.items()):
        cy = top_pad + row_h * row + row_h / 2
        out.append(f'<text x="{label_w - 8}" y="{cy + 4:.1f}" text-anchor="end">{_e(_cut(name, 24))}</text>')
        q1, q2, q3 = _quartiles(values)
        out.append(
            f'<line x1="{x(values[0]):.1f}" y1="{cy:.1f}" x2="{x(values[-1]):.1f}" y2="{cy:.1f}" stroke="#8c959f"/>'
        )
        out.append(
            f'<rect x="{x(q1):.1f}" y="{cy - 9:.1f}" width="{max(x(q3) - x(q1), 1.5):.1f}" height="18" '
            'fill="#ddf4ff" stroke="#0969da"/>'
        )
        out.append(
            f'<line x1="{x(q2):.1f}" y1="{cy - 9:.1f}" x2="{x(q2):.1f}" y2="{cy + 9:.1f}" stroke="#0550ae" '
            'stroke-width="2"/>'
        )
        for j, value in enumerate(values):
            jitter = ((j * 7919) % 13 - 6) * 0.9  # deterministic spread, so equal times stay visible
            out.append(
                f'<circle cx="{x(value):.1f}" cy="{cy + jitter:.1f}" r="2.5" fill="#0969da" fill-opacity=".55"/>'
            )
        out.append(
            f'<text x="{label_w + plot_w + 8}" y="{cy + 4:.1f}">n={len(values)}, median {_e(format_seconds(q2))}</text>'
        )
    out.append("</svg>")
    return (
        "<section><h2>MTTR per recovery strategy</h2>"
        "<p class=legend>One dot per recovery the manager claimed; the box spans the middle half (quartiles), the "
        "thick line is the median, the whisker runs from the fastest to the slowest"
        + (" (logarithmic time axis)." if axis.log else ".")
        + "</p>"
        + "".join(out)
        + "</section>"
    )


@dataclass(frozen=True)
class SecondsAxis:
    """The time axis: linear from 0, or logarithmic when the times span more than ``LOG_SPAN`` (a 50 ms restore
    and a 10 s rerun both stay readable)."""

    low: float
    high: float
    log: bool

    LOG_SPAN = 30.0

    @classmethod
    def fit(cls, values: Sequence[float]) -> SecondsAxis:
        positive = [v for v in values if v > 0]
        top = max(values, default=0.0)
        if positive and top / min(positive) > cls.LOG_SPAN:
            low = math.floor(math.log10(min(positive)) + 0.05)  # a time just past a decade is drawn at its edge
            return cls(10.0**low, 10.0 ** math.ceil(math.log10(top) - 0.05), True)
        return cls(0.0, _nice_ceiling(top), False)

    def position(self, seconds: float) -> float:
        """Where ``seconds`` falls, from 0 (left) to 1 (right)."""
        if self.log:
            value = min(max(seconds, self.low), self.high)
            return math.log10(value / self.low) / math.log10(self.high / self.low)
        return min(max(seconds, 0.0), self.high) / self.high

    def ticks(self) -> list[float]:
        if not self.log:
            return [self.high * i / 5 for i in range(6)]
        decades = round(math.log10(self.high / self.low))
        return [self.low * 10**i for i in range(decades + 1)]


def _tick_label(seconds: float) -> str:
    if seconds and seconds < 1:
        return f"{seconds * 1000:g} ms"
    return f"{seconds:g} s"


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^k that is at least ``value``."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if step * power >= value * (1 - 1e-9):
            return float(step * power)
    return float(10 * power)


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def metric_bar(drop: float | None, warn: float, fail: float) -> str:
    """A small SVG bar: the metric's drop against the warn and fail thresholds (dashed lines)."""
    width, height = 64, 12
    full = max(fail * 2, 1e-9)

    def px(value: float) -> float:
        return width * min(max(value, 0.0), full) / full

    if drop is None:
        color, bar = COLORS["critical"], float(width)
    else:
        color = COLORS["repaired"] if drop <= warn else COLORS["degraded"] if drop <= fail else COLORS["critical"]
        bar = max(px(drop), 1.0 if drop > 0 else 0.0)
    return (
        f'<svg width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
        f'<rect width="{width}" height="{height}" fill="#f6f8fa"/>'
        f'<rect width="{bar:.1f}" height="{height}" fill="{color}"/>'
        f'<line x1="{px(warn):.1f}" x2="{px(warn):.1f}" y2="{height}" stroke="#9a6700" stroke-dasharray="2,2"/>'
        f'<line x1="{px(fail):.1f}" x2="{px(fail):.1f}" y2="{height}" stroke="#cf222e" stroke-dasharray="2,2"/>'
        "</svg>"
    )
