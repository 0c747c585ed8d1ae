"""The small runtime shared by every backend: how inputs are normalised, the
decay curves, the calendar buckets of `at most`, and the result types.

Standard library only (RE2 is imported when a pattern is compiled): a
standalone scorer (`leadscore compile`) embeds this file as it is.

Internal value representation (docs/language.md):
number -> float, string -> str, boolean -> bool, datetime -> float seconds
since the Unix epoch (UTC), list -> tuple of str, missing -> None.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import ROUND_HALF_UP, Context, Decimal
from operator import itemgetter
from typing import Any, Iterable, Mapping

DAY = 86400.0


class InputError(ValueError):
    """A lead, event or instant given to the API that cannot be used; with `strict=True`, also
    a value the lenient scorer would read as missing or ignore (the message names it)."""


# --- instants -------------------------------------------------------------------

def to_epoch(value: Any, what: str = "a timestamp") -> float:
    """An aware datetime, a naive one (UTC), a date (midnight UTC) or an ISO
    8601 string -> seconds since the epoch."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        return value.timestamp()
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=timezone.utc).timestamp()
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InputError(f"{value!r} is not {what}") from None
        return to_epoch(parsed)
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    raise InputError(f"{value!r} is not {what}")


def from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=timezone.utc)


# --- lead fields ---------------------------------------------------------------------

def normalise_value(value: Any, kind: str) -> Any:
    """One field or property value in the internal representation; None when missing or
    when it does not fit the declared type (docs/language.md). Every door gives the same
    value: this is what the table readers (tables/convert.py) decide for a cell, and
    docs/scoring.md says it in words. A number or boolean is read as its text (1.0 as "1",
    True as "true"), as a CSV cell would be; a number is never a date-time (its unit is
    unknown); None items of a list are dropped."""
    cls = type(value)
    if cls is str:
        return (value or None) if kind == "string" else _from_text(value, kind)
    if cls is float or cls is int:   # the common case, decided without the text route
        if kind == "number":
            try:
                number = float(value)
            except OverflowError:   # an int beyond the largest float
                return None
            return number if math.isfinite(number) else None
        if kind == "boolean":
            return True if value == 1 else False if value == 0 else None
    elif cls is bool and kind == "boolean":
        return value
    if value is None:
        return None
    if isinstance(value, str):
        return _from_text(value, kind)
    if isinstance(value, bool):
        if kind == "boolean":
            return value
        return _from_text(_text_of(value), kind) if kind in ("string", "list") else None
    if isinstance(value, (int, float)):
        return None if kind == "datetime" else _from_text(_text_of(value), kind)
    if isinstance(value, (list, tuple)):
        if kind != "list":
            return None
        items = tuple(item for item in (_text_of(v).strip() for v in value if v is not None) if item)
        return items or None
    if isinstance(value, date):   # datetime included
        if kind == "datetime":
            return to_epoch(value)
        return _from_text(value.isoformat(), kind) if kind in ("string", "list") else None
    return None


def normalise_list(value: Any) -> tuple[str, ...] | None:
    """normalise_value(value, "list"), without its general route for the usual value: a list or
    tuple of texts already trimmed and not empty (a generated prepare_lead calls this)."""
    if type(value) is list or type(value) is tuple:
        for item in value:
            if type(item) is not str or not item or item.strip() != item:
                break
        else:
            return tuple(value) or None
    return normalise_value(value, "list")


