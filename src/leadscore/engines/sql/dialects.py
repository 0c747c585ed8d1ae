"""Writing the statement for a dialect, and refusing what a dialect would read differently.

sqlglot transpiles the one tree; `unsupported_level=RAISE` makes a construct the dialect cannot
express an error instead of SQL that silently means something else.
"""

from __future__ import annotations

import re

from sqlglot import exp
from sqlglot.errors import ErrorLevel, UnsupportedError

from ... import lower as lo
from .java_regex import JavaRegexUnsupported, java_pattern
from .select import SqlUnsupported, build_select

DIALECTS = ("duckdb", "spark", "snowflake", "bigquery", "postgres")
# Regex flavours: RE2 (the language's) on DuckDB and BigQuery; POSIX on Snowflake and Postgres;
# Java on Spark (java_regex.py rewrites each pattern or refuses it).
_POSIX = {"snowflake", "postgres"}
# What a POSIX engine reads differently from RE2 (or not at all): Perl classes and escapes,
# non-greedy and possessive quantifiers, groups with (?...), \b \A \z, and \Q...\E.
_NOT_POSIX = re.compile(r"\\[dDwWsSbBAzQEpPx]|[*+?}]\?|\(\?")


def to_sql(program: lo.ScoringProgram, id_column: str, dialect: str = "duckdb",
           instant: float | None = None) -> str:
    """The statement's text in `dialect`, pretty-printed. Raises SqlUnsupported."""
    if dialect not in DIALECTS:
        raise SqlUnsupported(f"unknown SQL dialect {dialect!r}: use one of {', '.join(DIALECTS)}")
    check_patterns(program, dialect)
    return dialect_sql(build_select(program, id_column, instant), dialect, pretty=True)


def check_patterns(program: lo.ScoringProgram, dialect: str) -> None:
    """Raise SqlUnsupported, naming the rule file's line, for the first `matches` pattern the
    dialect's regexes would read differently from RE2."""
    for line, e in _patterns(program):
        if dialect in _POSIX:
            pattern = f"(?i){e.pattern}" if "i" in e.flags else e.pattern
            if _NOT_POSIX.search(pattern):
                raise SqlUnsupported(f"line {line}: the pattern /{e.pattern}/{e.flags} uses RE2 syntax that {dialect}'s POSIX "
                                     "regexes read differently (\\d, \\w, \\s, \\b, lazy quantifiers, (?...) groups)")
        elif dialect == "spark":
            try:
                java_pattern(e.pattern)
            except JavaRegexUnsupported as refused:
                raise SqlUnsupported(f"line {line}: the pattern /{e.pattern}/{e.flags} uses {refused}, which Spark's "
                                     "Java regexes read differently from RE2") from None


def dialect_sql(statement: exp.Expression, dialect: str, pretty: bool = False) -> str:
    """A statement built by this package, written for `dialect`: the dialect's own forms
    (`_local_form`), and an error rather than a construct the dialect cannot express. The
    statement is changed in place. Raises SqlUnsupported."""
    statement = statement.transform(_local_form(dialect), copy=False)
    try:
        return statement.sql(dialect=dialect, pretty=pretty, unsupported_level=ErrorLevel.RAISE)
    except (UnsupportedError, JavaRegexUnsupported) as error:
        raise SqlUnsupported(f"{dialect}: {error}") from None


def _local_form(dialect: str):
    """Where sqlglot would pass a function through under a name the dialect lacks, or one that
    means something else there (Snowflake's REGEXP_LIKE matches the whole string), the
    dialect's own form; on Spark, each regex in Java's syntax."""
    def local(node: exp.Expression) -> exp.Expression:
        match dialect, node:
            case "spark", (exp.RegexpLike() | exp.RegexpExtract()) if isinstance(node.expression, exp.Literal):
                node.set("expression", exp.Literal.string(java_pattern(node.expression.this)))
                return node
            case "spark", exp.ArraySize():   # SIZE(NULL) is -1 unless ANSI mode is on
                present = exp.Not(this=exp.Is(this=node.this.copy(), expression=exp.Null()))
                return exp.Case(ifs=[exp.If(this=present, true=node)])
            case "snowflake", exp.UnixMicros():
                return exp.Anonymous(this="DATE_PART", expressions=[exp.var("EPOCH_MICROSECOND"), node.this])
            case "postgres", exp.UnixMicros():
                seconds = exp.Extract(this=exp.var("EPOCH"), expression=node.this)
                return exp.Mul(this=seconds, expression=exp.Literal.number(1_000_000))
            case "snowflake", exp.RegexpLike():   # an unanchored search
                return exp.GT(this=exp.Anonymous(this="REGEXP_INSTR", expressions=[node.this, node.expression]),
                              expression=exp.Literal.number(0))
            case "postgres", exp.EndsWith():
                suffix = node.expression
                return exp.EQ(this=exp.Right(this=node.this, expression=exp.Length(this=suffix.copy())),
                              expression=suffix)
            case ("snowflake" | "postgres"), exp.IsNan():   # no IS_NAN; NaN equals NaN there
                return exp.EQ(this=node.this, expression=exp.cast(exp.Literal.string("NaN"), exp.DataType.Type.DOUBLE))
            case "postgres", exp.RegexpExtract():   # domain(): the part after the last @
                return exp.Anonymous(this="SPLIT_PART", expressions=[node.this, exp.Literal.string("@"),
                                                                     exp.Literal.number(-1)])
        return node
    return local


def _patterns(program: lo.ScoringProgram):
    """(rule-file line, Matches) of every `matches` in the program."""
    for line, _, root in lo.roots(program):
        for node in lo.walk(root):
            if isinstance(node, lo.Matches):
                yield line, node
