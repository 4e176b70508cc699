"""Shared pieces of the benchmark: figures, their statistics, the table, and timed subprocesses."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

REPO = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
PYTHON = sys.executable


@dataclass
class Figure:
    """One measured quantity: its samples, and the target it is held to (``<= target`` unless ``at_least``)."""

    group: str
    name: str
    samples: list[float]
    unit: str = "s"
    target: float | None = None
    at_least: bool = False
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def median(self) -> float:
        return statistics.median(self.samples) if self.samples else float("nan")

    @property
    def holds(self) -> bool | None:
        if self.target is None or not self.samples:
            return None
        return self.median >= self.target if self.at_least else self.median <= self.target

    def to_json(self) -> dict[str, Any]:
        samples = [x for x in self.samples if x == x]  # NaN (a missing mark) is not JSON
        return {"group": self.group, "name": self.name, "unit": self.unit, "samples": samples,
                "median": statistics.median(samples) if samples else None,
                "min": min(samples) if samples else None,
                "max": max(samples) if samples else None,
                "target": self.target, "at_least": self.at_least, "holds": self.holds,
                "note": self.note, **({"extra": self.extra} if self.extra else {})}


def fmt(value: float, unit: str) -> str:
    if value != value:  # nan
        return "-"
    if unit == "s":
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "MB":
        return f"{value:.0f} MB"
    if unit == "n":
        return f"{value:.0f}"
    return f"{value:.3g} {unit}"


def table(figures: Sequence[Figure]) -> str:
    """The result table: figure, median, min/max, target, ratio to target, HOLDS/MISSES."""
    header = f"{'figure':62} {'median':>9} {'min / max':>19} {'target':>10} {'ratio':>6}  verdict"
    lines = [header, "-" * len(header)]
    group = None
    for f in figures:
        if f.group != group:
            group = f.group
            lines.append(f"[{group}]")
        if f.samples:
            spread = f"{fmt(min(f.samples), f.unit)} / {fmt(max(f.samples), f.unit)}"
            med = fmt(f.median, f.unit)
        else:
            spread, med = "", "-"
        target = ("" if f.target is None else (">= " if f.at_least else "<= ") + fmt(f.target, f.unit))
        ratio = f"{f.median / f.target:.2f}" if f.target and f.samples else ""
        verdict = {True: "HOLDS", False: "MISSES", None: ""}[f.holds]
        lines.append(f"  {f.name[:60]:60} {med:>9} {spread:>19} {target:>10} {ratio:>6}  {verdict}")
        if f.note:
            lines.append(f"      {f.note}")
    return "\n".join(lines)


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for timed subprocesses: without PYTHONDONTWRITEBYTECODE (see README), DVC quiet."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.setdefault("DVC_NO_ANALYTICS", "1")
    env.update(extra)
    return env


def run_timed(args: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
              check: bool = True, timeout: float = 900) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Wall seconds of one subprocess (from spawn to exit) and its result; raises with its output if it failed."""
    start = time.perf_counter()
    proc = subprocess.run(list(args), cwd=cwd, env=env or clean_env(), capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - start
    if check and proc.returncode != 0:
        tail = (proc.stdout[-2000:] + "\n" + proc.stderr[-2000:]).strip()
        raise RuntimeError(f"{' '.join(args)} exited {proc.returncode}:\n{tail}")
    return seconds, proc


def repeat(fn: Callable[[], float], n: int, warmup: int = 1) -> list[float]:
    """``warmup`` untimed calls, then ``n`` samples of ``fn()`` (which returns the seconds it measured)."""
    for _ in range(warmup):
        fn()
    return [fn() for _ in range(n)]


def log(message: str) -> None:
    print(f"  .. {message}", file=sys.stderr, flush=True)
