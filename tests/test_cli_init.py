"""`leadscore init`: the scaffolded project works as created."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest
import yaml
from click.testing import CliRunner

from leadscore.cli import main
from leadscore.commands.init_settings import installed_requirement, requirement_from_option


def run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_init_creates_a_project_that_checks_and_is_formatted(tmp_path):
    project = tmp_path / "rules-project"
    result = run("init", str(project))
    assert result.exit_code == 0, result.output
    for name in ("rules/scoring.score", "rules/schema.yaml", "rules/scoring.test.yaml",
                 "history/leads.csv",
                 "history/events.csv", "history/outcomes.csv", ".github/workflows/leadscore.yml",
                 ".pre-commit-config.yaml", "README.md"):
        assert (project / name).is_file(), name
    assert run("check", "--strict", str(project / "rules")).exit_code == 0
    assert run("fmt", "--check", str(project / "rules")).exit_code == 0
    tested = run("test", "--coverage-min", "100", str(project / "rules"))
    assert tested.exit_code == 0, tested.output


def test_workflow_runs_every_gate_and_installs_the_requested_requirement(tmp_path):
    requirement = 'leadscore @ git+https://example.test/org/leadscore@v1 "quoted"'
    assert run("init", str(tmp_path), "--requirement", requirement).exit_code == 0
    workflow = yaml.safe_load((tmp_path / ".github/workflows/leadscore.yml").read_text())
    steps = workflow["jobs"]["rules"]["steps"]
    commands = " ".join(step.get("run", "") for step in steps)
    for gate in ("leadscore check --format github", "leadscore fmt --check", "leadscore test",
                 "leadscore simulate", "GITHUB_STEP_SUMMARY"):
        assert gate in commands, gate
    install = next(step for step in steps if step.get("name") == "Install leadscore")
    assert install["env"]["LEADSCORE_REQUIREMENT"] == requirement


def test_pre_commit_configuration_is_valid_yaml_with_the_hooks(tmp_path):
    assert run("init", str(tmp_path)).exit_code == 0
    config = yaml.safe_load((tmp_path / ".pre-commit-config.yaml").read_text())
    hooks = {hook["id"] for repo in config["repos"] for hook in repo["hooks"]}
    assert hooks == {"leadscore-fmt", "leadscore-check", "leadscore-test"}


def test_init_never_overwrites(tmp_path):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "scoring.score").write_text("# mine\n")
    result = CliRunner().invoke(main, ["init", str(tmp_path)])
    assert result.exit_code == 2
    assert "rules/scoring.score" in result.output
    assert (tmp_path / "rules" / "scoring.score").read_text() == "# mine\n"
    assert not (tmp_path / "README.md").exists()


def test_shipped_pre_commit_hooks_name_real_commands():
    from pathlib import Path

    hooks = yaml.safe_load((Path(__file__).parent.parent / ".pre-commit-hooks.yaml").read_text())
    assert {hook["id"] for hook in hooks} == {"leadscore-fmt", "leadscore-check", "leadscore-test"}
    for hook in hooks:
        command = hook["entry"].split()[1]
        assert run(command, "--help").exit_code == 0, command


# --- the requirement CI and pre-commit install ------------------------------------------------

@pytest.mark.parametrize("given, written", [
    ("0.2.0", "leadscore==0.2.0"),
    (" 1.0rc1 ", "leadscore==1.0rc1"),
    ("git+https://github.com/org/leadscore@v0.2.0", "leadscore @ git+https://github.com/org/leadscore@v0.2.0"),
    ("https://example.test/leadscore-0.2.0-py3-none-any.whl",
     "leadscore @ https://example.test/leadscore-0.2.0-py3-none-any.whl"),
    ("./wheels/leadscore-0.2.0-py3-none-any.whl", "./wheels/leadscore-0.2.0-py3-none-any.whl"),
    ("leadscore>=0.2,<0.3", "leadscore>=0.2,<0.3"),
    ("leadscore @ git+https://github.com/org/leadscore@main", "leadscore @ git+https://github.com/org/leadscore@main"),
])
def test_requirement_option_takes_a_version_a_url_a_path_or_a_requirement(given, written):
    assert requirement_from_option(given).spec == written


@pytest.mark.parametrize("given, warns", [("./wheels/leadscore-0.2.0-py3-none-any.whl", True),
                                          ("../leadscore", True), ("wheels/leadscore-0.2.0.tar.gz", True),
                                          ("/opt/wheels/leadscore-0.2.0-py3-none-any.whl", False),
                                          ("0.2.0", False), ("leadscore>=0.2", False)])
def test_a_relative_path_warns_that_pre_commit_cannot_use_it(given, warns):
    chosen = requirement_from_option(given)
    assert (chosen.warning is not None) == warns
    if warns:
        assert "pre-commit" in chosen.warning


@pytest.mark.parametrize("given", ["", "   ", "leadscore\nrun: evil", "0.1\x1b[2J",
                                   "leadscore==${{ secrets.TOKEN }}"])
def test_a_requirement_that_is_not_one_printable_line_is_a_usage_error(tmp_path, given):
    with pytest.raises(ValueError):
        requirement_from_option(given)
    result = CliRunner().invoke(main, ["init", str(tmp_path / "p"), "--requirement", given])
    assert result.exit_code == 2 and "--requirement" in result.output
    assert not (tmp_path / "p").exists()


class _Installed:
    """A stand-in for the installed distribution's metadata."""

    def __init__(self, direct_url: str | None, version: str = "0.3.1"):
        self.version, self.direct_url = version, direct_url

    def read_text(self, name: str) -> str | None:
        return self.direct_url if name == "direct_url.json" else None


