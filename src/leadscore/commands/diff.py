"""`leadscore diff`: what changed between two rulesets, in review terms (docs/diff.md)."""

from __future__ import annotations

import os
import sys

import click

from ..safe_text import shown

_FORMATS = {".json": "json", ".md": "markdown", ".markdown": "markdown"}
# Like diff(1): 1 means "they differ", 2 means trouble.
_TROUBLE = 2
# What the old side is when the rule file does not exist at the revision.
_NEW = object()


@click.command("diff")
@click.argument("old", metavar="OLD", type=click.Path(exists=True, dir_okay=False))
@click.argument("new", metavar="[NEW]", required=False, type=click.Path(exists=True, dir_okay=False))
@click.option("--against", metavar="REV",
              help="Compare the one rule file as it is at this Git revision with the file as it is now.")
@click.option("--format", "output_format", type=click.Choice(["text", "markdown", "json"]),
              help="Output format (default: from the -o extension, else text).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the diff to this file.")
@click.option("--allow-schema-outside", is_flag=True,
              help="Allow a schema path that leads outside the rule file's folder.")
def command(old: str, new: str | None, against: str | None, output_format: str | None,
            output: str | None, allow_schema_outside: bool) -> None:
    """Show what changed between two rulesets: rules added, removed, moved, renamed or
    changed (points, conditions, modifiers, groups), score options, constants, derived
    scores, thresholds, segments, the header, and the schema's fields, event types,
    properties and values. Layout, comments and order are not changes. A rule file that
    does not exist at REV is a new ruleset: everything in it is added.

    \b
    leadscore diff OLD NEW                two rule files
    leadscore diff RULESET --against REV  RULESET at Git revision REV -> RULESET now

    Exit status: 0 no semantic change, 1 changes, 2 usage error or a ruleset that
    does not check (its diagnostics on standard error).
    """
    from ..dsl import ast
    from ..rulediff import compare
    from ..rulediff.render import render_json, render_markdown, render_text
    from ..rulediff.schema import compare_schemas
    from .common import write_atomically

    if (new is None) == (against is None):
        raise click.UsageError("give two rule files (OLD NEW), or one rule file and --against REV")
    new_ruleset = False
    if against is None:
        before, after = _load(old, allow_schema_outside), _load(new, allow_schema_outside)
        labels = (old, new)
    else:
        before, after = _at_revision(old, against, allow_schema_outside), _load(old, allow_schema_outside)
        labels = (f"{old}@{against}", old)
        new_ruleset = before is _NEW
    if before is None or after is None:
        sys.exit(_TROUBLE)

    if new_ruleset:
        # Everything the new file declares is an addition; its schema has nothing to compare with.
        changes, schema = compare(ast.Ruleset(labels[0], (), ()), after.ruleset), ()
    else:
        changes, schema = compare(before.ruleset, after.ruleset), compare_schemas(before.schema, after.schema)
    output_format = output_format or _FORMATS.get(os.path.splitext(output or "")[1].lower(), "text")
    if output_format == "json":
        text = render_json(changes, schema, new_ruleset)
    elif output_format == "markdown":
        text = render_markdown(changes, *labels, schema, new_ruleset)
    else:
        text = render_text(changes, schema, new_ruleset)
    if output is None:
        click.echo(text, nl=False)
    else:
        try:
            write_atomically(output, text)
        except OSError as error:
            click.echo(shown(f"error: {output}: {error.strerror or error}"), err=True)
            sys.exit(_TROUBLE)
        click.echo(shown(f"wrote {output}"), err=True)
    sys.exit(1 if changes or schema or new_ruleset else 0)


def _load(path: str, allow_outside: bool):
    """The checked ruleset, or None after showing why it does not check."""
    from ..loader import load_ruleset

    loaded = load_ruleset(path, allow_outside_schema=allow_outside)
    if loaded.checked is None:
        _show(path, loaded.diagnostics, loaded.sources)
    return loaded.checked


def _at_revision(path: str, revision: str, allow_outside: bool):
    from ..simulator import variants
    from .common import ruleset_at_revision

    try:
        return ruleset_at_revision(path, revision, allow_outside)
    except variants.NotAtRevision:
        return _NEW
    except variants.UsageError as error:
        raise click.UsageError(shown(error)) from None
    except variants.RulesetProblems as problems:
        _show(str(problems), problems.diagnostics, problems.sources)
        return None


def _show(label: str, diagnostics, sources: dict[str, str]) -> None:
    """Every diagnostic as `leadscore check` prints it, on standard error."""
    from ..dsl.diagnostics import render_each, sort_key

    for text in render_each(sorted(diagnostics, key=sort_key), sources):
        click.echo(text, err=True)
        click.echo(err=True)
    errors = sum(d.is_error for d in diagnostics)
    click.echo(shown(f"{label}: {errors} error{'s' * (errors != 1)}; fix them before comparing"), err=True)
