"""`leadscore lsp`: the language server, over standard input and output."""

from __future__ import annotations

import click


@click.command("lsp")
@click.option("--stdio", is_flag=True, help="Talk over standard input/output (the only transport; "
              "accepted because editors pass it).")
def command(stdio: bool) -> None:
    """Run the language server for rule files (diagnostics, completion, hover,
    go to definition, rename, formatting, ...) for an editor to talk to."""
    from ..lsp.malformed import configure_logging
    from ..lsp.server import server

    configure_logging()
    server.start_io()
