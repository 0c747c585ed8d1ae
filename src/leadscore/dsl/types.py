"""Types of the language (docs/language.md) and the symbols names resolve to."""

from __future__ import annotations

from dataclasses import dataclass

NUMBER = "number"
STRING = "string"
BOOLEAN = "boolean"
DATETIME = "datetime"
LIST = "list"  # a list of strings: the schema's list type, and string list literals
DURATION = "duration"
REGEX = "regex"
UNKNOWN = "unknown"  # after an error: compatible with everything, so errors do not cascade


@dataclass(frozen=True, slots=True)
class Type:
    kind: str
    # For strings: the declared values (a field's `values`, a segment's labels).
    values: tuple[str, ...] | None = None
    # For lists: the items' kind (LIST of strings is the common case).
    item: str | None = None

    def __str__(self) -> str:
        if self.kind == LIST and self.item not in (None, STRING):
            return f"list of {self.item}s"
        return {LIST: "list"}.get(self.kind, self.kind)

    @property
    def is_unknown(self) -> bool:
        return self.kind == UNKNOWN


T_NUMBER = Type(NUMBER)
T_STRING = Type(STRING)
T_BOOLEAN = Type(BOOLEAN)
T_DATETIME = Type(DATETIME)
T_DURATION = Type(DURATION)
T_UNKNOWN = Type(UNKNOWN)


def of_field(kind: str, values: tuple[str, ...] | None = None) -> Type:
    if kind == LIST:
        return Type(LIST, values, STRING)
    return Type(kind, values)


def a_or_an(t: Type) -> str:
    text = str(t)
    return ("an " if text[0] in "aeiou" else "a ") + text


# Symbol kinds a name can resolve to.
FIELD = "field"
PROPERTY = "property"
CONSTANT = "constant"
SCORE = "score"
THRESHOLD = "threshold"
SEGMENT = "segment"
EVENT = "event"


@dataclass(frozen=True, slots=True)
class Symbol:
    kind: str  # one of the symbol kinds above
    name: str
    type: Type
    event: str | None = None  # for properties: the event type they belong to
