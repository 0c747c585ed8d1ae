"""The duckdb engine's statements kept between runs (engines/statement_cache.py): keyed by what
the text is a function of, the same key in every process, the instant bound rather than kept."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import leadscore
from helpers import ACME_DIR, HEADER, write_ruleset
from leadscore import cache
from leadscore.cli import main
from leadscore.engines import statement_cache
from leadscore.engines.statement_cache import cached_statement, canonical, statement_key

ACME = str(ACME_DIR / "scoring.score")
DATA = Path(__file__).resolve().parent / "data" / "score"
PROGRAM = leadscore.load(ACME).lower()


@pytest.fixture
def folder(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "_statements", str(tmp_path / "statements"))
    return tmp_path / "statements"


def test_a_kept_statement_is_read_back_instead_of_built(folder):
    built = []

    def build():
        built.append(1)
        return "SELECT 1"

    assert cached_statement(PROGRAM, "id", False, build) == "SELECT 1"
    assert cached_statement(PROGRAM, "id", False, lambda: pytest.fail("built again")) == "SELECT 1"
    assert built == [1] and len(os.listdir(folder)) == 1


def test_nothing_is_kept_unless_the_command_line_allowed_it(tmp_path, monkeypatch):
    monkeypatch.setattr(cache, "_statements", None)
    assert cached_statement(PROGRAM, "id", False, lambda: "SELECT 2") == "SELECT 2"
    assert cached_statement(PROGRAM, "id", False, lambda: "SELECT 3") == "SELECT 3"


def test_the_key_depends_on_the_program_the_options_and_the_code(tmp_path, monkeypatch):
    other = leadscore.load(str(write_ruleset(tmp_path, HEADER + "score s {\n  r: +1 if employees > 1\n}\n"))).lower()
    key = statement_key(PROGRAM, "id", False)
    assert len({key, statement_key(other, "id", False), statement_key(PROGRAM, "key", False),
                statement_key(PROGRAM, "id", True)}) == 4
    monkeypatch.setattr(statement_cache, "_fingerprint", "another version of the code")
    assert statement_key(PROGRAM, "id", False) != key


def test_the_key_is_the_same_in_every_process_whatever_the_hash_seed():
    code = ("import leadscore; from leadscore.engines.statement_cache import statement_key; "
            f"print(statement_key(leadscore.load({ACME!r}).lower(), 'id', False))")
    keys = {subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True,
                           env={**os.environ, "PYTHONHASHSEED": seed}).stdout for seed in ("1", "2", "3")}
    assert len(keys) == 1
    assert keys == {statement_key(PROGRAM, "id", False) + "\n"}


def test_sets_are_written_in_sorted_order_and_unknown_types_refused():
    assert canonical(frozenset({"b", "a"})) == canonical(frozenset({"a", "b"}))
    assert canonical({"a": 1, "b": 2}) != canonical({"b": 2, "a": 1})   # a schema's order counts
    assert canonical(1) != canonical(1.0) != canonical("1")
    with pytest.raises(TypeError):
        canonical(object())


def test_a_value_of_an_unforeseen_type_is_built_each_time(folder, monkeypatch):
    monkeypatch.setattr(statement_cache, "canonical", lambda value: canonical(object()))
    assert cached_statement(PROGRAM, "id", False, lambda: "SELECT 4") == "SELECT 4"
    assert not folder.exists()


def test_the_kept_statement_scores_at_each_run_s_own_instant(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    outputs = []
    for as_of in ("2026-05-01T00:00:00Z", "2026-09-01T00:00:00Z", "2026-05-01T00:00:00Z"):
        out = tmp_path / f"scores-{len(outputs)}.csv"
        result = CliRunner().invoke(main, ["score", ACME, "--leads", str(DATA / "leads.csv"), "--events",
                                           str(DATA / "events.csv"), "--as-of", as_of, "-o", str(out)])
        assert result.exit_code == 0, result.output
        outputs.append(out.read_text())
    assert len(os.listdir(tmp_path / "cache" / "leadscore" / "duckdb-statements")) == 1
    assert outputs[0] == outputs[2] != outputs[1]


def _fill(folder, count, start=1_000_000_000):
    """`count` statements of other programs, touched one second apart from `start` on."""
    folder.mkdir(parents=True, exist_ok=True)
    names = [f"{i:064x}.sql" for i in range(count)]
    for offset, name in enumerate(names):
        (folder / name).write_text("SELECT 0")
        os.utime(folder / name, (start + offset, start + offset))
    return names


def test_writing_a_statement_removes_the_least_recently_used_beyond_the_bound(folder, tmp_path):
    other = leadscore.load(str(write_ruleset(tmp_path, HEADER + "score s {\n  r: +1 if employees > 1\n}\n"))).lower()
    own = folder / (statement_key(PROGRAM, "id", False) + ".sql")
    names = _fill(folder, statement_cache.KEPT_STATEMENTS - 1)
    own.write_text("SELECT 1")
    os.utime(own, (999_999_999, 999_999_999))   # older than every other one
    (folder / "notes.txt").write_text("not a statement")
    os.utime(folder / "notes.txt", (1, 1))
    assert cached_statement(PROGRAM, "id", False, lambda: pytest.fail("built again")) == "SELECT 1"
    assert cached_statement(other, "id", False, lambda: "SELECT 2") == "SELECT 2"
    kept = set(os.listdir(folder))
    assert len(kept) == statement_cache.KEPT_STATEMENTS + 1   # the notes are not a statement
    assert own.name in kept and "notes.txt" in kept   # the hit made it the newest but one
    assert names[0] not in kept and names[1] in kept   # the oldest one left


def test_pruning_keeps_the_newest_and_leaves_what_it_cannot_remove(folder):
    names = _fill(folder, 6)
    (folder / names[0]).unlink()
    (folder / names[0]).mkdir()   # not a file: left, though among the oldest
    os.utime(folder / names[0], (1, 1))
    statement_cache.prune(str(folder), 3)
    assert sorted(os.listdir(folder)) == sorted([names[0], *names[3:]])


def test_a_statement_removed_by_another_run_meanwhile_is_no_error(folder, monkeypatch):
    names = _fill(folder, 4)
    unlink = os.unlink

    def another_run_first(path):
        unlink(path)   # another run's pruning got there first: FileNotFoundError below
        unlink(path)

    monkeypatch.setattr(statement_cache.os, "unlink", another_run_first)
    statement_cache.prune(str(folder), 1)
    assert os.listdir(folder) == [names[-1]]
    monkeypatch.setattr(statement_cache.os, "utime", another_run_first)   # pruned between read and touch
    own = folder / (statement_key(PROGRAM, "id", False) + ".sql")
    own.write_text("SELECT 1")
    assert cached_statement(PROGRAM, "id", False, lambda: "SELECT 2") == "SELECT 1"
    assert not own.exists()
    statement_cache.prune(str(folder / "gone"), 1)   # no folder at all


@pytest.mark.parametrize("content", [b"\xff\xfeSELECT", b""])
def test_an_unreadable_statement_is_built_and_written_again(folder, content):
    own = folder / (statement_key(PROGRAM, "id", False) + ".sql")
    folder.mkdir()
    own.write_bytes(content)
    assert cached_statement(PROGRAM, "id", False, lambda: "SELECT 5") == "SELECT 5"
    assert own.read_text() == "SELECT 5"
