"""The one module that runs Git: its answers, and how it fails."""

from __future__ import annotations

import subprocess

import pytest

from leadscore.git import GitFailed, GitMissing, git_answer, run_git


def _repository(folder):
    subprocess.run(["git", "init", "-q", "-b", "trunk", str(folder)], check=True)
    return folder


def test_run_git_gives_the_output_of_the_command(tmp_path):
    repository = _repository(tmp_path)
    assert run_git(repository, "symbolic-ref", "--short", "HEAD") == "trunk\n"


def test_a_refusal_carries_the_command_and_gits_first_line(tmp_path):
    with pytest.raises(GitFailed) as error:
        run_git(tmp_path, "rev-parse", "--show-toplevel")
    assert str(error.value).startswith("git rev-parse --show-toplevel: fatal: not a git repository")
    assert "\n" not in str(error.value)


def test_without_git_installed_the_failure_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(GitMissing):
        run_git(tmp_path, "status")
    assert git_answer(tmp_path, "status") is None


def test_git_answer_is_one_line_or_none(tmp_path):
    repository = _repository(tmp_path / "repo")
    assert git_answer(repository, "symbolic-ref", "--short", "HEAD") == "trunk"
    assert git_answer(repository, "config", "--get", "no.such-key") is None   # exit 1, no output
    assert git_answer(tmp_path, "rev-parse", "--show-toplevel") is None       # not a repository
    assert git_answer(repository, "rev-parse", "--git-dir", "--git-path", "x") is None   # two lines
