"""`leadscore fmt` rewrites rule files without harming them (issue 10, item 19): through a
symbolic link, in place for hard links, keeping CRLF line endings and a byte order mark,
refusing read-only files and files edited while they were formatted."""

from __future__ import annotations

import os

import pytest
from click.testing import CliRunner

from leadscore.atomic import RewriteRefused, rewrite_file
from leadscore.cli import main
from leadscore.dsl import formatter

MESSY = 'ruleset "r" version 1\nscore s {\n  a:+1 if x>1\n}\n'
NEAT = 'ruleset "r" version 1\nscore s {\n  a: +1 if x > 1\n}\n'


def fmt(*args: str):
    return CliRunner().invoke(main, ["fmt", *args])


def test_a_symbolic_link_stays_a_link_to_the_rewritten_file(tmp_path):
    real = tmp_path / "real.score"
    real.write_text(MESSY)
    link = tmp_path / "link.score"
    link.symlink_to(real)
    result = fmt(str(link))
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert real.read_text() == NEAT


def test_a_hard_linked_file_is_rewritten_in_place(tmp_path):
    first = tmp_path / "first.score"
    first.write_text(MESSY)
    second = tmp_path / "second.score"
    os.link(first, second)
    inode = first.stat().st_ino
    result = fmt(str(first))
    assert result.exit_code == 0, result.output
    assert first.stat().st_ino == second.stat().st_ino == inode
    assert second.read_text() == NEAT


def test_crlf_line_endings_and_a_byte_order_mark_are_kept(tmp_path):
    rules = tmp_path / "rules.score"
    rules.write_bytes(("\ufeff" + MESSY.replace("\n", "\r\n")).encode())
    assert fmt(str(rules)).exit_code == 0
    assert rules.read_bytes() == ("\ufeff" + NEAT.replace("\n", "\r\n")).encode()
    assert fmt("--check", str(rules)).exit_code == 0


def test_a_formatted_crlf_file_passes_check_untouched(tmp_path):
    rules = tmp_path / "rules.score"
    rules.write_bytes(NEAT.replace("\n", "\r\n").encode())
    before = rules.stat().st_mtime_ns
    assert fmt("--check", str(rules)).exit_code == 0
    assert fmt(str(rules)).exit_code == 0
    assert rules.stat().st_mtime_ns == before


def test_a_read_only_file_is_refused(tmp_path):
    rules = tmp_path / "rules.score"
    rules.write_text(MESSY)
    rules.chmod(0o444)
    result = fmt(str(rules))
    assert result.exit_code == 1
    assert f"{rules}: not formatted: the file is read-only; left unchanged" in result.output
    assert rules.read_text() == MESSY


def test_an_edit_made_while_fmt_ran_is_not_overwritten(tmp_path, monkeypatch):
    rules = tmp_path / "rules.score"
    rules.write_text(MESSY)
    edited = MESSY + "# added by someone else\n"
    real_format = formatter.format_ruleset

    def format_while_someone_edits(ruleset):
        rules.write_text(edited)
        return real_format(ruleset)

    monkeypatch.setattr(formatter, "format_ruleset", format_while_someone_edits)
    result = fmt(str(rules))
    assert result.exit_code == 1
    assert "the file changed while it was being formatted; left unchanged" in result.output
    assert rules.read_text() == edited
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rules.score"]


@pytest.mark.parametrize("links", [1, 2])
def test_rewrite_refuses_content_other_than_what_was_read(tmp_path, links):
    rules = tmp_path / "rules.score"
    rules.write_text("changed")
    if links == 2:
        os.link(rules, tmp_path / "other.score")
    with pytest.raises(RewriteRefused):
        rewrite_file(str(rules), "original", "new")
    assert rules.read_text() == "changed"


def test_rewrite_keeps_the_mode_of_the_file(tmp_path):
    rules = tmp_path / "rules.score"
    rules.write_text("old")
    rules.chmod(0o640)
    rewrite_file(str(rules), "old", "new")
    assert rules.read_text() == "new" and rules.stat().st_mode & 0o777 == 0o640


def test_a_link_in_a_folder_leading_outside_it_is_left_alone(tmp_path):
    outside = tmp_path / "outside.score"
    outside.write_text(MESSY)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "shared.score").symlink_to(outside)
    (rules / "own.score").write_text(MESSY)
    result = fmt(str(rules))
    assert result.exit_code == 0, result.output
    assert f"note: {rules / 'shared.score'}: left alone: a symbolic link to a file outside {rules}" in result.output
    assert outside.read_text() == MESSY and (rules / "own.score").read_text() == NEAT


def test_mixed_line_endings_take_the_kind_of_the_first_line(tmp_path):
    rules = tmp_path / "rules.score"
    rules.write_bytes(b'ruleset "r" version 1\r\nscore s {\n  a:+1 if x>1\r\n}\n')
    assert fmt(str(rules)).exit_code == 0
    assert rules.read_bytes() == NEAT.replace("\n", "\r\n").encode()
