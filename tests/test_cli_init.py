"""`leadscore init`: the scaffolded project works as created."""

from __future__ import annotations

import yaml
from click.testing import CliRunner

from leadscore.cli import main


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
