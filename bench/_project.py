"""Optional (``--only project``): the reference project's own figures from ``bench/project_speed.py``, run as is.

That script is another engineer's; it is run as a subprocess once and its table is parsed, not duplicated.
"""

from __future__ import annotations

import re

from _common import BENCH, PYTHON, Figure, clean_env, log, run_timed

GROUP = "7. reference project (bench/project_speed.py, one run)"
LINE = re.compile(r"^(?P<name>\S.*?|\s+\S.*?)\s+(?P<seconds>\d+\.\d+)(?:\s+(?P<target>\d+(?:\.\d+)?)\s+(?P<ratio>\d+\.\d+))?\s*$")


def run() -> list[Figure]:
    log("project: bench/project_speed.py (mlops init, restores, rollback)")
    _, proc = run_timed([PYTHON, str(BENCH / "project_speed.py")], env=clean_env(), timeout=600)
    lines = proc.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("operation"))
    figures = []
    for line in lines[start + 1:]:
        m = LINE.match(line)
        if not m:
            continue
        target = float(m["target"]) if m["target"] else None
        figures.append(Figure(GROUP, m["name"].rstrip(), [float(m["seconds"])], target=target))
    return figures
