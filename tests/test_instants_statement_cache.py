"""The replay's two statements kept between runs (simulator/duckdb_instants.py, beside score's
in engines/statement_cache.py): read back instead of written, keyed by the program, the fields
with changes, `reasons` and the code, rewritten when the kept file is unreadable."""

from __future__ import annotations

import json
import os

import pytest

import leadscore
from helpers import ACME_DIR
from leadscore import cache
from leadscore.simulator import duckdb_instants
from leadscore.simulator.duckdb_instants import kept_statements, written

PROGRAM = leadscore.load(str(ACME_DIR / "scoring.score")).lower()


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "_statements", str(tmp_path / "statements"))
    return tmp_path / "statements"


def refuse(*_):
    pytest.fail("written again")


def test_kept_statements_are_read_back_equal_instead_of_written(folder, monkeypatch):
    first = kept_statements(PROGRAM, frozenset(), False)
    assert first == written(PROGRAM, frozenset(), False)
    monkeypatch.setattr(duckdb_instants, "written", refuse)
    assert kept_statements(PROGRAM, frozenset(), False) == first
    assert len(os.listdir(folder)) == 1


def test_the_key_depends_on_the_changed_fields_reasons_and_the_code(folder, monkeypatch):
    kept_statements(PROGRAM, frozenset(), False)
    with_changes = kept_statements(PROGRAM, frozenset({"employees"}), False)
    assert with_changes.changed                    # a statement of its own, reading the changes
    with_reasons = kept_statements(PROGRAM, frozenset(), True)
    assert with_reasons.instants != kept_statements(PROGRAM, frozenset(), False).instants
    assert len(os.listdir(folder)) == 3
    monkeypatch.setattr(duckdb_instants, "_WRITERS", ("engines/sql/select.py",))   # other code
    kept_statements(PROGRAM, frozenset(), False)
    assert len(os.listdir(folder)) == 4


def test_an_unreadable_kept_file_is_written_again(folder):
    expected = kept_statements(PROGRAM, frozenset(), False)
    (path,) = folder.iterdir()
    for damaged in ("{not json", json.dumps({"terms": "SELECT 1"}), json.dumps([1, 2])):
        path.write_text(damaged)
        assert kept_statements(PROGRAM, frozenset(), False) == expected
        assert json.loads(path.read_text())["instants"] == expected.instants


def test_nothing_is_kept_unless_the_command_line_allowed_it(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "_statements", None)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert kept_statements(PROGRAM, frozenset(), False) == written(PROGRAM, frozenset(), False)
    assert not any(tmp_path.iterdir())


def test_replay_statements_count_and_are_pruned_with_score_s(folder):
    from leadscore.engines import statement_cache

    folder.mkdir(parents=True)
    bound = statement_cache.KEPT_STATEMENTS
    for i in range(bound):   # the folder full of older statements, replay's and score's alike
        name = f"{i:064x}" + (".instants.json" if i % 2 else ".sql")
        (folder / name).write_text("{}")
        os.utime(folder / name, (1_000_000_000 + i, 1_000_000_000 + i))
    kept_statements(PROGRAM, frozenset(), False)
    names = set(os.listdir(folder))
    assert len(names) == bound
    assert f"{0:064x}.sql" not in names and f"{1:064x}.instants.json" in names   # the oldest one left
    assert sum(name.endswith(".instants.json") for name in names) == bound // 2 + 1   # the new one kept too
