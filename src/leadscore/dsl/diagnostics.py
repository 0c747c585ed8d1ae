"""Diagnostics are values: every pass returns them instead of raising.

Codes are stable (tests and CI scripts match on them); messages are for
people and may be reworded. The catalogue below is the single list of codes.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum

from ..safe_text import json_text, shown


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Span:
    """A region of a source file. Lines and columns are 1-based; the end is exclusive."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    @staticmethod
    def point(file: str, line: int, column: int) -> Span:
        return Span(file, line, column, line, column + 1)

    def to(self, other: Span) -> Span:
        """The span from the start of self to the end of other."""
        return Span(self.file, self.line, self.column, other.end_line, other.end_column)


@dataclass(frozen=True, slots=True)
class Diagnostic:
    code: str
    severity: Severity
    message: str
    span: Span
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


# code -> (default severity, what it means). Kept in one place so the README
# table and the tests can be checked against it.
CODES: dict[str, tuple[Severity, str]] = {
    # Reading and syntax
    "LS100": (Severity.ERROR, "syntax error: something other than what the line needs"),
    "LS101": (Severity.ERROR, "a character or word that is not part of the language"),
    "LS102": (Severity.ERROR, "a string with no closing quote"),
    "LS103": (Severity.ERROR, "a regex with no closing slash"),
    "LS104": (Severity.ERROR, "an escape in a string that is not \\\" \\\\ \\n \\t or \\uXXXX"),
    "LS105": (Severity.ERROR, "a number too large to represent"),
    "LS106": (Severity.ERROR, "a duration with a unit other than h, d or w"),
    "LS107": (Severity.ERROR, "expression nested too deeply"),
    "LS108": (Severity.ERROR, "comparisons do not chain"),
    "LS109": (Severity.ERROR, "an impossible date or date-time"),
    "LS110": (Severity.ERROR, "the file is not UTF-8 text"),
    "LS111": (Severity.ERROR, "too many syntax errors; the rest of the file was not read"),
    "LS112": (Severity.ERROR, "a string or regex literal longer than 10,000 characters"),
    "LS113": (Severity.ERROR, "a statement of more than 50,000 words and symbols"),
    "LS114": (Severity.ERROR, "more than 1,000 branches in a case, labels in a segment, "
                              "thresholds or segments"),
    # File structure
    "LS200": (Severity.ERROR, "the file does not start with `ruleset \"NAME\" version N`"),
    "LS201": (Severity.ERROR, "no `schema \"FILE\"` line"),
    "LS202": (Severity.ERROR, "a header line given twice or after the declarations"),
    "LS203": (Severity.ERROR, "a name declared twice"),
    "LS204": (Severity.ERROR, "a name reserved for output columns (lead_id, reasons)"),
    "LS205": (Severity.ERROR, "a schema field with the same name as a declaration"),
    "LS206": (Severity.ERROR, "a version that is neither a whole number nor a string"),
    "LS207": (Severity.ERROR, "a constant whose value is not a literal"),
    # Names
    "LS300": (Severity.ERROR, "unknown name"),
    "LS301": (Severity.ERROR, "unknown event type"),
    "LS302": (Severity.ERROR, "unknown event property"),
    "LS303": (Severity.ERROR, "unknown function"),
    "LS304": (Severity.ERROR, "a name inside `where` that is both an event property and a lead field"),
    "LS305": (Severity.ERROR, "a name used where it is not visible (a score inside a rule, a later threshold)"),
    "LS306": (Severity.ERROR, "a qualifier other than `event.` or `lead.`"),
    # Types
    "LS400": (Severity.ERROR, "operands of different types"),
    "LS401": (Severity.ERROR, "a condition that is not true/false"),
    "LS402": (Severity.ERROR, "a derived score that is not a number"),
    "LS403": (Severity.ERROR, "points, a limit or a bound that is not a number"),
    "LS404": (Severity.ERROR, "a string that is not one of the field's declared values"),
    "LS405": (Severity.ERROR, "`in` without a list on its right"),
    "LS406": (Severity.ERROR, "`matches` on something that is not a string, or with a pattern that is not a regex"),
    "LS407": (Severity.ERROR, "an invalid regular expression"),
    "LS408": (Severity.ERROR, "a function called with the wrong arguments"),
    "LS409": (Severity.ERROR, "a window, age or interval that is not a duration"),
    "LS410": (Severity.ERROR, "a list whose items are not all of one type"),
    # Values and rule shape
    "LS500": (Severity.ERROR, "decay step ages not strictly increasing"),
    "LS501": (Severity.ERROR, "a percentage outside 0%-100%"),
    "LS502": (Severity.WARNING, "decay step percentages that go up"),
    "LS503": (Severity.ERROR, "`clamp` whose low bound is above its high bound"),
    "LS504": (Severity.ERROR, "a limit, count or duration that is zero or negative"),
    "LS505": (Severity.ERROR, "a modifier or option given twice"),
    "LS506": (Severity.ERROR, "`at most` with a count that is not a whole number"),
    "LS507": (Severity.ERROR, "a cycle among derived scores"),
    "LS508": (Severity.WARNING, "points of 0"),
    "LS509": (Severity.WARNING, "a rule or branch that can never fire"),
    "LS510": (Severity.WARNING, "a negative constant used as points"),
    "LS511": (Severity.ERROR, "`otherwise` that is not the last branch, or given twice"),
    "LS512": (Severity.WARNING, "`once` together with `at most`"),
    "LS516": (Severity.ERROR, "points of a score that can add up to more than the largest number"),
    # Reported by `check --strict` only
    "LS513": (Severity.WARNING, "a constant that nothing uses"),
    "LS514": (Severity.WARNING, "a schema field or event type that no rule uses"),
    "LS515": (Severity.WARNING, "a segment label that can never be chosen"),
    # The schema file
    "LS600": (Severity.ERROR, "a file cannot be read (the rule file, its schema or a test file)"),
    "LS601": (Severity.ERROR, "the schema file is not valid YAML"),
    "LS602": (Severity.ERROR, "the schema file does not have the documented shape"),
    "LS603": (Severity.ERROR, "the schema path leaves the rule file's folder"),
    "LS604": (Severity.ERROR, "an unquoted YAML value that reads as a boolean or number"),
    "LS605": (Severity.ERROR, "the schema's id or created field is not a field of the right type"),
    # The history file
    "LS700": (Severity.ERROR, "a history query that cannot run, or that does more than read the history's files"),
}