@pytest.mark.parametrize("direct_url, spec, warns", [
    (None, "leadscore==0.3.1", False),                                      # from an index
    ('{"url": "https://github.com/org/leadscore", "vcs_info": {"vcs": "git", "commit_id": "abc123"}}',
     "leadscore @ git+https://github.com/org/leadscore@abc123", False),
    ('{"url": "file:///home/me/leadscore", "dir_info": {"editable": true}}', "leadscore==0.3.1", True),
    ('{"url": "file:///home/me/leadscore", "dir_info": {}}', "leadscore==0.3.1", True),
    ('{"url": "file:///tmp/leadscore-0.3.1-py3-none-any.whl", "archive_info": {}}', "leadscore==0.3.1", True),
    ('{"url": "file:///home/me/leadscore", "vcs_info": {"vcs": "git", "commit_id": "abc"}}',
     "leadscore==0.3.1", True),                                             # a local clone
    ("not json", "leadscore==0.3.1", True),
])
def test_default_requirement_is_how_leadscore_itself_was_installed(monkeypatch, direct_url, spec, warns):
    from importlib import metadata

    monkeypatch.setattr(metadata, "distribution", lambda name: _Installed(direct_url))
    chosen = installed_requirement()
    assert chosen.spec == spec
    assert (chosen.warning is not None) == warns


def test_a_leadscore_that_is_not_installed_gets_the_latest_release_and_a_warning(monkeypatch):
    from importlib import metadata

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", missing)
    chosen = installed_requirement()
    assert chosen.spec == "leadscore" and "--requirement" in chosen.warning


def test_init_warns_loudly_when_ci_cannot_install_this_leadscore(tmp_path, monkeypatch):
    from importlib import metadata

    monkeypatch.setattr(metadata, "distribution",
                        lambda name: _Installed('{"url": "file:///src", "dir_info": {"editable": true}}'))
    result = CliRunner().invoke(main, ["init", str(tmp_path / "p")])
    assert result.exit_code == 0
    assert "WARNING: this leadscore is an editable install" in result.stderr
    assert "--requirement" in result.stderr
    quiet = CliRunner().invoke(main, ["init", str(tmp_path / "q"), "--requirement", "0.3.1"])
    assert quiet.exit_code == 0 and "WARNING" not in quiet.stderr


