"""``--mlchaos-shard=I/N``: which incident tests a CI shard runs. Pure functions; no pytest import.

Every shard of one CI run collects the same tests and computes the same split, so each incident test runs in
exactly one shard. The split never depends on collection order: tests are ordered by a hash of their node id.
With durations from a previous report, tests are placed longest first onto the shard with the least work so far
(unknown tests count as the median); without, each test counts the same, which spreads them evenly.
"""

from __future__ import annotations

import hashlib
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["durations_from_report", "select", "split"]


def _hash(nodeid: str) -> int:
    return int.from_bytes(hashlib.sha256(nodeid.encode()).digest()[:8], "big")


def durations_from_report(report: Mapping[str, Any]) -> dict[str, float]:
    """Seconds per incident test from a report: ``time_to_metrics`` (recovery and re-evaluation), else
    ``time_to_recover``; tests with neither are left out (they count as the median)."""
    durations = {}
    for record in report.get("incidents", ()):
        for key in ("time_to_metrics", "time_to_recover"):
            value = record.get(key)
            if isinstance(value, (int, float)) and math.isfinite(value) and value >= 0:
                durations[str(record["nodeid"])] = float(value)
                break
    return durations


def split(nodeids: Iterable[str], count: int, durations: Mapping[str, float] | None = None) -> list[list[str]]:
    """The ``count`` shards (0-based list) of ``nodeids``, each in hash order."""
    ids = sorted(set(nodeids), key=lambda n: (_hash(n), n))
    known = [durations[n] for n in ids if durations and n in durations]
    default = statistics.median(known) if known else 1.0
    weight = {n: (durations.get(n, default) if durations else 1.0) for n in ids}
    shards: list[list[str]] = [[] for _ in range(count)]
    load = [0.0] * count
    for nodeid in sorted(ids, key=lambda n: -weight[n]):  # stable: equal weights keep hash order
        lightest = min(range(count), key=lambda i: (load[i], len(shards[i]), i))
        shards[lightest].append(nodeid)
        load[lightest] += weight[nodeid]
    return [sorted(shard, key=lambda n: (_hash(n), n)) for shard in shards]


def select(
    nodeids: Sequence[str], shard: tuple[int, int], durations: Mapping[str, float] | None = None
) -> frozenset[str]:
    """The node ids shard ``I/N`` (1-based ``I``) runs."""
    index, count = shard
    return frozenset(split(nodeids, count, durations)[index - 1])
