"""Bad input never gives a traceback, a hang or code execution: only diagnostics."""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leadscore.cli import main
from leadscore.dsl.checker import check
from leadscore.dsl.diagnostics import CODES, Diagnostic
from leadscore.dsl.parser import parse
from leadscore.dsl.schema import parse_schema
from leadscore.loader import MAX_FILE_BYTES, load_ruleset

from helpers import ACME_DIR, ACME_SCHEMA, HEADER, diagnose, load, where, write_ruleset

ACME_TEXT = (ACME_DIR / "scoring.score").read_text(encoding="utf-8")
SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])

# Words and punctuation of the language, for token soups and insertions.
TOKENS = (
    "ruleset version effective schema const score group threshold segment case if per where "
    "within max once at most day week decay half_life linear steps none clamp inactivity after "
    "every otherwise and or not in contains starts_with ends_with matches is missing present "
    "true false count days_since domain lower upper len min event. lead. employees url "
    "page_view fit interest"
).split() + [
    "(", ")", "[", "]", "{", "}", ",", ":", "=", "==", "!=", "<", "<=", ">", ">=", "+", "-",
    "*", "/", "..", ".", "%", '"', "`", "#", "\n", "\n", "\n", "\\", "30d", "12h", "2w", "30m",
    "50%", "150%", "2026-04-01", "2026-02-30", "2026-04-01T09:00:00Z", "/x/i", "/(a/", "5_000",
    "-5", "0", "1.5", '"s"', '"\\q"', "`Lead Source`", "\t", "\r\n", "\ufeff", "\x00",
]


@pytest.fixture(scope="module")
def acme_schema():
    schema, diagnostics = parse_schema(ACME_SCHEMA, "schema.yaml")
    assert diagnostics == []
    return schema


def assert_well_formed(diagnostics: list[Diagnostic], text: str | None = None) -> None:
    lines = None if text is None else text.count("\n") + text.count("\r") + 2
    for d in diagnostics:
        assert d.code in CODES, d
        assert d.severity is CODES[d.code][0], d
        assert d.span.line >= 1 and d.span.column >= 1, d
        assert (d.span.end_line, d.span.end_column) >= (d.span.line, d.span.column), d
        assert isinstance(d.message, str) and d.message, d
        if lines is not None:
            assert d.span.line <= lines, (d, lines)


def timed(function, *args, limit: float = 10.0):
    start = time.perf_counter()
    result = function(*args)
    elapsed = time.perf_counter() - start
    assert elapsed < limit, f"took {elapsed:.1f}s"
    return result


# --- binary garbage and encodings ----------------------------------------------------------

def test_invalid_utf8_is_ls110_at_the_first_bad_byte(tmp_path):
    text = HEADER.encode() + b'score s {\n  r: +1 if job_title == "\xc3\x28"\n}\n'
    # `  r: +1 if job_title == "` is 25 characters: the bad byte is the 26th.
    assert diagnose(tmp_path, text) == [("LS110", 4, 26)]


def test_utf16_file_is_ls110(tmp_path):
    text = (HEADER + "const a = 1\n").encode("utf-16")
    found = diagnose(tmp_path, text)
    assert [code for code, _, _ in found] == ["LS110"]


@SETTINGS
@given(data=st.binary(max_size=400))
def test_random_bytes_give_only_diagnostics(tmp_path_factory, data):
    folder = tmp_path_factory.mktemp("bytes")
    loaded = load(folder, data)
    assert_well_formed(loaded.diagnostics)
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        # Columns count characters, as everywhere else, not bytes.
        line_start = data.rfind(b"\n", 0, error.start) + 1
        column = len(data[line_start:error.start].decode("utf-8")) + 1
        assert where(loaded.diagnostics) == [("LS110", line, column)]
        assert not loaded.ok
    else:
        assert "LS110" not in {d.code for d in loaded.diagnostics}


@SETTINGS
@given(garbage=st.binary(min_size=1, max_size=200))
def test_random_bytes_after_a_valid_header(tmp_path_factory, garbage):
    folder = tmp_path_factory.mktemp("tail")
    loaded = load(folder, HEADER.encode() + garbage)
    assert_well_formed(loaded.diagnostics)


