"""Spill folders and temporary files of killed runs (issue 10, item 18): a later run removes
exactly the leftovers whose process is gone and whose lock is free, and nothing else."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leadscore import scratch


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


DEAD = dead_pid()


@pytest.fixture
def temporary_directory(tmp_path, monkeypatch) -> Path:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def test_a_spill_folder_is_named_after_its_run_and_removed_at_the_end(temporary_directory):
    with pytest.raises(RuntimeError):
        with scratch.spill_folder() as folder:
            assert Path(folder).parent == temporary_directory
            assert Path(folder).name.startswith(f"leadscore-spill-{os.getpid()}-")
            (Path(folder) / "events-0.arrow").write_bytes(b"x" * 100)
            raise RuntimeError("a bad row with --strict")
    assert list(temporary_directory.iterdir()) == []


def test_a_new_spill_folder_removes_those_of_runs_that_are_gone(temporary_directory):
    gone = temporary_directory / f"leadscore-spill-{DEAD}-abc"
    (gone / "sub").mkdir(parents=True)
    (gone / "sub" / "leads-0.arrow").write_bytes(b"x")
    running = temporary_directory / f"leadscore-spill-{os.getppid()}-def"
    running.mkdir()
    locked = temporary_directory / f"leadscore-spill-{DEAD + 1}-ghi"   # held by a run elsewhere
    locked.mkdir()
    holder = os.open(locked, os.O_RDONLY)
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        with scratch.spill_folder():
            pass
    finally:
        os.close(holder)
    assert sorted(p.name for p in temporary_directory.iterdir()) == sorted([running.name, locked.name])


def test_a_link_named_like_a_leftover_is_not_followed(temporary_directory, tmp_path_factory):
    precious = tmp_path_factory.mktemp("precious")
    (precious / "data").write_text("keep")
    (temporary_directory / f"leadscore-spill-{DEAD}-x").symlink_to(precious)
    scratch.remove_stale_spill_folders()
    assert (precious / "data").read_text() == "keep"


GONE = [DEAD, 10**30]   # a process that ended; an id no process can have
NAMES = st.one_of(
    st.builds(lambda pid, rest: f"leadscore-spill-{pid}-{rest}",
              st.sampled_from([*GONE, os.getpid(), os.getppid(), 0]), st.text("abcxyz-_.", max_size=6)),
    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="/\x00"), min_size=1, max_size=20),
    st.builds(lambda pid, rest: f"{rest}leadscore-spill-{pid}", st.sampled_from(GONE), st.text("-.a", max_size=3)),
)


@settings(max_examples=60, deadline=None)
@given(st.sets(NAMES, max_size=6))
def test_only_leftovers_of_processes_that_are_gone_are_removed(names):
    names = {n for n in names if n not in (".", "..")}
    with tempfile.TemporaryDirectory() as folder:
        for name in names:
            Path(folder, name).mkdir()
        scratch.remove_leftovers(folder, scratch._SPILL_NAME)
        removed = names - set(os.listdir(folder))
    assert removed == {n for n in names if any(n.startswith(f"leadscore-spill-{pid}-") for pid in GONE)}


def test_without_locks_leftovers_are_kept_and_runs_still_work(temporary_directory, monkeypatch):
    """Where there is no `fcntl` (Windows) nothing tells a leftover from a live run's folder."""
    monkeypatch.setattr(scratch, "fcntl", None)
    gone = temporary_directory / f"leadscore-spill-{DEAD}-abc"
    gone.mkdir()
    with scratch.spill_folder() as folder:
        assert Path(folder).is_dir()
    assert list(temporary_directory.iterdir()) == [gone]
