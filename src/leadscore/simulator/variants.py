"""The rulesets a simulation compares (docs/simulate.md): a file, the same file at a Git
revision (read with that revision's schema), or a ruleset with constants overridden.

`--set NAME=VALUE` parses VALUE as a literal of the language and checks the ruleset again,
so a value of the wrong type, or one the rules cannot use, is reported like any error of
the file. For a string constant a bare value is taken as the text itself (`--set
plan=enterprise`); a quoted literal works too. A name with spaces is written bare or
back-quoted (`--set 'mql bar=20'`, ``--set '`mql bar`=20'``).
"""

from __future__ import annotations

import difflib
import math
import os
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from pathlib import PurePosixPath

from ..dsl import ast
from ..dsl import types as t
from ..dsl.checker import CheckedRuleset, check
from ..dsl.diagnostics import Diagnostic, make
from ..dsl.parser import parse
from ..dsl.schema import parse_schema_and_excerpts
from ..loader import load_ruleset, schema_inside, schema_outside

MAX_SWEEP_VALUES = 1000


class UsageError(Exception):
    """A bad option (exit 2)."""


class NotAtRevision(UsageError):
    """The rule file does not exist at the revision: a new ruleset."""


class RulesetProblems(Exception):
    """A ruleset that does not check (exit 1): every diagnostic, with the texts to show them."""

    def __init__(self, what: str, diagnostics: list[Diagnostic], sources: dict[str, str]):
        super().__init__(what)
        self.diagnostics = diagnostics
        self.sources = sources


@dataclass(frozen=True)
class Variant:
    name: str                     # "baseline" or "candidate"
    checked: CheckedRuleset
    source: str                   # where it comes from, for the report
    warnings: tuple[Diagnostic, ...] = ()


def load_file(path: str, allow_outside: bool) -> tuple[CheckedRuleset, tuple[Diagnostic, ...]]:
    loaded = load_ruleset(path, allow_outside_schema=allow_outside)
    if loaded.checked is None:
        raise RulesetProblems(path, loaded.diagnostics, loaded.sources)
    return loaded.checked, tuple(loaded.diagnostics)


# --- a Git revision --------------------------------------------------------------------------
# Git runs at the edge (commands.common.ruleset_at_revision, through leadscore.git): this stage
# is given the texts as they were at the revision.

@dataclass(frozen=True)
class ParsedAtRevision:
    """A rule file's text at a revision, parsed, and where its schema is at that revision."""

    display: str                        # `path@revision`, where its diagnostics point
    text: str
    ruleset: ast.Ruleset
    diagnostics: tuple[Diagnostic, ...]
    schema: PurePosixPath | None        # the schema's path in the repository, to read at the
                                        # revision; None: no header, or one it may not read
    schema_display: str | None = None


def parse_at_revision(path: str, revision: str, relative: PurePosixPath, text: str,
                      allow_outside: bool) -> ParsedAtRevision:
    """`text`, the rule file `path` (at `relative` in the repository) as it was at `revision`."""
    display = f"{path}@{revision}"
    ruleset, diagnostics = parse(text, display)
    header = ruleset.schema
    if header is None:
        return ParsedAtRevision(display, text, ruleset, tuple(diagnostics), None)
    target = PurePosixPath(os.path.normpath(str(relative.parent / header.path.value)).replace(os.sep, "/"))
    # A schema above the repository's root is not in the revision, whatever the flag says.
    if target.parts[:1] == ("..",) or (not allow_outside and not schema_inside(relative.parent, target)):
        return ParsedAtRevision(display, text, ruleset, (*diagnostics, schema_outside(header.path.span)), None)
    schema_display = f"{os.path.normpath(os.path.join(os.path.dirname(path), header.path.value))}@{revision}"
    return ParsedAtRevision(display, text, ruleset, tuple(diagnostics), target, schema_display)


def check_at_revision(parsed: ParsedAtRevision, schema_text: str | None) -> CheckedRuleset:
    """The parsed rule file checked against `schema_text`, its schema at the same revision (None:
    not there, or not asked for)."""
    sources = {parsed.display: parsed.text}
    diagnostics = list(parsed.diagnostics)
    schema = None
    header = parsed.ruleset.schema
    if parsed.schema is not None and schema_text is None:
        diagnostics.append(make("LS600", f"no schema file at {parsed.schema_display}", header.path.span,
                                "the path is relative to the rule file"))
    elif parsed.schema is not None:
        # Only what the schema format knows may be shown: the revision's rule file can name any
        # file in the repository as its schema.
        schema, found, sources[parsed.schema_display] = parse_schema_and_excerpts(schema_text, parsed.schema_display)
        diagnostics.extend(found)
    checked, found = check(parsed.ruleset, schema)
    diagnostics.extend(found)
    if checked is None or any(d.is_error for d in diagnostics):
        raise RulesetProblems(parsed.display, diagnostics, sources)
    return checked


# --- constants overridden ----------------------------------------------------------------------

def split_setting(value: str) -> tuple[str, str] | None:
    """NAME=REST -> (NAME, REST), or None without `=`. NAME is written bare (`mql bar=20`, up to the
    first `=`) or back-quoted as in a rule file (`` `mql bar`=20 ``, which may hold `=`); the
    quotes are not part of the name."""
    stripped = value.lstrip()
    if stripped.startswith("`"):
        close = stripped.find("`", 1)
        if close > 1 and stripped[close + 1:].lstrip().startswith("="):
            rest = stripped[close + 1:].lstrip()[1:]
            return stripped[1:close], rest
    name, sep, rest = value.partition("=")
    return (name.strip(), rest) if sep else None


