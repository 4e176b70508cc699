"""The resilience report: JSON (schema ``mlchaos-report/2``), Markdown, HTML and terminal lines.

The plugin builds one report on the controller (``document.build_report``), lets plugins extend
it through the ``pytest_mlchaos_report`` hook, then renders (``render``, ``html``) and writes it
(``files``). No pytest import. The schema is documented in ``docs/report-schema.md`` and
``docs/mlchaos-report-2.schema.json``.

The names below are public, for tools that read reports; the submodules are internal.
"""

from .compare import compare
from .document import SCHEMA, comparable, resilience_score
from .html import render_html
from .load import ReportFileError, load_report
from .merge import MergeError, merge_reports
from .render import render_markdown

__all__ = [
    "SCHEMA",
    "MergeError",
    "ReportFileError",
    "comparable",
    "compare",
    "load_report",
    "merge_reports",
    "render_html",
    "render_markdown",
    "resilience_score",
]
