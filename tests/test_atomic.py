"""Files written whole or not at all (leadscore.atomic): every command's output goes through it."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys

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


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_the_temporary_file_of_a_killed_writer_is_removed_by_the_next_write(tmp_path):
    leftover = tmp_path / f".leadscore-{_dead_pid()}-abc123.tmp"
    leftover.write_text("half a row")
    write_atomically(str(tmp_path / "scores.csv"), "lead_id\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scores.csv"]


def test_the_temporary_file_of_a_live_or_locked_writer_is_kept(tmp_path):
    alive = tmp_path / f".leadscore-{os.getppid()}-abc123.tmp"
    alive.write_text("being written")
    locked = tmp_path / f".leadscore-{_dead_pid()}-def456.tmp"   # a writer elsewhere holds its lock
    locked.write_text("being written")
    other = tmp_path / ".leadscore-notes.tmp"   # not a name leadscore gives
    other.write_text("mine")
    with open(locked) as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        write_atomically(str(tmp_path / "scores.csv"), "lead_id\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([alive.name, locked.name, other.name,
                                                                   "scores.csv"])


def test_the_temporary_file_is_named_after_its_writer_and_locked(tmp_path):
    with atomic_file(str(tmp_path / "scores.csv")) as handle:
        [temporary] = [p for p in tmp_path.iterdir() if p.name.startswith(".leadscore-")]
        assert temporary.name.startswith(f".leadscore-{os.getpid()}-")
        with open(temporary) as other, pytest.raises(BlockingIOError):
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        handle.write("x")


def test_a_named_pipe_is_written_through_not_replaced_by_a_plain_file(tmp_path):
    # `-o /dev/null` run as root once replaced /dev/null itself: a device or pipe is written in place
    import stat
    import threading

    pipe = tmp_path / "out"
    os.mkfifo(pipe)
    received = []
    reader = threading.Thread(target=lambda: received.append(pipe.read_text()), daemon=True)
    reader.start()
    write_atomically(str(pipe), "lead_id\nL1\n")
    reader.join(timeout=10)
    assert received == ["lead_id\nL1\n"]
    assert stat.S_ISFIFO(os.stat(pipe).st_mode)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_the_null_device_stays_a_device():
    import stat

    write_atomically(os.devnull, "discarded\n")
    assert stat.S_ISCHR(os.stat(os.devnull).st_mode)