def _text_of(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def _from_text(text: str, kind: str) -> Any:
    if kind == "string":
        return text or None
    if kind == "list":
        return tuple(item for item in (part.strip() for part in text.split(";")) if item) or None
    stripped = text.strip()
    if not stripped:
        return None
    if kind == "number":
        try:
            number = float(stripped)
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    if kind == "boolean":
        return _BOOLEANS.get(stripped.lower())
    try:
        moment = datetime.fromisoformat(stripped)
    except (ValueError, OverflowError):
        return None
    return to_epoch(moment)


def prepare_fields(lead: Mapping[str, Any], types: Mapping[str, str],
                   missing: Mapping[str, tuple[str, ...]] | None = None) -> dict[str, Any]:
    """`missing`: per field, the texts that mean no value (the schema's `missing:`)."""
    if type(lead) is not dict and not isinstance(lead, Mapping):
        raise InputError(f"a lead must be a mapping of field names to values, not {_kind_of(lead)}")
    if not missing:
        return {name: normalise_value(lead.get(name), kind) for name, kind in types.items()}
    return {name: normalise_value(placeholder_is_none(lead.get(name), missing.get(name)), kind)
            for name, kind in types.items()}


def placeholder_is_none(value: Any, placeholders: tuple[str, ...] | None) -> Any:
    """None for a text that is one of the field's placeholders (compared trimmed), else the value."""
    return None if placeholders and isinstance(value, str) and value.strip() in placeholders else value


# An event inside the scorers: (at, properties), at in epoch seconds. Plain
# tuples: the generated code indexes them in its innermost loops.
Event = tuple[float, Mapping[str, Any]]


def prepare_events(events: Iterable[Any], property_types: Mapping[str, Mapping[str, str]],
                   until: float | None = None, seen: dict | None = None,
                   missing: Mapping[str, Mapping[str, tuple[str, ...]]] | None = None) -> dict[str, list[Event]]:
    """Events grouped by type, each group in time order (equal times keep
    input order), without those after `until`. Events of types the schema
    does not declare are ignored, as `leadscore score` counts and skips them.
    `missing`: per event type and property, the texts that mean no value."""
    if events is None or type(events) is not list and isinstance(events, (str, bytes, Mapping)):
        raise InputError(f"a lead's events must be a list of event mappings, not {_kind_of(events)}")
    grouped: dict[str, list[Event]] = {name: [] for name in property_types}
    until = math.inf if until is None else until
    # Property values repeat (pages, campaigns): each distinct set is normalised once (per call,
    # or across calls in `seen`, kept by the caller for these property types), and events with
    # equal values share one read-only dict. The plan says, per type, what reading its
    # properties needs (None: no property is read, as with a scorer's PROPERTIES_READ, and the
    # event carries an empty dict); it is kept in `seen` too.
    plan = seen.get(_PLAN) if seen is not None else None
    if plan is None:
        plan = _plan(property_types, missing)
        if seen is not None:
            seen[_PLAN] = plan
    for raw in events:
        # Subscripts, not .get: this loop runs for every event the API is given.
        try:
            kind = raw["type"]
            reading = plan[kind]
        except KeyError:   # no type, or one the schema does not declare: skipped
            continue
        except TypeError:   # not a mapping, or an unhashable type
            raise InputError(f"an event must be a mapping with a text type, a time and properties, "
                             f"not {_kind_of(raw)}") from None
        try:
            at = raw["at"]
        except KeyError:
            at = None
        at = at.timestamp() if type(at) is datetime and at.tzinfo is not None else to_epoch(at, "an event time")
        if at > until:
            continue
        if reading is None:
            grouped[kind].append((at, NO_PROPERTIES))
            continue
        only, names, types, memo, placeholders = reading
        properties = raw.get("properties") or NO_PROPERTIES
        if type(properties) is not dict and not isinstance(properties, Mapping):
            raise InputError(f"the properties of a {kind!r} event must be a mapping, "
                             f"not {_kind_of(properties)}")
        # The key holds the values' types too: True, 1 and 1.0 are equal keys but "true", "1", "1".
        if only is not None:
            key = properties.get(only)
            if type(key) is not str:
                key = (key, type(key))
        else:
            key = tuple(map(properties.get, names))
            key = (key, tuple(map(type, key)))
        try:
            prepared = memo.get(key)
        except TypeError:   # a list value: not hashable, normalised each time
            prepared = _properties(properties, types, placeholders)
        else:
            if prepared is None:
                if len(memo) >= MEMO_LIMIT:   # unique values: bound the memory
                    memo.clear()
                prepared = memo[key] = _properties(properties, types, placeholders)
        grouped[kind].append((at, prepared))
    for group in grouped.values():
        if len(group) > 1:
            group.sort(key=event_time)  # stable: ties keep input order
    return grouped


_PLAN = ("plan",)   # the key of the plan in a `seen` memo (event types are texts)


def _plan(property_types: Mapping[str, Mapping[str, str]],
          missing: Mapping[str, Mapping[str, tuple[str, ...]]] | None) -> dict[str, tuple | None]:
    """Per event type: None when no property is read, else (the only property's name or None,
    the names, their types, a memo of normalised values, the `missing:` texts)."""
    plan: dict[str, tuple | None] = {}
    for name, types in property_types.items():
        names = tuple(types)
        plan[name] = (names[0] if len(names) == 1 else None, names, types, {},
                      missing.get(name) if missing else None) if names else None
    return plan


def _properties(properties: Mapping[str, Any], types: Mapping[str, str],
                placeholders: Mapping[str, tuple[str, ...]] | None) -> dict[str, Any]:
    if not placeholders:
        return {name: normalise_value(properties.get(name), t) for name, t in types.items()}
    return {name: normalise_value(placeholder_is_none(properties.get(name), placeholders.get(name)), t)
            for name, t in types.items()}


# The properties of an event whose properties no rule reads (shared, read-only), and the sort
# key of a group; generated modules use both (entry_points.group_events_source).
NO_PROPERTIES: Mapping[str, Any] = {}
event_time = itemgetter(0)


def _kind_of(value: Any) -> str:
    return "None" if value is None else f"a {type(value).__name__}"


# --- strict input -----------------------------------------------------------------------

def check_strict(lead: Any, events: Any, field_types: Mapping[str, str],
                 property_types: Mapping[str, Mapping[str, str]],
                 field_values: Mapping[str, tuple[str, ...]],
                 property_values: Mapping[str, Mapping[str, tuple[str, ...]]],
                 field_missing: Mapping[str, tuple[str, ...]],
                 property_missing: Mapping[str, Mapping[str, tuple[str, ...]]]) -> list | tuple:
    """`strict=True`: raise InputError, naming it, for the first unknown field, unknown event
    type or property, value of the wrong type or enum value the schema does not declare. A value
    of the wrong type is one the lenient scorer would read as missing (None, an empty text and a
    `missing:` placeholder are missing values, never errors). Returns the events, as a list when
    they were an iterator (read once here, they are read again to be scored)."""
    if type(lead) is not dict and not isinstance(lead, Mapping):
        raise InputError(f"a lead must be a mapping of field names to values, not {_kind_of(lead)}")
    for name, value in lead.items():
        kind = field_types.get(name)
        if kind is None:
            raise InputError(f"unknown field {name!r}: the schema declares {_names(field_types)}")
        _check_value(value, kind, field_values.get(name), field_missing.get(name), f"field {name!r}")
    if events is None or isinstance(events, (str, bytes, Mapping)):
        raise InputError(f"a lead's events must be a list of event mappings, not {_kind_of(events)}")
    if not isinstance(events, (list, tuple)):
        events = list(events)
    for raw in events:
        if not isinstance(raw, Mapping):
            raise InputError(f"an event must be a mapping with type, at and properties, not {_kind_of(raw)}")
        kind = raw.get("type")
        types = property_types.get(kind)
        if types is None:
            raise InputError(f"unknown event type {kind!r}: the schema declares {_names(property_types)}")
        properties = raw.get("properties") or {}
        if not isinstance(properties, Mapping):
            raise InputError(f"the properties of a {kind!r} event must be a mapping, not {_kind_of(properties)}")
        values, missing = property_values.get(kind, {}), property_missing.get(kind, {})
        for name, value in properties.items():
            if name not in types:
                raise InputError(f"unknown property {name!r} of event type {kind!r}: "
                                 f"the schema declares {_names(types)}")
            _check_value(value, types[name], values.get(name), missing.get(name),
                         f"property {name!r} of a {kind!r} event")
    return events


def _check_value(value: Any, kind: str, allowed: tuple[str, ...] | None,
                 placeholders: tuple[str, ...] | None, what: str) -> None:
    if value is None or placeholder_is_none(value, placeholders) is None:
        return
    if isinstance(value, str) and not value.strip():
        return
    normal = normalise_value(value, kind)
    if normal is None:
        raise InputError(f"{what}: {value!r} is not a {kind}")
    if allowed is not None:
        for item in (normal if kind == "list" else (normal,)):
            if item not in allowed:
                raise InputError(f"{what}: {item!r} is not one of its declared values {_names(allowed)}")


def _names(names: Iterable[str]) -> str:
    shown = [repr(n) for n in names]
    return ", ".join(shown) if shown else "none"


# --- decay and calendar ----------------------------------------------------------------

def decay_half_life(age_days: float, half_life_days: float) -> float:
    return 0.5 ** (age_days / half_life_days)


def decay_linear(age_days: float, length_days: float) -> float:
    return max(0.0, 1.0 - age_days / length_days)


def decay_steps(age_days: float, ages_days: tuple[float, ...], fractions: tuple[float, ...]) -> float:
    """100% until the first step; then the fraction of the last step whose
    age is <= the event's age."""
    index = bisect_right(ages_days, age_days)
    return 1.0 if index == 0 else fractions[index - 1]


def day_bucket(at: float) -> int:
    """The UTC calendar day of an instant."""
    return int(at // DAY)


def week_bucket(at: float) -> int:
    """The ISO week (Monday 00:00 UTC) of an instant. The epoch fell on a
    Thursday, so day 0 is three days after a Monday."""
    return int((at // DAY + 3) // 7)


def idle_penalty(idle_seconds: float, after: float, points: float, every: float) -> float:
    if idle_seconds < after:
        return 0.0
    return points * (1 + math.floor((idle_seconds - after) / every))


# --- regexes ------------------------------------------------------------------------------

def compile_pattern(pattern: str, flags: str = ""):
    """An RE2 regex: linear time whatever the pattern, so an untrusted rule
    file cannot stall a scorer with catastrophic backtracking. Imported here
    so a scorer without `matches` needs nothing beyond the standard library."""
    try:
        import re2
    except ImportError:
        raise ImportError("this scorer uses `matches`, which needs RE2: pip install google-re2") from None

    options = re2.Options()
    options.log_errors = False  # RE2 would print every bad pattern to stderr
    return re2.compile(f"(?i){pattern}" if "i" in flags else pattern, options)


# --- helpers of the generated code ---------------------------------------------------------

copysign = math.copysign
isfinite = math.isfinite


def limit_group(total: float, limit: float) -> float:
    """A group's sum held to its limit; a sum too large to represent stays as it is, so the
    score it belongs to becomes missing (see finite_or_missing)."""
    return copysign(min(limit, abs(total)), total) if isfinite(total) else total


def finite_or_missing(value: float | None) -> float | None:
    """A score that overflowed to infinity or NaN is missing (docs/scoring.md)."""
    return value if value is None or isfinite(value) else None

# A regex result memo per pattern: string fields repeat a few values (job
# titles, domains) across many leads; the cap bounds memory on unique values.
MEMO_LIMIT = 50_000


def remember(memo: dict, value: str, regex) -> bool:
    found = regex.search(value) is not None
    if len(memo) < MEMO_LIMIT:
        memo[value] = found
    return found


def min_or_missing(*values):
    return None if any(v is None for v in values) else min(values)


def max_or_missing(*values):
    return None if any(v is None for v in values) else max(values)


# --- functions of the language -------------------------------------------------------------

def domain(value: str | None) -> str | None:
    if value is None or "@" not in value:
        return None
    return value.rsplit("@", 1)[1].lower()


# --- results ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Reason:
    """One contribution to a score. `kind` is "rule", "group" (the limit of a
    group), "inactivity" or "clamp"; the reasons of a score add up to it."""

    score: str
    rule: str
    points: float
    kind: str = "rule"
    events: int | None = None  # for per-event rules: how many events counted

    def as_dict(self) -> dict:
        out = {"score": self.score, "rule": self.rule, "points": self.points, "kind": self.kind}
        if self.events is not None:
            out["events"] = self.events
        return out


@dataclass(frozen=True)
class Result:
    scores: dict[str, float | None]
    thresholds: dict[str, bool]
    segments: dict[str, str | None]
    reasons: tuple[Reason, ...] = field(default=())

    def reasons_for(self, score: str) -> list[Reason]:
        return [r for r in self.reasons if r.score == score]


_new_object = object.__new__


def new_result(scores: dict, thresholds: dict, segments: dict, reasons: tuple = ()) -> Result:
    """Result(scores, thresholds, segments, reasons), built for every lead a scorer returns: its
    fields filled in directly, a third of the time of the frozen dataclass's __init__ (which
    sets each one through object.__setattr__). Equal to the Result the __init__ would build."""
    result = _new_object(Result)
    fields = result.__dict__
    fields["scores"] = scores
    fields["thresholds"] = thresholds
    fields["segments"] = segments
    fields["reasons"] = reasons
    return result


def round_for_display(value: float | None) -> float | None:
    """Half away from zero to 2 decimals (docs/language.md); display only. Decimal rounds the
    number as written (its shortest repr), so 2.675 shows as 2.68 and 1.005 as 1.01, where
    binary arithmetic (2.675 is stored as 2.67499999...) would round them down."""
    if value is None or not math.isfinite(value):
        return value
    return float(Decimal(repr(value)).quantize(_CENT, ROUND_HALF_UP, _DISPLAY))


_CENT, _DISPLAY = Decimal("0.01"), Context(prec=400)   # enough digits for the largest float
