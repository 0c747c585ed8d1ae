"""PyYAML's syntax errors in plain words, for schema and test files.

PyYAML speaks of `<block end>` and `<block mapping start>`; the people who
edit these files think in lines, indentation, quotes and brackets. Each
known problem gets a message and a fix, placed at the line to change.
"""

from __future__ import annotations

import yaml


def plain_yaml_error(exc: yaml.MarkedYAMLError) -> tuple[str, str, object] | None:
    """(message, hint, mark to report at) for a syntax error PyYAML raised,
    or None when it is not one of the known kinds. Built only from PyYAML's
    problem and context texts and marks: never from the file's contents."""
    problem, context = exc.problem or "", exc.context or ""
    where = exc.context_mark
    at_line = f"line {where.line + 1}" if where is not None else "the lines above"
    if problem.startswith("found unexpected end of stream") and "quoted scalar" in context:
        return ("this quoted text is never closed", "close it with the same quote on the same line",
                where or exc.problem_mark)
    if problem.startswith("found character '\\t'"):
        return ("a tab character: YAML files are indented with spaces",
                "replace the tab with spaces", exc.problem_mark)
    if problem.startswith("expected ',' or ']'"):
        return (f"the list opened with `[` on {at_line} is not closed",
                "close it with `]` on the same line, with a comma between items", exc.problem_mark)
    if problem.startswith("expected ',' or '}'"):
        return (f"the mapping opened with `{{` on {at_line} is not closed",
                "close it with `}` on the same line, with a comma between entries",
                exc.problem_mark)
    if problem.startswith("could not find expected ':'"):
        return ("this key has no `:` after it", "write `key: value`, with a space after the colon",
                where or exc.problem_mark)
    if problem == "mapping values are not allowed here":
        return ("this line has a `:` that YAML cannot read here",
                "indent this line like the keys above it, or put a value containing `: ` in quotes",
                exc.problem_mark)
    if "'-'" in problem and ("block collection" in context or "indicator" in problem):
        return (f"list items (`- `) and keys are mixed in the block that starts on {at_line}",
                "a block holds either `key: value` lines or `- item` lines, at one indentation",
                exc.problem_mark)
    if problem.startswith(("expected <block end>", "did not find expected key")):
        return (f"this line does not line up with the block that starts on {at_line}",
                "keys of one block start in the same column; indent with spaces",
                exc.problem_mark)
    return None


# What people write for the schema's types, and the type to write instead.
TYPE_SYNONYMS = {"integer": "number", "int": "number", "float": "number", "decimal": "number",
                 "double": "number", "text": "string", "str": "string", "bool": "boolean",
                 "date": "datetime", "timestamp": "datetime", "time": "datetime",
                 "array": "list", "tags": "list"}
