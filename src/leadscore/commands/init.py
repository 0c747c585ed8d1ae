"""`leadscore init DIR`: a working rules project to start from."""

from __future__ import annotations

import sys

import click

# Template path (inside leadscore/templates/init) -> path in the new project.
# Dot-files are stored without their dot so packaging keeps them.
_RENAMED = {
    "github/workflows/leadscore.yml": ".github/workflows/leadscore.yml",
    "pre-commit-config.yaml": ".pre-commit-config.yaml",
}


@click.command("init")
@click.argument("directory", type=click.Path(file_okay=False))
@click.option("--requirement", metavar="SPEC",
              help="What CI and pre-commit install: a version (0.2.0), a Git URL "
                   "(git+https://github.com/ORG/leadscore@v0.2.0), a path to a wheel, or any pip "
                   "requirement. Default: the leadscore running now, when it is a release.")
def command(directory: str, requirement: str | None) -> None:
    """Create a rules project in DIRECTORY: a ruleset, its schema, tests
    covering every rule, a small history, a GitHub Actions workflow and a
    pre-commit configuration.

    Existing files are never overwritten: the command stops (exit 2) when
    any of them is already there.
    """
    from pathlib import Path

    from .common import write_atomically
    from .init_settings import default_branch, installed_requirement, requirement_from_option

    if requirement is None:
        chosen = installed_requirement()
    else:
        try:
            chosen = requirement_from_option(requirement)
        except ValueError as error:
            raise click.BadParameter(str(error), param_hint="'--requirement'") from None
    target = Path(directory)
    files = dict(_template_files())
    clashes = sorted(name for name in files if (target / name).exists())
    if clashes:
        click.echo(f"{directory}: not created: these files are already there: "
                   + ", ".join(clashes), err=True)
        sys.exit(2)
    branch, branch_warning = default_branch(target.resolve())
    # Both values go into YAML as JSON strings (valid YAML) and are printable single lines.
    values = {'"{{requirement}}"': _yaml_string(chosen.spec),
              '"{{default_branch}}"': _yaml_string(branch), "{{default_branch}}": branch}
    for name, text in sorted(files.items()):
        for placeholder, value in values.items():
            text = text.replace(placeholder, value)
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(str(path), text)
    click.echo(f"created {len(files)} files in {directory}; CI and pre-commit install "
               f"{chosen.spec!r}; the default branch is {branch!r}. Next:\n"
               f"  cd {directory}\n"
               "  leadscore check rules/ && leadscore test rules/\n"
               "  leadscore simulate rules/scoring.score --history history/")
    for warning in (chosen.warning, branch_warning):
        if warning:
            click.secho(f"\nWARNING: {warning}", err=True, fg="yellow", bold=True)


def _template_files():
    """(project path, text) of every template file."""
    from importlib import resources

    root = resources.files("leadscore.templates").joinpath("init")
    stack = [(root, "")]
    while stack:
        folder, prefix = stack.pop()
        for entry in folder.iterdir():
            name = prefix + entry.name
            if entry.is_dir():
                stack.append((entry, name + "/"))
            elif not entry.name.startswith((".", "__")):
                yield _RENAMED.get(name, name), entry.read_text("utf-8")


def _yaml_string(text: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is valid YAML)."""
    import json

    return json.dumps(text)
