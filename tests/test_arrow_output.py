"""`score`'s rows written from Arrow columns (batch/arrow_output.py) are byte for byte the rows
the Python formatter writes (batch/output.py) for the same values."""

from __future__ import annotations

import io

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore.batch import output
from leadscore.batch.arrow_output import number_text, write_rows
from leadscore.scored import ScoredLeads

# floats where pyarrow's text and repr part: exponents both ways, whole numbers, -0.0, the edges
EDGES = [0.0, -0.0, 1.0, 100.0, 12.0, 1e15, 1e16, 9.999999999999998e15, 1.5e16, 123456789012345.6, 1e-4,
         9.999999999999999e-05, 1e-5, 5e-324, 1.7976931348623157e308, float("inf"), float("-inf"), float("nan"),
         1e22, 0.1, 1 / 3, -7.25, None]
numbers = st.one_of(st.sampled_from(EDGES), st.floats(allow_nan=True, allow_infinity=True), st.none())
# ids and labels with every character the formats treat specially
texts = st.text(st.sampled_from(list('ab,"\r\n\\\x00\x1f\x7fé\u2028 ')), min_size=1, max_size=6)


def python_rows(fmt: str, names: list[str], ids, scores, thresholds, segments) -> str:
    rows = output.rows_formatter(fmt, names, False)(ids, ScoredLeads(scores, thresholds, segments, None))
    return "".join(rows)


def arrow_rows(fmt: str, names: list[str], ids, scores, thresholds, segments, counts) -> str:
    columns = [pa.array(ids, pa.string())]
    columns += [pa.array([row[k] for row in scores], pa.float64()) for k in range(counts[0])]
    columns += [pa.array([row[k] for row in thresholds], pa.bool_()) for k in range(counts[1])]
    columns += [pa.array([row[k] for row in segments], pa.string()) for k in range(counts[2])]
    out = io.StringIO()
    write_rows(pa.table(columns, names=names), fmt, names, counts, out)
    return out.getvalue()


@st.composite
def tables(draw):
    counts = (draw(st.integers(0, 3)), draw(st.integers(0, 2)), draw(st.integers(0, 2)))
    n = draw(st.integers(1, 12))
    ids = draw(st.lists(texts, min_size=n, max_size=n, unique=True))
    scores = [tuple(draw(numbers) for _ in range(counts[0])) for _ in range(n)]
    thresholds = [tuple(draw(st.booleans()) for _ in range(counts[1])) for _ in range(n)]
    segments = [tuple(draw(st.one_of(st.none(), texts)) for _ in range(counts[2])) for _ in range(n)]
    names = ["lead_id", *(f"s{k}" for k in range(counts[0])), *(f"t{k}" for k in range(counts[1])),
             *(f"g,{k}" for k in range(counts[2]))]
    return names, ids, scores, thresholds, segments, counts


@settings(max_examples=300, deadline=None)
@given(tables(), st.sampled_from(["csv", "jsonl"]))
def test_rows_from_arrow_are_the_python_rows(table, fmt):
    names, ids, scores, thresholds, segments, counts = table
    assert (arrow_rows(fmt, names, ids, scores, thresholds, segments, counts)
            == python_rows(fmt, names, ids, scores, thresholds, segments))


@settings(max_examples=500, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=50))
def test_every_float_is_written_as_repr(values):
    assert number_text(pa.array(values, pa.float64()), csv=True).to_pylist() == [repr(v) for v in values]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_edge_numbers_and_special_text(fmt):
    names = ["lead_id", "score", "hot", "band"]
    ids = [f"lead,{k}" if k % 3 == 0 else f'le"ad\n{k}' if k % 3 == 1 else f"lead-{k}" for k in range(len(EDGES))]
    scores = [(x,) for x in EDGES]
    thresholds = [(k % 2 == 0,) for k in range(len(EDGES))]
    segments = [(None if k % 4 == 0 else 'A "b",\nc',) for k in range(len(EDGES))]
    expected = python_rows(fmt, names, ids, scores, thresholds, segments)
    assert arrow_rows(fmt, names, ids, scores, thresholds, segments, (1, 1, 1)) == expected
    assert expected.count("\n") >= len(EDGES)


def test_a_score_column_of_another_type_is_written_by_python():
    out = io.StringIO()
    write_rows(pa.table({"lead_id": ["a", "b"], "score": pa.array([0, None], pa.int64())}), "csv",
               ["lead_id", "score"], (1, 0, 0), out)
    assert out.getvalue() == "a,0\nb,\n"


def test_a_sliced_table_writes_only_its_rows():
    table = pa.table({"lead_id": ["a", "b", "c"], "score": [1.5, 2.0, None]})
    out = io.StringIO()
    write_rows(table.slice(1, 2), "jsonl", ["lead_id", "score"], (1, 0, 0), out)
    assert out.getvalue() == '{"lead_id": "b", "score": 2.0}\n{"lead_id": "c", "score": null}\n'


def test_a_missing_threshold_is_refused_rather_than_a_row_dropped():
    table = pa.table({"lead_id": ["a", "b"], "hot": pa.array([True, None], pa.bool_())})
    with pytest.raises(ValueError):
        write_rows(table, "csv", ["lead_id", "hot"], (0, 1, 0), io.StringIO())
