"""An RE2 pattern (the language's) as a Java pattern that matches the same strings (Spark's
RLIKE and REGEXP_EXTRACT use java.util.regex), or the reason it cannot be written so.

Java reads some RE2 text differently, and those parts are rewritten:
  `.`    Java stops at \\r, \\u0085, \\u2028 and \\u2029 too: (?d) (UNIX_LINES) leaves only \\n
  `$`    Java also matches before a final line break: `\\z` is RE2's end of text
  \\s \\S  Java's includes the vertical tab: written out as RE2's [\\t\\n\\f\\r ]
  (?i)   Java folds only ASCII case without `u`: (?iu)
  \\b \\B  Java 17's are Unicode-aware: RE2's ASCII boundaries written as lookarounds
What it cannot rewrite simply it refuses (docs/engines.md lists it): \\p \\P, \\v, \\C,
\\Q...\\E, octal escapes, POSIX classes and nested `[` or `&&` in a class (Java's class unions
and intersections), a `{` that is not a repetition (a literal in RE2, an error in Java), named
groups, and the flags m and U.
"""

from __future__ import annotations

import re

_REPEAT = re.compile(r"\{\d+(,\d*)?\}")
_FLAGS = re.compile(r"\(\?([a-zA-Z]*)(?:-([a-zA-Z]*))?([:)])")
_SPACE = r"\t\n\f\r "
_WORD = "[0-9A-Za-z_]"
# RE2's ASCII word boundaries as lookarounds (Java 17's \b is Unicode-aware); case folding
# off inside, as RE2's boundaries ignore it
_BOUNDARY = {"b": f"(?-i:(?<={_WORD})(?!{_WORD})|(?<!{_WORD})(?={_WORD}))",
             "B": f"(?-i:(?<={_WORD})(?={_WORD})|(?<!{_WORD})(?!{_WORD}))"}
_REFUSED_ESCAPES = {
    "p": r"\p{...} (Unicode classes are named differently in Java)",
    "P": r"\P{...} (Unicode classes are named differently in Java)",
    "v": r"\v (a vertical tab in RE2, any vertical space in Java)",
    "C": r"\C (any byte in RE2; Java has none)",
    "Q": r"\Q...\E",
}


class JavaRegexUnsupported(ValueError):
    """The pattern uses RE2 syntax Java reads differently; the message says which."""


def java_pattern(pattern: str) -> str:
    """`pattern` (RE2 syntax, already accepted by the checker) for java.util.regex."""
    out = ["(?d)"]
    i, in_class = 0, False
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            escaped = pattern[i + 1:i + 2]
            if escaped == "x" and pattern[i + 2:i + 3] == "{":   # \x{hex}: the same in both
                end = pattern.index("}", i) + 1
                out.append(pattern[i:end])
                i = end
                continue
            out.append(_escape(escaped, in_class))
            i += 2
            continue
        if in_class:
            if char == "]":
                in_class = False
            elif char == "[":
                raise JavaRegexUnsupported("a `[` inside a character class (POSIX classes like [[:alpha:]], "
                                           "or a class union in Java)")
            elif pattern.startswith("&&", i):
                raise JavaRegexUnsupported("`&&` inside a character class (an intersection in Java)")
            out.append(char)
            i += 1
            continue
        if char == "[":
            in_class = True
            # a `]` right after `[` or `[^` is a literal in both
            start = i + 1 + (pattern[i + 1:i + 2] == "^")
            start += pattern[start:start + 1] == "]"
            out.append(pattern[i:start])
            i = start
            continue
        if char == "$":
            out.append(r"\z")
        elif char == "{" and not _REPEAT.match(pattern, i):
            raise JavaRegexUnsupported("a `{` that is not a repetition such as {2,5} (a literal in RE2, an error "
                                       "in Java): write \\{")
        elif pattern.startswith("(?", i):
            flags = _FLAGS.match(pattern, i)
            if flags is None:   # (?P<name>...): RE2's named group
                raise JavaRegexUnsupported("a named group (?P<name>...): write a plain group")
            on, off, end = flags.group(1), flags.group(2) or "", flags.group(3)
            if set(on + off) - set("is"):
                raise JavaRegexUnsupported(f"the flag group {flags.group(0)} (only i and s mean the same in Java)")
            on = on + "u" if "i" in on else on
            off = off + "u" if "i" in off else off
            out.append(f"(?{on}{'-' + off if off else ''}{end}")
            i = flags.end()
            continue
        else:
            out.append(char)
        i += 1
    return "".join(out)


def _escape(escaped: str, in_class: bool) -> str:
    if escaped in _REFUSED_ESCAPES:
        raise JavaRegexUnsupported(_REFUSED_ESCAPES[escaped])
    if escaped.isdigit():
        raise JavaRegexUnsupported(f"the octal escape \\{escaped}... (a back-reference in Java): write \\x{{..}}")
    if escaped in _BOUNDARY:
        if in_class:
            raise JavaRegexUnsupported(f"\\{escaped} inside a character class")
        return _BOUNDARY[escaped]
    if escaped == "s":
        return _SPACE if in_class else f"[{_SPACE}]"
    if escaped == "S":
        if in_class:
            raise JavaRegexUnsupported(r"\S inside a character class: write the class without it")
        return f"[^{_SPACE}]"
    return "\\" + escaped
