"""The one module that runs Git: its answers, and how it fails."""

from __future__ import annotations

import subprocess

import pytest

from pathlib import PurePosixPath

from leadscore.git import (GitFailed, GitMissing, NoSuchRevision, NotInRevision, file_at_revision, git_answer,
                           run_git, text_at_revision)


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


def _committed(repository, files: dict[str, str]) -> None:
    for name, text in files.items():
        (repository / name).parent.mkdir(parents=True, exist_ok=True)
        (repository / name).write_text(text)
    subprocess.run(["git", "-C", str(repository), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(repository), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"],
                   check=True)


def test_a_file_at_a_revision_is_its_committed_text_and_place(tmp_path):
    repository = _repository(tmp_path / "repo")
    _committed(repository, {"rules/a.score": "old\n", "rules/schema.yaml": "s\n"})
    (repository / "rules" / "a.score").write_text("new\n")
    found = file_at_revision(str(repository / "rules" / "a.score"), "HEAD")
    assert (found.relative, found.text) == (PurePosixPath("rules/a.score"), "old\n")
    assert text_at_revision(found.root, "HEAD", PurePosixPath("rules/schema.yaml")) == "s\n"
    with pytest.raises(GitFailed):
        text_at_revision(found.root, "HEAD", PurePosixPath("rules/nothing.yaml"))


def test_a_missing_revision_or_file_is_told_apart(tmp_path):
    repository = _repository(tmp_path / "repo")
    _committed(repository, {"a.score": "x\n"})
    (repository / "b.score").write_text("new\n")
    with pytest.raises(NoSuchRevision) as error:
        file_at_revision(str(repository / "a.score"), "no-such-branch")
    assert error.value.root == str(repository.resolve())
    with pytest.raises(NotInRevision):
        file_at_revision(str(repository / "b.score"), "HEAD")
