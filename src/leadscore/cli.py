"""The `leadscore` command: a group whose subcommands live in
`leadscore.commands.*` and are imported only when used.

Each command module keeps its heavy imports (Lark, the checker, pyarrow)
inside the command function, so `leadscore --help` and CI start-up stay fast.
"""

from __future__ import annotations

import importlib

import click

from .cache import keep_grammar_tables

# Command name -> module in leadscore.commands defining a click command `command`.
COMMANDS = {
    "check": "check",
    "fmt": "fmt",
    "compile": "compile",
    "init": "init",
    "test": "test",
    "calibrate": "calibrate",
    "score": "score",
    "explain": "explain",
    "simulate": "simulate",
    "diff": "diff",
    "lsp": "lsp",
    "schema": "schema",
}


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when it is needed."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        module = COMMANDS.get(name)
        if module is None:
            return None
        return importlib.import_module(f"leadscore.commands.{module}").command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="leadscore", message="%(prog)s %(version)s")
def main() -> None:
    """Lead scoring as code: check, compile and simulate scoring rules."""
    keep_grammar_tables()


if __name__ == "__main__":  # pragma: no cover
    main()