def parse_settings(values: tuple[str, ...]) -> list[tuple[str, str]]:
    out = []
    for value in values:
        found = split_setting(value)
        if found is None or not found[0] or not found[1].strip():
            raise UsageError(f"--set {value}: write NAME=VALUE, e.g. --set mql_interest=60")
        out.append((found[0], found[1].strip()))
    return out


_KINDS = {ast.Number: t.NUMBER, ast.String: t.STRING, ast.Bool: t.BOOLEAN, ast.DateTime: t.DATETIME,
          ast.Duration: t.DURATION, ast.ListLit: t.LIST}


def _constant(checked: CheckedRuleset, name: str, option: str) -> ast.ConstDecl:
    decls = [d for d in checked.ruleset.declarations if isinstance(d, ast.ConstDecl)]
    found = next((d for d in decls if d.name.name == name), None)
    if found is None:
        names = [d.name.name for d in decls]
        close = difflib.get_close_matches(name, names, 1)
        hint = f"; did you mean `{close[0]}`?" if close else (
            f"; its constants are {', '.join(names)}" if names else "; it declares no constant")
        raise UsageError(f"{option}: the ruleset has no constant `{name}`{hint}")
    return found


def _quoted(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return '"' + "".join(c if c >= " " else f"\\u{ord(c):04x}" for c in escaped) + '"'


def override(checked: CheckedRuleset, settings: list[tuple[str, str]], option: str = "--set") -> CheckedRuleset:
    """The ruleset with constants replaced and checked again."""
    statements = list(checked.ruleset.statements)
    sources: dict[str, str] = {}
    for name, text in settings:
        decl = _constant(checked, name, option)
        kind = checked.constant_types[name].kind
        if kind == t.STRING and not text.startswith('"'):
            text = _quoted(text)
        file = f"{option} {name}"
        # The value is read on its own: the name may need back-quotes the option did not carry.
        source = f'ruleset "x" version 1\nschema "x"\nconst value = {text}\n'
        parsed, diagnostics = parse(source, file)
        values = [d for d in parsed.declarations if isinstance(d, ast.ConstDecl)]
        if any(d.is_error for d in diagnostics) or len(values) != 1:
            raise UsageError(f"{option} {name}={text}: not a value the language can read")
        value = values[0].value
        if _KINDS.get(type(value)) != kind:
            raise UsageError(f"{option} {name}={text}: `{name}` is {t.a_or_an(checked.constant_types[name])}")
        sources[file] = source
        statements[statements.index(decl)] = replace(decl, value=value)
    ruleset = replace(checked.ruleset, statements=tuple(statements))
    result, diagnostics = check(ruleset, checked.schema)
    if result is None:
        raise RulesetProblems(f"{checked.ruleset.file} with {option}", diagnostics, sources)
    return result


# --- a sweep ----------------------------------------------------------------------------------------

def sweep_values(checked: CheckedRuleset, spec: str) -> tuple[str, list[float]]:
    """NAME=START:STOP:STEP -> (NAME, [START + i * STEP up to STOP inclusive])."""
    name, rest = split_setting(spec) or ("", "")
    parts = rest.split(":")
    if not name or len(parts) != 3:
        raise UsageError(f"--sweep {spec}: write NAME=START:STOP:STEP, e.g. --sweep mql_interest=40:80:5")
    _constant(checked, name, "--sweep")
    if checked.constant_types[name].kind != t.NUMBER:
        raise UsageError(f"--sweep {spec}: `{name}` is not a number")
    try:
        start, stop, step = (Decimal(p.strip()) for p in parts)
    except InvalidOperation:
        raise UsageError(f"--sweep {spec}: START, STOP and STEP are numbers") from None
    if not all(v.is_finite() for v in (start, stop, step)) or step == 0 or (stop - start) / step < 0:
        raise UsageError(f"--sweep {spec}: STEP must be non-zero and lead from START to STOP")
    count = int((stop - start) / step) + 1
    if count > MAX_SWEEP_VALUES:
        raise UsageError(f"--sweep {spec}: {count} values; at most {MAX_SWEEP_VALUES}")
    return name, [float(start + i * step) for i in range(count)]


def literal(value: float) -> str:
    """A number as a literal of the language (no exponent)."""
    text = format(Decimal(repr(value)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


# --- for the report ---------------------------------------------------------------------------------

def constants_json(checked: CheckedRuleset) -> dict:
    out = {}
    for decl in checked.ruleset.declarations:
        if isinstance(decl, ast.ConstDecl):
            out[decl.name.name] = _json_value(decl.value, checked.constants.get(decl.name.name))
    return out


def _json_value(node: ast.Expr, value):
    if isinstance(node, ast.Duration):
        return node.text
    if isinstance(node, ast.DateTime):
        return node.text
    if isinstance(node, ast.ListLit):
        return [_json_value(item, None) for item in node.items]
    if isinstance(node, ast.Number):
        return int(node.value) if float(node.value).is_integer() and math.isfinite(node.value) else node.value
    if isinstance(node, (ast.String, ast.Bool)):
        return node.value
    return value
