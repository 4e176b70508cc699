"""``mlchaos``: report files on the command line (merge CI shards, the ratchet offline, render).

    mlchaos merge OUT.json IN.json...
    mlchaos compare PREVIOUS.json CURRENT.json [--report OUT.json] [--markdown PATH] [--html PATH]
    mlchaos render REPORT.json [--html PATH] [--markdown PATH]

Exit status: 0 ok, 1 the ratchet failed (``compare``), 2 bad input (a missing, malformed or foreign file,
reports that are not shards of one run): one line on stderr naming the file, and nothing written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .report.compare import DEFAULT_MTTR_TOLERANCE, compare, comparison_lines, parse_tolerance
from .report.files import ReportPathError, check_writable, write_html, write_json, write_markdown
from .report.load import ReportFileError, load_report
from .report.merge import MergeError, merge_reports
from .report.render import terminal_lines

__all__ = ["BAD_INPUT", "main"]

BAD_INPUT = 2


class _Stop(Exception):
    """A one-line error for stderr, exit status 2."""


def _tolerance(value: str) -> tuple[float, float]:
    try:
        return parse_tolerance(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlchaos", description="Merge, compare and render pytest-mlchaos reports (schema mlchaos-report/2)."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    merge = commands.add_parser("merge", help="Merge shard reports into one, with the score recomputed")
    merge.add_argument("out", metavar="OUT.json", help="the merged report to write")
    merge.add_argument("inputs", metavar="IN.json", nargs="+", help="shard reports of one run")
    comp = commands.add_parser("compare", help="The ratchet: exit 1 when CURRENT is worse than PREVIOUS")
    comp.add_argument("previous", metavar="PREVIOUS.json")
    comp.add_argument("current", metavar="CURRENT.json")
    comp.add_argument(
        "--mttr-tolerance",
        type=_tolerance,
        default=DEFAULT_MTTR_TOLERANCE,
        metavar="RELATIVE,SECONDS",
        help="list an MTTR that grew by more than both (default 0.5,0.5: +50%% and +0.5 s)",
    )
    comp.add_argument("--report", metavar="OUT.json", help="write CURRENT with the comparison added")
    comp.add_argument("--markdown", metavar="PATH", help="write the Markdown summary with the comparison")
    comp.add_argument("--html", metavar="PATH", help="write the HTML page with the comparison")
    render = commands.add_parser("render", help="Render a report as HTML and/or Markdown")
    render.add_argument("report", metavar="REPORT.json")
    render.add_argument("--html", metavar="PATH", help="write the self-contained HTML page")
    render.add_argument("--markdown", metavar="PATH", help="write the Markdown summary")
    return parser


def _load(path: str) -> dict[str, Any]:
    try:
        return load_report(path)
    except ReportFileError as exc:
        raise _Stop(str(exc)) from None


def _writers(
    args: argparse.Namespace, *pairs: tuple[str, Callable[..., Path]]
) -> list[tuple[str, Callable[..., Path]]]:
    """The (path, writer) pairs asked for, each checked writable before anything is written."""
    chosen = [(getattr(args, name), write) for name, write in pairs if getattr(args, name, None)]
    for path, _ in chosen:
        try:
            check_writable(path, path)
        except ReportPathError as exc:
            raise _Stop(str(exc)) from None
    return chosen


def _merge(args: argparse.Namespace) -> int:
    reports = [(path, _load(path)) for path in args.inputs]
    try:
        merged = merge_reports(reports)
    except MergeError as exc:
        raise _Stop(str(exc)) from None
    [(path, write)] = _writers(args, ("out", write_json))
    write(merged, path)
    summary = merged["summary"]
    print(f"mlchaos merge: {path}: {len(reports)} reports, {summary['total']} incident tests, score {summary['score']}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    previous, current = _load(args.previous), _load(args.current)
    writers = _writers(args, ("report", write_json), ("markdown", write_markdown), ("html", write_html))
    comparison = compare(previous, current, tolerance=args.mttr_tolerance, previous_name=args.previous)
    current["comparison"] = comparison
    for line in comparison_lines(comparison):
        print(line)
    for path, write in writers:
        write(current, path)
        print(f"mlchaos compare: wrote {path}")
    return 1 if comparison["failed"] else 0


def _render(args: argparse.Namespace) -> int:
    if not (args.html or args.markdown):
        raise _Stop("render: nothing to write; give --html PATH and/or --markdown PATH")
    report = _load(args.report)
    for path, write in _writers(args, ("html", write_html), ("markdown", write_markdown)):
        write(report, path)
        print(f"mlchaos render: wrote {path}")
    for line in terminal_lines(report):
        print(line)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """The ``mlchaos`` console script."""
    args = _parser().parse_args(argv)
    command = {"merge": _merge, "compare": _compare, "render": _render}[args.command]
    try:
        return command(args)
    except _Stop as exc:
        print(f"mlchaos {args.command}: error: {exc}", file=sys.stderr)
        return BAD_INPUT


if __name__ == "__main__":
    sys.exit(main())