def test_pre_commit_hooks_install_the_requirement_with_language_python(tmp_path):
    requirement = "leadscore @ git+https://example.test/org/leadscore@v1"
    assert run("init", str(tmp_path), "--requirement", requirement).exit_code == 0
    config = yaml.safe_load((tmp_path / ".pre-commit-config.yaml").read_text())
    hooks = [hook for repo in config["repos"] for hook in repo["hooks"]]
    assert len(hooks) == 3
    for hook in hooks:
        assert hook["language"] == "python"
        assert hook["additional_dependencies"] == [requirement]


@pytest.mark.parametrize("requirement", ["0.1.0", 'leadscore @ git+https://example.test/o/l@v1 "q" #x: {y}'])
def test_pre_commit_accepts_the_generated_configuration(tmp_path, requirement):
    pytest.importorskip("pre_commit", reason="pre-commit is a test dependency (pip install -e '.[test]')")
    assert run("init", str(tmp_path / "p"), "--requirement", requirement).exit_code == 0
    config = tmp_path / "p" / ".pre-commit-config.yaml"

    def validate() -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pre_commit", "validate-config", str(config)],
                              capture_output=True, text=True, timeout=120, check=False)

    assert validate().returncode == 0, validate().stdout
    config.write_text(config.read_text().replace("language: python", "language: pythn", 1))
    assert validate().returncode == 1          # the validator is not a rubber stamp


# --- the default branch ------------------------------------------------------------------------

@pytest.fixture
def git_home(tmp_path, monkeypatch):
    """Git that sees no configuration but the test's, and no repository above tmp_path."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    config = tmp_path / "gitconfig"
    config.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(config))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    return config


def _git(folder, *args):
    subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True)


def _branch_in_files(project) -> tuple[list[str], str]:
    workflow = yaml.safe_load((project / ".github/workflows/leadscore.yml").read_text())
    readme = (project / "README.md").read_text()
    return workflow[True]["push"]["branches"], readme   # YAML 1.1 reads the key `on` as True


def test_the_branch_of_a_new_repository_is_used(tmp_path, git_home):
    repo = tmp_path / "rules"
    repo.mkdir()
    _git(repo, "init", "-q", "-b", "trunk")
    result = run("init", str(repo / "scoring"))
    assert result.exit_code == 0 and "the default branch is 'trunk'" in result.output
    branches, readme = _branch_in_files(repo / "scoring")
    assert branches == ["trunk"]
    assert "--against trunk" in readme and "--against main" not in readme


def test_the_remote_default_branch_wins_over_the_current_one(tmp_path, git_home):
    _git(tmp_path, "init", "-q", "-b", "feature/new-rules")
    _git(tmp_path, "symbolic-ref", "refs/remotes/origin/HEAD", "refs/remotes/origin/production")
    assert run("init", str(tmp_path / "p")).exit_code == 0
    assert _branch_in_files(tmp_path / "p")[0] == ["production"]


def test_outside_a_repository_git_s_init_default_branch_else_main(tmp_path, git_home):
    assert run("init", str(tmp_path / "a")).exit_code == 0
    assert _branch_in_files(tmp_path / "a")[0] == ["main"]
    git_home.write_text("[init]\n\tdefaultBranch = develop\n")
    assert run("init", str(tmp_path / "b")).exit_code == 0
    assert _branch_in_files(tmp_path / "b")[0] == ["develop"]


def test_a_branch_name_unfit_for_the_files_falls_back_to_main_with_a_warning(tmp_path, git_home):
    _git(tmp_path, "init", "-q", "-b", "rules\"`$(id)`<b>")
    result = CliRunner().invoke(main, ["init", str(tmp_path / "p"), "--requirement", "0.1.0"])
    assert result.exit_code == 0
    assert "WARNING: the default branch's name" in result.stderr
    branches, readme = _branch_in_files(tmp_path / "p")
    assert branches == ["main"] and "$(id)" not in readme
