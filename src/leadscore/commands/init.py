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
              help="What CI installs (default: this leadscore version from PyPI), "
                   "e.g. 'leadscore @ git+https://github.com/ORG/leadscore@v0.1.0'.")
def command(directory: str, requirement: str | None) -> None:
    """Create a rules project in DIRECTORY: a ruleset, its schema, tests
    covering every rule, a small history, a GitHub Actions workflow and a
    pre-commit configuration.

    Existing files are never overwritten: the command stops (exit 2) when
    any of them is already there.
    """
    from importlib import metadata
    from pathlib import Path

    from .common import write_atomically

    files = dict(_template_files())
    if requirement is None:
        requirement = f"leadscore=={metadata.version('leadscore')}"
    target = Path(directory)
    clashes = sorted(name for name in files if (target / name).exists())
    if clashes:
        click.echo(f"{directory}: not created: these files are already there: "
                   + ", ".join(clashes), err=True)
        sys.exit(2)
    for name, text in sorted(files.items()):
        if name == ".github/workflows/leadscore.yml":
            text = text.replace('"{{requirement}}"', _yaml_string(requirement))
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(str(path), text)
    click.echo(f"created {len(files)} files in {directory}. Next:\n"
               f"  cd {directory}\n"
               "  leadscore check rules/ && leadscore test rules/\n"
               "  leadscore simulate rules/scoring.score --history history/")


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
