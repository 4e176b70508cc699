"""Tables the value-level data modes edit, whatever their file format: one interface, three formats.

``read_table`` opens delimited text (``_csvtable.CsvTable``: CSV/TSV, header or not, records kept
as text), JSON Lines (``JsonlTable``: untouched lines written back byte for byte) or Parquet
(``ParquetTable``: pyarrow, imported only here and only when a Parquet file is read). Each writes
back in its own format. Injectors see rows as lists of cells, columns by position, and
``blank`` as the missing value (``""`` in text, ``null`` in JSON Lines and Parquet).

Which column is the label, and which are ids, is decided here once for every format:

- ``label`` given: a header name, else a 0-based column index (``'0'``, ``'-1'`` for the last).
  A headerless table has no names: only an index names its label.
- ``label`` not given: the column named ``churn`` if the header has one, else the last column.
- id-like columns (never blanked or noised, never the column drift picks by itself): a name such
  as ``id``, ``index``, ``key``, ``uuid``, ``*_id``, ``customerId``; or, in any table, values that are
  all distinct in the sample and either words (``C00017``) or integers that only increase
  (a row number).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from ._formats import DataFormat
from .spec import IncidentError

__all__ = ["ABSENT", "DEFAULT_LABEL", "JsonlTable", "ParquetTable", "SAMPLE_ROWS", "Table", "read_table"]

DEFAULT_LABEL = "churn"
SAMPLE_ROWS = 500  # rows sampled to type the columns and estimate their spread (enough for a std within a few %)
_ID_NAMES = {"id", "index", "key", "uuid", "guid", "rowid", "row_id", "unnamed: 0", ""}
_ID_NAME = re.compile(r"(?:^|[_\-\s.])id$|[a-z0-9]I[dD]$|^__index_level_\d+__$", re.IGNORECASE)


class _Absent:
    """A key a JSON Lines row does not have (missing, like ``null``, but written back as absent)."""

    def __repr__(self) -> str:
        return "<absent>"


ABSENT: Any = _Absent()


class Table:
    """Rows of cells by position; subclasses keep their file's format and write it back with ``to_bytes``."""

    path: Path
    header: list[str] | None
    blank: ClassVar[Any] = None
    typed: ClassVar[bool] = True  # cells hold numbers and None (JSON Lines, Parquet), not text

    # -- the format's primitives ---------------------------------------------------------
    @property
    def n_rows(self) -> int:
        raise NotImplementedError

    @property
    def width(self) -> int:
        return len(self.header or ())

    def fields(self, i: int) -> list[Any]:
        raise NotImplementedError

    def set_fields(self, i: int, fields: list[Any], *, plain: bool = False) -> None:
        raise NotImplementedError

    def column_values(self, col: int) -> list[Any]:
        return [self.fields(i)[col] for i in range(self.n_rows)]

    def replace_column(self, col: int, values: list[Any]) -> None:
        raise NotImplementedError

    def rearrange(self, order: list[int]) -> None:
        """Keep the columns in ``order`` (drops the others), header included."""
        raise NotImplementedError

    def rename(self, col: int, name: str) -> None:
        raise NotImplementedError

    def duplicate(self, chosen: set[int]) -> None:
        """Write each chosen row twice, the copy right after the original."""
        raise NotImplementedError

    def keep_first(self, k: int) -> None:
        raise NotImplementedError

    def to_bytes(self) -> bytes:
        raise NotImplementedError

    # -- cells ------------------------------------------------------------------------------
    def is_blank(self, value: Any) -> bool:
        return value is None or value is ABSENT

    def number(self, value: Any) -> float | None:
        """The cell as a float, or None when it is not a number."""
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        return float(value)

    def is_int(self, value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    def decimals(self, value: Any) -> int:
        """Decimals a number is written with (0: keep full precision)."""
        return 0

    def number_writer(self, is_int: bool, decimals: int) -> Callable[[float], Any]:
        """How a column stores a new number: integers stay integers, decimals keep their count."""
        if is_int:
            return round
        if decimals:
            return lambda value: round(value, decimals)
        return float

    def cell_text(self, value: Any) -> str:
        return value if isinstance(value, str) else json.dumps(value) if not isinstance(value, float) else repr(value)

    def code(self, k: int) -> Any:
        """Category code ``k`` as this format stores an integer."""
        return k

    # -- columns ----------------------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return list(self.header) if self.header is not None else [str(c) for c in range(self.width)]

    def col_name(self, col: int) -> str:
        return repr(self.header[col]) if self.header is not None else f"column {col}"

    def column(self, value: str, where: str, param: str = "column") -> int:
        """The column ``value`` names: a header name, else a 0-based index (negative counts from the end)."""
        if self.header is not None and value in self.header:
            return self.header.index(value)
        index = _as_index(value)
        if index is not None and -self.width <= index < self.width:
            return index % self.width
        last = self.width - 1
        if self.header is not None:
            raise IncidentError(
                f"{where}: parameter {param}={value!r} is not a column of {self.path.name}; "
                f"columns: {', '.join(self.header)} (or an index '0' to '{last}')"
            )
        raise IncidentError(
            f"{where}: parameter {param}={value!r} cannot name a column of {self.path.name}: it has no "
            f"header row; give a 0-based column index, '0' to '{last}' ('-1' for the last)"
        )

    def label_column(self, label: str | None, where: str) -> int:
        """The label: ``label`` as a name or index; by default ``churn`` when the header has it, else the last
        column."""
        if label is not None:
            return self.column(label, where, "label")
        if self.header is not None and DEFAULT_LABEL in self.header:
            return self.header.index(DEFAULT_LABEL)
        return self.width - 1

    def sample_rows(self) -> list[int]:
        n = self.n_rows
        return list(range(0, n, max(1, n // SAMPLE_ROWS)))

    def _sample(self) -> dict[int, list[Any]]:
        """Each column's present (non-blank) cells in an even sample of rows, as the table was read (taken once:
        the injectors look at a table before they edit it)."""
        cached: dict[int, list[Any]] | None = getattr(self, "_sampled", None)
        if cached is None:
            cached = self._sampled = self._take_sample()
        return cached

    def _take_sample(self) -> dict[int, list[Any]]:
        width = self.width
        values: dict[int, list[Any]] = {c: [] for c in range(width)}
        for i in self.sample_rows():
            for c, v in enumerate(self.fields(i)[:width]):
                if not self.is_blank(v):
                    values[c].append(v)
        return values

    def numeric_columns(self) -> dict[int, tuple[bool, int, float]]:
        """Numeric columns by index: (is_int, decimals, std) from an even sample of rows."""
        result: dict[int, tuple[bool, int, float]] = {}
        for c, present in self._sample().items():
            nums = [self.number(v) for v in present]
            if not nums or any(x is None or not math.isfinite(x) for x in nums):
                continue
            xs = [x for x in nums if x is not None]
            mean = sum(xs) / len(xs)
            std = math.sqrt(sum((x - mean) ** 2 for x in xs) / len(xs)) if len(xs) > 1 else 0.0
            decimals = max((self.decimals(v) for v in present), default=0)
            result[c] = (all(self.is_int(v) for v in present), decimals, std or 1.0)
        return result

    def id_like_columns(self) -> set[int]:
        """Columns that identify rows rather than describe them (see the module docstring)."""
        ids = {c for c, name in enumerate(self.header or ()) if _id_name(name)}
        for c, present in self._sample().items():
            if c not in ids and self._id_values(present):
                ids.add(c)
        return ids

    def _id_values(self, values: list[Any]) -> bool:
        if (
            len(values) < 3
            or not all(isinstance(v, (str, int, float)) for v in values)
            or len(set(values)) < len(values)
        ):
            return False
        if all(self.is_int(v) for v in values):  # integers that only increase (stops at the first non-integer)
            nums = [self.number(v) for v in values]
            return all(a is not None and b is not None and a < b for a, b in zip(nums, nums[1:]))
        return all(isinstance(v, str) and self.number(v) is None for v in values)  # words (stops at a number)

    def feature_columns(self, label: int | None) -> list[int]:
        """Every column but the label and the id-like ones."""
        ids = self.id_like_columns()
        return [c for c in range(self.width) if c != label and c not in ids]


def _id_name(name: str) -> bool:
    return name.strip().lower() in _ID_NAMES or bool(_ID_NAME.search(name.strip()))


def _as_index(value: str) -> int | None:
    text = value.strip()
    return int(text) if re.fullmatch(r"-?\d+", text) else None


def read_table(path: Path, where: str, fmt: DataFormat) -> Table:
    """The table in ``path`` as sniffed (``fmt.is_table``); IncidentError when its content does not read as that."""
    if fmt.name in ("csv", "tsv"):
        from ._csvtable import CsvTable

        return CsvTable.read(path, where, fmt)
    if fmt.name == "jsonl":
        return JsonlTable.read(path, where)
    if fmt.name == "parquet":
        return ParquetTable.read(path, where)
    raise IncidentError(f"{where}: {path.name} is {fmt.describe()}, not a table")


# -- JSON Lines ----------------------------------------------------------------------------------
@dataclass
class JsonlTable(Table):
    """One JSON object a line; the columns are the keys in order of first appearance.

    Only rows that change are serialised again (with the file's own separators); every other
    line is written back exactly as it was read.
    """

    path: Path
    header: list[str]
    lines: list[str]
    rows: list[dict[str, Any]]
    newline: str = "\n"
    final_newline: bool = True
    separators: tuple[str, str] = (", ", ": ")
    ensure_ascii: bool = True

    @classmethod
    def read(cls, path: Path, where: str) -> JsonlTable:
        try:
            text = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise IncidentError(f"{where}: {path.name} is not UTF-8 text, so not JSON Lines ({exc})") from None
        newline = "\r\n" if "\r\n" in text[:65536] else "\n"
        lines = text.split(newline)
        final_newline = lines[-1] == ""
        while lines and lines[-1] == "":
            lines.pop()
        rows = [_json_object(line, n, path, where) for n, line in enumerate(lines, 1)]
        header = list(dict.fromkeys(k for row in rows for k in row))
        compact = bool(rows) and json.dumps(rows[0], separators=(",", ":"), ensure_ascii=False) == lines[0]
        return cls(
            path,
            header,
            lines,
            rows,
            newline,
            final_newline,
            (",", ":") if compact else (", ", ": "),
            ensure_ascii=all(line.isascii() for line in lines[:100]),
        )

    @property
    def n_rows(self) -> int:
        return len(self.rows)

    def decimals(self, value: Any) -> int:
        text = repr(value) if isinstance(value, float) else ""
        return len(text.split(".", 1)[1]) if "." in text and "e" not in text else 0

    def fields(self, i: int) -> list[Any]:
        row = self.rows[i]
        return [row.get(k, ABSENT) for k in self.header]

    def set_fields(self, i: int, fields: list[Any], *, plain: bool = False) -> None:
        row = self.rows[i]
        for name, value in zip(self.header, fields):
            if value is not ABSENT:
                row[name] = value
        self._dump(i)

    def column_values(self, col: int) -> list[Any]:
        name = self.header[col]
        return [row.get(name, ABSENT) for row in self.rows]

    def replace_column(self, col: int, values: list[Any]) -> None:
        name = self.header[col]
        for i, value in enumerate(values):
            if value is not ABSENT:
                self.rows[i][name] = value
                self._dump(i)

    def rearrange(self, order: list[int]) -> None:
        names = [self.header[c] for c in order]
        self.rows = [{k: row[k] for k in names if k in row} for row in self.rows]
        self.header = names
        self.lines = [self._text(row) for row in self.rows]

    def rename(self, col: int, name: str) -> None:
        old = self.header[col]
        self.rows = [{(name if k == old else k): v for k, v in row.items()} for row in self.rows]
        self.header[col] = name
        self.lines = [self._text(row) for row in self.rows]

    def duplicate(self, chosen: set[int]) -> None:
        order = [j for i in range(self.n_rows) for j in ((i, i) if i in chosen else (i,))]
        self.lines = [self.lines[j] for j in order]
        self.rows = [self.rows[j] for j in order]

    def keep_first(self, k: int) -> None:
        self.lines, self.rows = self.lines[:k], self.rows[:k]

    def to_bytes(self) -> bytes:
        return self.newline.join([*self.lines, ""] if self.final_newline else self.lines).encode("utf-8")

    def _text(self, row: dict[str, Any]) -> str:
        return json.dumps(row, separators=self.separators, ensure_ascii=self.ensure_ascii)

    def _dump(self, i: int) -> None:
        self.lines[i] = self._text(self.rows[i])


def _json_object(line: str, n: int, path: Path, where: str) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except ValueError as exc:
        raise IncidentError(
            f"{where}: line {n} of {path.name} is not JSON ({exc}); JSON Lines holds one object a line"
        ) from None
    if not isinstance(obj, dict):
        raise IncidentError(
            f"{where}: line {n} of {path.name} holds a {type(obj).__name__}, not an object; "
            "JSON Lines holds one object a line"
        )
    return obj


# -- Parquet -------------------------------------------------------------------------------------
@dataclass
class ParquetTable(Table):
    """A Parquet file as Python columns; written back with its schema (changed only where a column was retyped),
    its metadata and its compression codec."""

    path: Path
    header: list[str]
    columns: list[list[Any]]
    schema: Any  # pyarrow.Schema as read
    sources: list[str] = field(default_factory=list)  # each column's name in ``schema``
    retyped: set[str] = field(default_factory=set)
    compression: str = "snappy"
    rows: int = 0

    @classmethod
    def read(cls, path: Path, where: str) -> ParquetTable:
        try:
            import pyarrow.parquet as pq
        except ImportError:
            raise IncidentError(
                f"{where}: {path.name} is Parquet, and editing Parquet needs pyarrow (pip install pyarrow)"
            ) from None
        try:
            parquet = pq.ParquetFile(path)
            table = parquet.read()
        except Exception as exc:  # pyarrow raises its own ArrowInvalid, OSError...
            raise IncidentError(
                f"{where}: {path.name} does not read as Parquet ({type(exc).__name__}: {exc})"
            ) from None
        meta = parquet.metadata
        codec = meta.row_group(0).column(0).compression if meta.num_row_groups and meta.num_columns else "SNAPPY"
        return cls(
            path,
            list(table.column_names),
            [table.column(i).to_pylist() for i in range(table.num_columns)],
            table.schema,
            list(table.column_names),
            compression=codec.lower(),
            rows=table.num_rows,
        )

    @property
    def n_rows(self) -> int:
        return len(self.columns[0]) if self.columns else self.rows

    def fields(self, i: int) -> list[Any]:
        return [col[i] for col in self.columns]

    def set_fields(self, i: int, fields: list[Any], *, plain: bool = False) -> None:
        for col, value in zip(self.columns, fields):
            col[i] = value

    def column_values(self, col: int) -> list[Any]:
        return list(self.columns[col])

    def replace_column(self, col: int, values: list[Any]) -> None:
        self.columns[col] = list(values)
        self.retyped.add(self.sources[col])

    def rearrange(self, order: list[int]) -> None:
        self.columns = [self.columns[c] for c in order]
        self.header = [self.header[c] for c in order]
        self.sources = [self.sources[c] for c in order]

    def rename(self, col: int, name: str) -> None:
        self.header[col] = name

    def duplicate(self, chosen: set[int]) -> None:
        order = [j for i in range(self.n_rows) for j in ((i, i) if i in chosen else (i,))]
        self.columns = [[col[j] for j in order] for col in self.columns]

    def keep_first(self, k: int) -> None:
        self.columns = [col[:k] for col in self.columns]

    def to_bytes(self) -> bytes:
        import pyarrow as pa
        import pyarrow.parquet as pq

        arrays, fields = [], []
        for name, source, values in zip(self.header, self.sources, self.columns):
            if source in self.retyped:
                array = pa.array(values)
                fields.append(pa.field(name, array.type))
            else:
                original = self.schema.field(source)
                array = pa.array(values, type=original.type)
                fields.append(original.with_name(name))
            arrays.append(array)
        schema = pa.schema(fields, metadata=self._metadata())
        sink = pa.BufferOutputStream()
        pq.write_table(pa.Table.from_arrays(arrays, schema=schema), sink, compression=self.compression)
        return bytes(sink.getvalue().to_pybytes())

    def _metadata(self) -> dict[bytes, bytes] | None:
        """The schema's metadata, with pandas' column list following drops, renames and retyped columns."""
        meta = dict(self.schema.metadata or {})
        if b"pandas" not in meta or (
            self.sources == list(self.schema.names) and self.header == self.sources and not self.retyped
        ):
            return meta or None
        pandas_meta = json.loads(meta[b"pandas"])
        names = dict(zip(self.sources, self.header))
        kept = []
        for entry in pandas_meta.get("columns", []):
            source = entry.get("field_name", entry.get("name"))
            if source in self.retyped:
                continue
            if source in names:
                entry = {**entry, "name": names[source], "field_name": names[source]}
                kept.append(entry)
            elif source in pandas_meta.get("index_columns", []):
                kept.append(entry)
        pandas_meta["columns"] = kept
        meta[b"pandas"] = json.dumps(pandas_meta).encode()
        return meta
