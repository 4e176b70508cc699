"""Value-level data modes on every table format (CSV/TSV with or without a header, Parquet, JSON Lines), refusals
of everything else, and directory targets. Real files written in ``tmp_path``, read back with real readers."""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
from pathlib import Path
from typing import Any

import pytest

from pytest_mlchaos.artifacts import Artifacts
from pytest_mlchaos.incidents import Incident, IncidentError, inject
from pytest_mlchaos.incidents._formats import sniff

COLUMNS = ["customer_id", "tenure", "monthly_charges", "contract", "churn"]
ROWS = 400
VALUE_MODES = ["noise", "missing_values", "duplicates", "label_flip", "schema_drift"]


def churn_rows(n: int = ROWS, seed: int = 3) -> list[list[Any]]:
    rng = random.Random(seed)
    return [[f"C{i:05d}", rng.randint(0, 72), round(rng.uniform(18, 120), 2), rng.choice(["month", "year", "two_year"]),
             rng.randint(0, 1)] for i in range(n)]


def write_delimited(path: Path, rows: list[list[Any]], delimiter: str = ",", header: bool = True,
                    newline: str = "\n", final_newline: bool = True) -> None:
    lines = ([delimiter.join(COLUMNS)] if header else []) + [delimiter.join(str(v) for v in row) for row in rows]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes((newline.join(lines) + (newline if final_newline else "")).encode())


def write_parquet(path: Path, rows: list[list[Any]], compression: str = "zstd") -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = list(zip(*rows))
    types = [pa.string(), pa.int64(), pa.float64(), pa.string(), pa.int64()]
    table = pa.table({name: pa.array(col, type=t) for name, col, t in zip(COLUMNS, columns, types)})
    pq.write_table(table, path, compression=compression)


def write_jsonl(path: Path, rows: list[list[Any]]) -> None:
    path.write_text("".join(json.dumps(dict(zip(COLUMNS, row))) + "\n" for row in rows))


def run(root: Path, rel: str, mode: str, seed: int = 1, dry_run: bool = False, **params: Any):
    return inject(root, Incident("data_corruption", mode, params, seed=seed), artifacts=Artifacts(data=(rel,)), dry_run=dry_run)


def read_tsv(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text()), delimiter="\t"))


def read_parquet(path: Path) -> Any:
    import pyarrow.parquet as pq

    return pq.read_table(path)


# -- sniffing -------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("delimiter", "header", "name"), [
    (",", True, "csv"), (",", False, "csv"), ("\t", True, "tsv"), ("\t", False, "tsv"), (";", False, "csv"), ("|", True, "csv"),
])
def test_the_delimiter_and_the_header_row_are_sniffed_from_the_content(tmp_path: Path, delimiter: str, header: bool,
                                                                       name: str) -> None:
    path = tmp_path / "data.txt"
    write_delimited(path, churn_rows(), delimiter, header)
    fmt = sniff(path)
    assert (fmt.name, fmt.delimiter, fmt.header) == (name, delimiter, header)


def test_a_first_row_of_numbers_like_the_rest_is_data_not_a_header(tmp_path: Path) -> None:
    path = tmp_path / "numbers.csv"
    path.write_text("".join(f"{i},{i * 0.5:.2f},{i % 2}\n" for i in range(50)))
    assert not sniff(path).header
    path.write_text("x,y,label\n" + "".join(f"{i},{i * 0.5:.2f},{i % 2}\n" for i in range(50)))
    assert sniff(path).header


def test_a_text_table_without_numbers_has_a_header_unless_its_first_values_recur(tmp_path: Path) -> None:
    path = tmp_path / "words.csv"
    path.write_text("city,colour\n" + "".join(f"{c},{k}\n" for c, k in [("paris", "red"), ("rome", "blue"), ("oslo", "red")]))
    assert sniff(path).header
    path.write_text("".join(f"{c},{k}\n" for c, k in [("paris", "red"), ("rome", "blue"), ("paris", "green")]))
    assert not sniff(path).header