def make(code: str, message: str, span: Span, hint: str | None = None,
         severity: Severity | None = None) -> Diagnostic:
    return Diagnostic(code, severity or CODES[code][0], message, span, hint)


def has_errors(diagnostics: list[Diagnostic]) -> bool:
    return any(d.is_error for d in diagnostics)


def sort_key(d: Diagnostic) -> tuple:
    return (d.span.file, d.span.line, d.span.column, d.code)


def promote_warnings(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """`--strict`: every warning becomes an error."""
    return [Diagnostic(d.code, Severity.ERROR, d.message, d.span, d.hint) for d in diagnostics]


# --- rendering -------------------------------------------------------------

def _render(d: Diagnostic, source_lines: list[str] | None) -> str:
    # A blank line has nothing to point at (and is what a withheld line reads as).
    if source_lines is not None and not "".join(source_lines[d.span.line - 1:d.span.line]).strip():
        source_lines = None
    s = d.span
    out = [shown(f"{s.file}:{s.line}:{s.column}: {d.severity.value}[{d.code}]: {d.message}")]
    if source_lines is not None and 1 <= s.line <= len(source_lines):
        line = _printable(source_lines[s.line - 1])
        column = s.column
        width = (s.end_column - s.column) if s.end_line == s.line else len(line) - s.column + 1
        if len(line) > _MAX_SHOWN:
            # Show a window around the spot so the caret stays on screen.
            start = max(0, min(column - 1 - _MAX_SHOWN // 3, len(line) - _MAX_SHOWN))
            line = ("..." if start else "") + line[start:start + _MAX_SHOWN] + \
                ("..." if start + _MAX_SHOWN < len(line) else "")
            column = column - start + (3 if start else 0)
        width = max(1, min(width, len(line) - column + 1))
        out.append(f"  {line}")
        out.append("  " + _caret_padding(line, column) + "^" * width)
    if d.hint:
        out.append(shown(f"  hint: {d.hint}"))
    return "\n".join(out)


def render_each(diagnostics: Iterable[Diagnostic], sources: Mapping[str, str]) -> list[str]:
    """Each diagnostic as `file:line:col: error[CODE]: message`, then its line from `sources`
    (file name -> the text as read, or as much of it as may be shown; a file not there shows
    no line) with a caret under the spot, then the hint. Every command, the API's
    RulesetError and `leadscore test`'s report print diagnostics through here alone, so they
    all read alike."""
    lines: dict[str, list[str]] = {}
    shown_all = []
    for d in diagnostics:
        if d.span.file not in lines:
            lines[d.span.file] = sources.get(d.span.file, "").splitlines()
        shown_all.append(_render(d, lines[d.span.file]))
    return shown_all


_MAX_SHOWN = 120


def _printable(line: str) -> str:
    # Control and bidi characters would garble the terminal, and `::` starting the line (or
    # `##[` anywhere) would be a CI workflow command; show each such character as '?', one for
    # one so the caret still lines up. Unicode spaces (a non-breaking space pasted from a
    # document) are shown as they are: the message names them, and '?' would hide what the
    # user has to find.
    line = "".join(c if c.isprintable() or c == "\t" or unicodedata.category(c) == "Zs" else "?"
                   for c in line.rstrip("\r\n"))
    line = line.replace("##[", "#?[")
    rest = line.lstrip()
    return line[:len(line) - len(rest)] + "?" + rest[1:] if rest.startswith("::") else line


def _caret_padding(line: str, column: int) -> str:
    # Keep tabs so the caret lines up under tab-indented source; a wide
    # character (full-width punctuation, CJK) takes two columns on a terminal.
    return "".join("\t" if c == "\t" else "  " if unicodedata.east_asian_width(c) in "WF" else " "
                   for c in line[: column - 1])


def to_json_dict(d: Diagnostic) -> dict:
    s = d.span
    return {
        "file": s.file, "line": s.line, "column": s.column,
        "end_line": s.end_line, "end_column": s.end_column,
        "code": d.code, "severity": d.severity.value,
        "message": d.message, "hint": d.hint,
    }


def render_json(diagnostics: list[Diagnostic]) -> str:
    return json_text(json.dumps([to_json_dict(d) for d in diagnostics], indent=2, ensure_ascii=False))


def render_github(d: Diagnostic) -> str:
    """A GitHub Actions workflow command; the annotation shows on the PR diff."""
    s = d.span
    level = "error" if d.is_error else "warning"
    text = d.message + (f" (hint: {d.hint})" if d.hint else "")
    props = (f"file={_gh_prop(s.file)},line={s.line},col={s.column},"
             f"endLine={s.end_line},endColumn={s.end_column},title={_gh_prop(d.code)}")
    # Line breaks are the command's own escapes; `shown` takes care of ESC, bidi and the like.
    return f"::{level} {shown(props)}::{shown(_gh_data(text))}"


def _gh_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _gh_prop(text: str) -> str:
    return _gh_data(text).replace(":", "%3A").replace(",", "%2C")
