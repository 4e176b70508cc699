"""What the build learned about an environment, kept in it (committed to its git) so that a cached
baseline and each of its clones know it without rebuilding: outs that a second run wrote differently,
the stages left out, and what the stages left in MLflow."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["FACTS_FILE", "Facts"]

FACTS_FILE = ".dvc/mlchaos.json"


@dataclass(frozen=True)
class Facts:
    learned_volatile: tuple[str, ...] = ()
    skipped_stages: tuple[str, ...] = ()
    mlflow: dict[str, Any] = field(default_factory=dict)
    listings: dict[str, list[list[str]]] = field(default_factory=dict)  # directory out -> [relpath, md5] at baseline
    # metrics stage runs of the build: key of (command, md5 of every dep) -> metrics per file, as DVC's run cache
    runs: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)

    def write(self, root: Path) -> None:
        path = Path(root) / FACTS_FILE
        path.write_text(json.dumps(asdict(self), indent=1, sort_keys=True) + "\n")

    @classmethod
    def parse(cls, text: str | bytes) -> Facts:
        """Facts from their JSON (empty ones for text that is not: an environment built before they were kept)."""
        try:
            data = json.loads(text)
        except ValueError:
            return cls()
        if not isinstance(data, dict):
            return cls()
        return cls(
            tuple(data.get("learned_volatile", ())),
            tuple(data.get("skipped_stages", ())),
            dict(data.get("mlflow") or {}),
            dict(data.get("listings") or {}),
            dict(data.get("runs") or {}),
        )