# -- headerless TSV: the reported bug ------------------------------------------------------------------------
def test_missing_values_on_a_headerless_tsv_keeps_it_headerless_and_never_blanks_the_id_or_the_label(tmp_path: Path) -> None:
    path = tmp_path / "data" / "churn.tsv"
    rows = churn_rows()
    write_delimited(path, rows, "\t", header=False)
    before = read_tsv(path)
    injection = run(tmp_path, "data/churn.tsv", "missing_values", fraction=0.2)
    after = read_tsv(path)
    assert len(after) == len(before) == ROWS  # no header invented, none lost
    assert [r[0] for r in after] == [r[0] for r in before], "the id column was blanked"
    assert [r[-1] for r in after] == [r[-1] for r in before], "the label column was blanked"
    hit = [i for i in range(ROWS) if after[i] != before[i]]
    assert len(hit) == round(0.2 * ROWS)
    assert all(after[i].count("") == 1 and len(after[i]) == len(COLUMNS) for i in hit)
    assert "columns 1, 2, 3" in injection.description


def test_label_flip_on_a_headerless_table_flips_the_last_column_unless_given_an_index(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    rows = churn_rows()
    write_delimited(path, rows, ",", header=False)
    run(tmp_path, "t.csv", "label_flip", fraction=0.1)
    after = list(csv.reader(io.StringIO(path.read_text())))
    assert sum(a[4] != str(r[4]) for a, r in zip(after, rows)) == round(0.1 * ROWS)
    assert [a[:4] for a in after] == [[str(v) for v in r[:4]] for r in rows]
    write_delimited(path, rows, ",", header=False)
    run(tmp_path, "t.csv", "label_flip", fraction=0.1, label="3")
    after = list(csv.reader(io.StringIO(path.read_text())))
    assert sum(a[3] != r[3] for a, r in zip(after, rows)) == round(0.1 * ROWS)
    assert [a[4] for a in after] == [str(r[4]) for r in rows]


def test_a_column_name_on_a_headerless_table_is_refused_with_the_indexes_allowed(tmp_path: Path) -> None:
    path = tmp_path / "t.tsv"
    write_delimited(path, churn_rows(), "\t", header=False)
    before = path.read_bytes()
    with pytest.raises(IncidentError, match=r"label='churn' cannot name a column of t.tsv: it has no header row; "
                                            r"give a 0-based column index, '0' to '4' \('-1' for the last\)"):
        run(tmp_path, "t.tsv", "label_flip", label="churn")
    with pytest.raises(IncidentError, match=r"change='rename' needs column names and t.tsv has no header row; "
                                            r"changes that apply to it: drop, reorder, dtype"):
        run(tmp_path, "t.tsv", "schema_drift", change="rename")
    assert path.read_bytes() == before


def test_a_headerless_table_keeps_its_crlf_newlines_and_its_missing_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    write_delimited(path, churn_rows(), ";", header=False, newline="\r\n", final_newline=False)
    run(tmp_path, "t.csv", "noise", fraction=0.5)
    data = path.read_bytes()
    assert not data.endswith(b"\n") and data.count(b"\r\n") == ROWS - 1 and data.count(b"\n") == ROWS - 1
    assert all(len(line.split(b";")) == len(COLUMNS) for line in data.split(b"\r\n"))


def test_noise_never_touches_a_pandas_index_column_written_into_the_csv(tmp_path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame(churn_rows(), columns=COLUMNS).drop(columns="customer_id")
    frame.to_csv(tmp_path / "t.csv")  # a first column named "" holding 0..n-1
    run(tmp_path, "t.csv", "noise", fraction=1.0)
    after = pd.read_csv(tmp_path / "t.csv", index_col=0)
    assert list(after.index) == list(range(ROWS))
    assert (after["tenure"] != frame["tenure"]).sum() > ROWS / 2
    assert after["churn"].equals(frame["churn"])


def test_a_latin_1_csv_is_still_a_table_and_its_untouched_rows_keep_their_bytes(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    lines = ["name,tenure,churn".encode()] + [f"Jos\u00e9 {i},{i * 3 % 70},{i % 2}".encode("latin-1") for i in range(ROWS)]
    path.write_bytes(b"\n".join(lines) + b"\n")
    run(tmp_path, "t.csv", "label_flip", fraction=0.1)
    after = path.read_bytes().split(b"\n")[:-1]
    changed = [i for i in range(len(lines)) if after[i] != lines[i]]
    assert len(changed) == round(0.1 * ROWS) and 0 not in changed
    assert all(after[i].rsplit(b",", 1)[0] == lines[i].rsplit(b",", 1)[0] for i in changed)


# -- Parquet -----------------------------------------------------------------------------------------------
def test_noise_on_parquet_keeps_the_schema_and_compression_and_leaves_ids_labels_and_words_alone(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    path = tmp_path / "t.parquet"
    write_parquet(path, churn_rows())
    before = read_parquet(path)
    run(tmp_path, "t.parquet", "noise", fraction=0.5)
    after = read_parquet(path)
    assert after.schema == before.schema and after.num_rows == ROWS
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == "ZSTD"
    for name in ("customer_id", "contract", "churn"):
        assert after.column(name).equals(before.column(name)), name
    tenure_before, tenure_after = before.column("tenure").to_pylist(), after.column("tenure").to_pylist()
    assert 0.3 * ROWS < sum(a != b for a, b in zip(tenure_before, tenure_after)) <= 0.5 * ROWS
    assert all(isinstance(v, int) for v in tenure_after)


def test_missing_values_on_parquet_are_nulls_in_one_feature_cell_of_each_hit_row(tmp_path: Path) -> None:
    import pandas as pd

    path = tmp_path / "t.parquet"
    write_parquet(path, churn_rows())
    run(tmp_path, "t.parquet", "missing_values", fraction=0.25)
    frame = pd.read_parquet(path)
    assert frame.isna().any(axis=1).sum() == round(0.25 * ROWS)
    assert frame.isna().sum(axis=1).max() == 1
    assert frame["customer_id"].notna().all() and frame["churn"].notna().all()
    assert sniff(path).name == "parquet"


def test_duplicates_and_a_stale_subset_of_parquet_stay_parquet(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    write_parquet(path, churn_rows())
    original = read_parquet(path).to_pylist()
    run(tmp_path, "t.parquet", "duplicates", fraction=0.1)
    rows = read_parquet(path).to_pylist()
    assert len(rows) == ROWS + round(0.1 * ROWS)
    assert [r for k, r in enumerate(rows) if k == 0 or rows[k - 1] != r] == original
    write_parquet(path, churn_rows())
    run(tmp_path, "t.parquet", "stale_version", source="subset", fraction=0.25)
    assert read_parquet(path).to_pylist() == original[: ROWS - round(0.25 * ROWS)]


@pytest.mark.parametrize("change", ["drop", "rename", "reorder", "dtype"])
def test_schema_drift_of_a_pandas_written_parquet_file_reads_back_in_pandas(tmp_path: Path, change: str) -> None:
    import pandas as pd

    path = tmp_path / "t.parquet"
    base = pd.DataFrame(churn_rows(), columns=COLUMNS)
    base.to_parquet(path)
    params: dict[str, Any] = {"column": "monthly_charges"} if change != "reorder" else {}
    run(tmp_path, "t.parquet", "schema_drift", change=change, **params)
    after = pd.read_parquet(path)
    if change == "drop":
        assert list(after.columns) == [c for c in COLUMNS if c != "monthly_charges"]
    elif change == "rename":
        assert "monthlyCharges" in after.columns and "monthly_charges" not in after.columns
    elif change == "reorder":
        assert list(after.columns) != COLUMNS and after[COLUMNS].equals(base)
    else:
        assert after["monthly_charges"].str.replace(",", ".").astype(float).equals(base["monthly_charges"])


# -- JSON Lines ----------------------------------------------------------------------------------------------
def test_label_flip_on_json_lines_changes_only_the_label_and_leaves_other_lines_byte_identical(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    write_jsonl(path, churn_rows())
    before = path.read_text().splitlines()
    run(tmp_path, "t.jsonl", "label_flip", fraction=0.1)
    after = path.read_text().splitlines()
    assert len(after) == ROWS and path.read_text().endswith("\n")
    changed = [i for i in range(ROWS) if after[i] != before[i]]
    assert len(changed) == round(0.1 * ROWS)
    for i in changed:
        old, new = json.loads(before[i]), json.loads(after[i])
        assert list(new) == COLUMNS and new["churn"] == 1 - old["churn"]
        assert {k: v for k, v in new.items() if k != "churn"} == {k: v for k, v in old.items() if k != "churn"}


def test_missing_values_and_noise_on_json_lines_keep_types_and_write_nulls(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    write_jsonl(path, churn_rows())
    run(tmp_path, "t.jsonl", "missing_values", fraction=0.2)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert sum(None in r.values() for r in rows) == round(0.2 * ROWS)
    assert all(r["customer_id"] is not None and r["churn"] is not None for r in rows)
    write_jsonl(path, churn_rows())
    run(tmp_path, "t.jsonl", "noise", fraction=1.0)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert all(isinstance(r["tenure"], int) and isinstance(r["monthly_charges"], float) for r in rows)
    assert all(round(r["monthly_charges"], 2) == r["monthly_charges"] for r in rows)
    assert [r["churn"] for r in rows] == [row[4] for row in churn_rows()]


def test_schema_drift_drop_on_json_lines_removes_the_key_from_every_object(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    write_jsonl(path, churn_rows())
    injection = run(tmp_path, "t.jsonl", "schema_drift", change="drop", column="contract")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert all(list(r) == ["customer_id", "tenure", "monthly_charges", "churn"] for r in rows)
    assert "dropped column 'contract'" in injection.description


# -- the same seed, the same damage, in every format ---------------------------------------------------------------
WRITERS = {
    "csv": lambda p: write_delimited(p, churn_rows()),
    "headerless-tsv": lambda p: write_delimited(p, churn_rows(), "\t", header=False),
    "parquet": lambda p: write_parquet(p, churn_rows()),
    "jsonl": lambda p: write_jsonl(p, churn_rows()),
}


@pytest.mark.parametrize("mode", VALUE_MODES)
@pytest.mark.parametrize("fmt", list(WRITERS))
def test_the_same_seed_gives_the_same_bytes_in_every_format(tmp_path: Path, fmt: str, mode: str) -> None:
    outputs = []
    for copy in ("a", "b", "c"):
        root = tmp_path / copy
        root.mkdir()
        WRITERS[fmt](root / "t.data")
        original = (root / "t.data").read_bytes()
        run(root, "t.data", mode, seed=7 if copy != "c" else 8)
        assert (root / "t.data").read_bytes() != original
        outputs.append((root / "t.data").read_bytes())
    assert outputs[0] == outputs[1]
    assert outputs[0] != outputs[2] or mode == "schema_drift"  # drift picks among few columns


# -- refusals: anything that is not a table ----------------------------------------------------------------------
def _joblib_model(path: Path) -> None:
    import joblib
    from sklearn.linear_model import LogisticRegression

    joblib.dump(LogisticRegression().fit([[0.0], [1.0]], [0, 1]), path)


NOT_TABLES = {
    "XML": lambda p: p.write_text('<?xml version="1.0"?>\n<rows>\n' + "".join(
        f'  <row id="{i}"><x>{i * 0.5}</x><churn>{i % 2}</churn></row>\n' for i in range(800)) + "</rows>\n"),
    "a PNG image": lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4),
    "gzip-compressed data": lambda p: p.write_bytes(gzip.compress(b"a,b,churn\n" + b"1,2,0\n" * 100, mtime=0)),
    "a joblib model file": _joblib_model,
    "text that is not a table": lambda p: p.write_text("Dear reader,\nthis is a letter, not a table.\nRegards\n"),
    "a JSON document": lambda p: p.write_text(json.dumps({"rows": [[1, 2, 0]] * 5}, indent=2)),
}


@pytest.mark.parametrize("dry_run", [False, True])
@pytest.mark.parametrize("mode", VALUE_MODES)
@pytest.mark.parametrize("found", list(NOT_TABLES))
def test_value_modes_refuse_any_other_format_before_touching_it(tmp_path: Path, found: str, mode: str, dry_run: bool) -> None:
    path = tmp_path / "data" / "thing.bin"
    path.parent.mkdir()
    NOT_TABLES[found](path)
    before, mtime = path.read_bytes(), path.stat().st_mtime_ns
    with pytest.raises(IncidentError) as info:
        run(tmp_path, "data/thing.bin", mode, dry_run=dry_run)
    message = str(info.value)
    assert message.startswith(f"incident data_corruption/{mode}: data/thing.bin is {found}")
    assert message.endswith("Modes that apply to it as bytes: bitflip, truncate, delete")
    assert path.read_bytes() == before and path.stat().st_mtime_ns == mtime
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == ["thing.bin"]


def test_missing_values_on_xml_no_longer_quotes_its_lines(tmp_path: Path) -> None:
    """The reported bug: the XML file came back with nearly every line CSV-quoted and "blanked 800 feature values"."""
    path = tmp_path / "feed.xml"
    NOT_TABLES["XML"](path)
    before = path.read_bytes()
    with pytest.raises(IncidentError, match=r"feed.xml is XML; missing_values edits the cells of CSV/TSV"):
        run(tmp_path, "feed.xml", "missing_values", fraction=0.5)
    assert path.read_bytes() == before
    for mode in ("bitflip", "truncate", "delete"):  # the modes the message names do apply
        run(tmp_path, "feed.xml", mode)
        assert not path.exists() or path.read_bytes() != before
        path.write_bytes(before)


def test_a_json_lines_file_with_a_broken_line_is_refused_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    write_jsonl(path, churn_rows(20))
    path.write_text(path.read_text() + '{"customer_id": "C9", "tenure": \n')
    before = path.read_bytes()
    with pytest.raises(IncidentError, match=r"line 21 of t.jsonl is not JSON"):
        run(tmp_path, "t.jsonl", "duplicates")
    assert path.read_bytes() == before


# -- directories (a DVC directory output) --------------------------------------------------------------------------
def _image_dir(root: Path) -> Path:
    images = root / "data" / "images"
    images.mkdir(parents=True)
    for i in range(12):
        (images / f"img{i:02d}.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes([i]) * 200)
    (images / "labels.csv").write_text("file,label\n" + "".join(f"img{i:02d}.png,{i % 3}\n" for i in range(12)))
    return images


@pytest.mark.parametrize("mode", ["bitflip", "truncate", "delete"])
def test_byte_modes_on_a_directory_hit_one_file_chosen_by_the_seed(tmp_path: Path, mode: str) -> None:
    chosen = set()
    for seed in range(6):
        root = tmp_path / str(seed)
        images = _image_dir(root)
        before = {p.name: p.read_bytes() for p in images.iterdir()}
        incident, artifacts = Incident("data_corruption", mode, seed=seed), Artifacts(data=("data/images",))
        planned = inject(root, incident, artifacts=artifacts, dry_run=True)
        injection = inject(root, incident, artifacts=artifacts)
        (touched,) = injection.touched
        assert touched.startswith("data/images/") and planned.touched == injection.touched  # same seed, same file
        changed = [n for n, data in before.items() if not (images / n).exists() or (images / n).read_bytes() != data]
        assert changed == [touched.rsplit("/", 1)[1]]
        chosen.add(touched)
    assert len(chosen) > 1


def test_value_modes_on_a_directory_are_refused_naming_its_table_files(tmp_path: Path) -> None:
    images = _image_dir(tmp_path)
    before = {p.name: p.read_bytes() for p in images.iterdir()}
    with pytest.raises(IncidentError, match=r"target 'data/images' is a directory \(12 .png, 1 .csv\); missing_values edits "
                                            r"the cells of one table: pass target=<a table file in it> "
                                            r"\(e.g. 'data/images/labels.csv'\)"):
        inject(tmp_path, Incident("data_corruption", "missing_values"), artifacts=Artifacts(data=("data/images",)))
    assert {p.name: p.read_bytes() for p in images.iterdir()} == before
    run(tmp_path, "data/images/labels.csv", "label_flip", fraction=0.5)
    assert (images / "labels.csv").read_text() != before["labels.csv"].decode()


def test_bitflip_on_a_headerless_table_may_hit_its_first_row(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("1,2,0\n3,4,1\n")
    run(tmp_path, "t.csv", "bitflip", flips=len(path.read_bytes()))
    assert all(a != b for a, b in zip(path.read_bytes(), b"1,2,0\n3,4,1\n"))
