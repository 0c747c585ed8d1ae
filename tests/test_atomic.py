"""Files written whole or not at all (leadscore.atomic): every command's output goes through it."""

from __future__ import annotations

import os

import pytest

from leadscore.atomic import atomic_file, write_atomically


def test_a_new_file_gets_the_mode_a_plain_open_would_give(tmp_path):
    mask = os.umask(0o027)
    try:
        write_atomically(str(tmp_path / "report.json"), "{}")
    finally:
        os.umask(mask)
    assert (tmp_path / "report.json").stat().st_mode & 0o777 == 0o640
    assert (tmp_path / "report.json").read_text() == "{}"


def test_a_rewritten_file_keeps_its_own_mode(tmp_path):
    rules = tmp_path / "scoring.score"
    rules.write_text("old")
    rules.chmod(0o664)
    write_atomically(str(rules), "new")
    assert rules.read_text() == "new"
    assert rules.stat().st_mode & 0o777 == 0o664


def test_a_failure_leaves_the_previous_file_and_no_temporary_one(tmp_path):
    target = tmp_path / "scores.csv"
    target.write_text("previous\n")
    with pytest.raises(RuntimeError):
        with atomic_file(str(target)) as handle:
            handle.write("half a row")
            raise RuntimeError("disk full")
    assert target.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.csv"]


def test_a_missing_folder_is_reported_under_the_path_asked_for(tmp_path):
    wanted = str(tmp_path / "no such folder" / "report.json")
    with pytest.raises(OSError) as raised:
        write_atomically(wanted, "{}")
    assert raised.value.filename == wanted
