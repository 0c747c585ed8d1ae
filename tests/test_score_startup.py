"""`leadscore score --engine duckdb` loads only what scoring needs (docs/engines.md, "Speed and
memory"): no pandas (which pyarrow would import on its first conversion of a Python value), no
report libraries, and neither jsonschema nor sqlglot once an earlier run kept the schema's
validation and the statement."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.tables.convert import convert_column

REPO = Path(__file__).resolve().parents[1]
ACME = str(REPO / "rulesets" / "acme" / "scoring.score")
DATA = REPO / "tests" / "data" / "score"
NEVER = ["pandas", "numpy.ma", "matplotlib", "rich", "jsonschema"]

# runs the command line as `leadscore` does, then prints which of the watched modules were loaded
RUN_AND_REPORT = """
import json, sys
from leadscore.cli import main
watched = json.loads(sys.argv[1])
try:
    main(sys.argv[2:], prog_name="leadscore")
except SystemExit as stop:
    code = stop.code
print(json.dumps({"code": code, "loaded": [m for m in watched if m in sys.modules]}), file=sys.stderr)
"""


def run_score(args: list[str], cache: Path, watched: list[str]) -> dict:
    env = {**os.environ, "XDG_CACHE_HOME": str(cache), "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run([sys.executable, "-c", RUN_AND_REPORT, json.dumps(watched), "score", ACME, *args],
                          env=env, capture_output=True, text=True, timeout=300)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    assert report["code"] in (0, None), done.stderr
    return report


@pytest.fixture(scope="module")
def parquet_tables(tmp_path_factory) -> tuple[str, str]:
    folder = tmp_path_factory.mktemp("parquet")
    paths = []
    for name in ("leads", "events"):
        path = str(folder / f"{name}.parquet")
        pq.write_table(pcsv.read_csv(DATA / f"{name}.csv",
                                     convert_options=pcsv.ConvertOptions(strings_can_be_null=True)), path)
        paths.append(path)
    return paths[0], paths[1]


@pytest.mark.parametrize("form", ["csv", "parquet"])
@pytest.mark.parametrize("extra", [[], ["--explain", "--format", "jsonl"]])
def test_score_duckdb_loads_no_pandas_nor_report_libraries(tmp_path, parquet_tables, form, extra):
    leads, events = (str(DATA / "leads.csv"), str(DATA / "events.csv")) if form == "csv" else parquet_tables
    args = ["--engine", "duckdb", "--leads", leads, "--events", events, "--as-of", "2026-05-01T00:00:00Z",
            "-o", str(tmp_path / "out.csv"), *extra]
    first = run_score(args, tmp_path / "cache", NEVER + ["sqlglot"])
    # a first run validates the schema file (jsonschema) and builds the statement (sqlglot), keeping both
    assert "sqlglot" in first["loaded"] and set(first["loaded"]) <= {"jsonschema", "sqlglot"}
    again = run_score(args, tmp_path / "cache", NEVER + ["sqlglot"])
    assert again["loaded"] == []


def test_pyarrow_still_converts_pandas_objects_when_asked(tmp_path):
    """The "no pandas" answer covers pyarrow's implicit question only: an explicit pandas call
    afterwards imports pandas and works."""
    pytest.importorskip("pandas")
    code = ("import sys\n"
            "from leadscore.arrow_without_pandas import answer_without_pandas\n"
            "finders = list(sys.meta_path)\n"
            "answer_without_pandas()\n"
            "assert sys.meta_path == finders and 'pandas' not in sys.modules\n"
            "import pyarrow as pa\n"
            "assert pa.array([1.5, None]).to_pylist() == [1.5, None] and 'pandas' not in sys.modules\n"
            "frame = pa.table({'a': [1, 2]}).to_pandas()\n"
            "assert list(frame['a']) == [1, 2]\n"
            "import pandas\n"
            "assert pa.Array.from_pandas(pandas.Series([3, 4])).to_pylist() == [3, 4]\n")
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(REPO / "src")},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_answer_without_pandas_leaves_an_imported_pandas_alone():
    pandas = pytest.importorskip("pandas")
    from leadscore.arrow_without_pandas import answer_without_pandas

    finders = list(sys.meta_path)
    answer_without_pandas()
    assert sys.meta_path == finders and sys.modules["pandas"] is pandas


@settings(deadline=None)   # a shared machine: no timing in unit tests
@given(st.lists(st.one_of(st.none(), st.text(alphabet="ab ;", max_size=8)), max_size=30))
def test_text_lists_split_as_described(cells):
    """The list column built from numpy buffers (not pa.array, which imports numpy.ma): items
    split on `;` and trimmed, empty items dropped, a cell with no item missing."""
    def split(cell):
        items = [item.strip() for item in cell.split(";")] if cell is not None else []
        return [item for item in items if item] or None

    converted, problems = convert_column(pa.array(cells, pa.string()), "list")
    assert converted.to_pylist() == [split(cell) for cell in cells]
    assert problems == {}