def test_random_bytes_through_the_cli(tmp_path):
    import random
    rng = random.Random(1234)
    for index in range(5):
        write_ruleset(tmp_path / str(index), bytes(rng.randrange(256) for _ in range(2000)))
    result = CliRunner().invoke(main, ["check", str(tmp_path)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output


def test_bom_keeps_columns(tmp_path):
    text = "\ufeff" + HEADER + "const a = ?\n"
    assert diagnose(tmp_path, text) == [("LS101", 3, 11)]
    assert diagnose(tmp_path, "\ufeff" + HEADER + "const a = 1\n") == []


def test_crlf_line_endings_check_clean_and_keep_positions(tmp_path):
    text = ACME_TEXT.replace("\n", "\r\n")
    loaded = load(tmp_path / "crlf", text)
    assert where(loaded.diagnostics) == []
    bad = (HEADER + "score s {\n  r: +1 if employes > 1\n}\n").replace("\n", "\r\n")
    assert diagnose(tmp_path / "bad", bad) == [("LS300", 4, 12)]


def test_control_characters_are_diagnostics(tmp_path):
    found = diagnose(tmp_path, HEADER + "const a = 1\x00\nconst b = \x1b[31m\n")
    assert ("LS101", 3, 12) in found and ("LS101", 4, 11) in found


# --- absurd sizes and depths ----------------------------------------------------------------

def test_5000_nested_parentheses(tmp_path):
    text = HEADER + "const a = " + "(" * 5000 + "1" + ")" * 5000 + "\n"
    found = timed(diagnose, tmp_path, text)
    assert "LS107" in {code for code, _, _ in found}
    assert all(line == 3 for code, line, _ in found if code == "LS107")


def test_5000_nested_parentheses_in_a_rule(tmp_path):
    text = HEADER + "score s {\n  r: +1 if " + "(" * 5000 + "employees > 1" + ")" * 5000 + "\n}\n"
    found = timed(diagnose, tmp_path, text)
    assert ("LS107", 4) in {(code, line) for code, line, _ in found}


def test_5000_unclosed_parentheses(tmp_path):
    found = timed(diagnose, tmp_path, HEADER + "const a = " + "(" * 5000 + "\n")
    assert [(code, line) for code, line, _ in found] == [("LS100", 3)]


def test_5000_unary_minus(tmp_path):
    found = timed(diagnose, tmp_path, HEADER + "score d = " + "-" * 5000 + "1\n")
    assert ("LS107", 3) in {(code, line) for code, line, _ in found}


def test_5000_nots(tmp_path):
    found = timed(diagnose, tmp_path, HEADER + "threshold t: " + "not " * 5000 + "true\n")
    assert ("LS107", 3) in {(code, line) for code, line, _ in found}


def test_deep_but_allowed_nesting_checks_without_recursion_error(tmp_path):
    text = HEADER + "score d = " + "-(" * 45 + "1" + ")" * 45 + "\n"
    assert diagnose(tmp_path, text) == []


def test_400_digit_number(tmp_path):
    assert diagnose(tmp_path, HEADER + "const a = " + "9" * 400 + "\n") == [("LS105", 3, 11)]


def test_400_digit_points_and_duration(tmp_path):
    digits = "9" * 400
    found = diagnose(tmp_path, HEADER + f"score s {{\n  r: +{digits} per page_view within {digits}d\n}}\n")
    assert ("LS105", 4, 7) in found
    assert ("LS105", 4, 7 + len(digits) + 22) in found


def test_unterminated_string(tmp_path):
    assert diagnose(tmp_path, HEADER + 'score s {\n  r: +1 if email == "x\n}\n') == \
        [("LS102", 4, 21)]


def test_unterminated_regex(tmp_path):
    assert diagnose(tmp_path, HEADER + "score s {\n  r: +1 if email matches /x\n}\n") == \
        [("LS103", 4, 26)]


@pytest.mark.parametrize("text", ["", "\n\n\n", "   \t  ", "# just a comment\n", "\ufeff"])
def test_empty_file_is_ls200(tmp_path, text):
    loaded = load(tmp_path, text)
    assert where(loaded.diagnostics) == [("LS200", 1, 1)]
    assert not loaded.ok


def test_very_long_line(tmp_path):
    items = ", ".join(f'"item{i}"' for i in range(10_000))
    text = HEADER + f"const a = [{items}]\nconst b = ?\n"
    assert timed(diagnose, tmp_path, text) == [("LS101", 4, 11)]


def test_very_long_comment_and_error_after_it(tmp_path):
    text = HEADER + "# " + "x" * 1_000_000 + "\nconst a = 1 " + "#" * 10 + " ?\nconst b = ?\n"
    assert timed(diagnose, tmp_path / "a", text) == [("LS101", 5, 11)]


def test_very_long_expression_line(tmp_path):
    condition = " or ".join(f"employees > {i}" for i in range(3_000))
    text = HEADER + f"score s {{\n  r: +1 if {condition} or employes > 1\n}}\n"
    found = timed(diagnose, tmp_path, text)
    assert found == [("LS300", 4, 12 + len(condition) + 4)]


def test_file_over_the_size_limit_is_refused_unread(tmp_path):
    path = tmp_path / "huge.score"
    with path.open("wb") as handle:
        handle.write(HEADER.encode())
        handle.write(b"#" * (MAX_FILE_BYTES + 10) + b"\n")
    loaded = timed(load_ruleset, str(path))
    assert where(loaded.diagnostics) == [("LS600", 1, 1)]


# --- no code execution through the schema ---------------------------------------------------

@pytest.mark.parametrize("tag", [
    '!!python/object/apply:os.system ["touch {marker}"]',
    '!!python/object/apply:subprocess.call [["touch", "{marker}"]]',
    '!!python/object/new:os.system ["touch {marker}"]',
    '!!python/name:os.system',
])
def test_yaml_tags_never_run_code(tmp_path, tag):
    marker = tmp_path / "pwned-XYZ"
    schema = "lead:\n  fields:\n    a: " + tag.format(marker=marker) + "\n"
    found = diagnose(tmp_path / "rules", HEADER, schema)
    assert not marker.exists()
    assert ("LS601", 3, 8) in found


def test_yaml_tag_at_the_top_and_via_the_cli(tmp_path):
    marker = tmp_path / "pwned-XYZ"
    schema = f'!!python/object/apply:os.system ["touch {marker}"]\n'
    path = write_ruleset(tmp_path / "rules", HEADER, schema)
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 1
    assert not marker.exists()
    assert "error[LS601]" in result.stdout


def test_yaml_bombs_are_diagnostics(tmp_path):
    schema = ("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
              "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
              "e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
              "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\nlead: {fields: {x: *g}}\n")
    found = timed(diagnose, tmp_path, HEADER, schema)
    assert found and all(code.startswith("LS6") for code, _, _ in found)


# --- properties ---------------------------------------------------------------------------------

@SETTINGS
@given(text=st.text(max_size=300))
def test_parse_of_any_text_returns_only_diagnostics(text):
    ruleset, diagnostics = parse(text, "fuzz.score")
    assert ruleset is not None
    assert_well_formed(diagnostics, text)


@SETTINGS
@given(words=st.lists(st.sampled_from(TOKENS), max_size=60), header=st.booleans())
def test_parse_and_check_of_token_soup(words, header, acme_schema):
    text = (HEADER if header else "") + " ".join(words)
    ruleset, diagnostics = parse(text, "fuzz.score")
    assert_well_formed(diagnostics, text)
    checked, more = check(ruleset, acme_schema)
    assert_well_formed(more, text)
    if checked is not None:
        assert not any(d.is_error for d in more)


def _mutate(data, text: str) -> str:
    """Apply 1-4 random edits: delete a slice, insert a token, duplicate or swap lines."""
    for _ in range(data.draw(st.integers(1, 4), label="edits")):
        kind = data.draw(st.sampled_from(["delete", "insert", "duplicate", "swap"]), label="kind")
        if kind == "delete" and text:
            start = data.draw(st.integers(0, len(text) - 1), label="start")
            length = data.draw(st.integers(1, 60), label="length")
            text = text[:start] + text[start + length:]
        elif kind == "insert":
            at = data.draw(st.integers(0, len(text)), label="at")
            piece = data.draw(st.one_of(st.sampled_from(TOKENS), st.text(max_size=5)),
                              label="piece")
            text = text[:at] + piece + text[at:]
        else:
            lines = text.split("\n")
            i = data.draw(st.integers(0, len(lines) - 1), label="i")
            if kind == "duplicate":
                lines.insert(i, lines[i])
            else:
                j = data.draw(st.integers(0, len(lines) - 1), label="j")
                lines[i], lines[j] = lines[j], lines[i]
            text = "\n".join(lines)
    return text


@SETTINGS
@given(data=st.data())
def test_mutated_acme_gives_only_diagnostics(data, acme_schema):
    text = _mutate(data, ACME_TEXT)
    ruleset, diagnostics = parse(text, "scoring.score")
    assert_well_formed(diagnostics, text)
    checked, more = check(ruleset, acme_schema)
    assert_well_formed(more, text)
    # (c) the checker's diagnostics come in file order.
    positions = [(d.span.line, d.span.column) for d in more]
    assert positions == sorted(positions)
    if any(d.is_error for d in more):
        assert checked is None


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_cli_output_of_mutated_acme_is_sorted(tmp_path_factory, data):
    import json

    folder = tmp_path_factory.mktemp("mutated")
    path = write_ruleset(folder, _mutate(data, ACME_TEXT), ACME_SCHEMA)
    result = CliRunner().invoke(main, ["check", "--format", "json", str(path)])
    assert result.exit_code in (0, 1), result.output
    items = json.loads(result.stdout)
    keys = [(item["file"], item["line"], item["column"]) for item in items]
    assert keys == sorted(keys)
    assert (result.exit_code == 1) == any(item["severity"] == "error" for item in items)


def test_unmutated_acme_is_the_baseline(acme_schema):
    # The mutation properties start from a clean file: otherwise they prove little.
    ruleset, diagnostics = parse(ACME_TEXT, "scoring.score")
    checked, more = check(ruleset, acme_schema)
    assert diagnostics == [] and more == [] and checked is not None


def test_parse_diagnostics_are_in_file_order():
    text = HEADER + "score s {\n  a: +1 if employees > 1\n  r: +1 if (employees > 1\n}\n"
    _, diagnostics = parse(text, "f.score")
    positions = [(d.span.line, d.span.column) for d in diagnostics]
    assert positions, "expected syntax errors"
    assert positions == sorted(positions), positions
