"""The entry points of a generated scorer module: what turns an engineer's Python values into
evaluate's input and its output into a Result, and the standalone module's public names.

Split from python.py, which generates `evaluate` itself; the same rule holds here: user text
(field and score names, constant names) reaches the source only through `repr()` or as a
checked ASCII identifier.
"""

from __future__ import annotations

import re
from typing import Mapping

# What an engineer embedding a standalone module uses; the rest is its machinery.
STANDALONE_API = ("score", "score_many", "Result", "Reason", "InputError",
                  "RULESET", "VERSION", "SCORES", "THRESHOLDS", "SEGMENTS")
# Module-level names a named constant must not take (the header's and the embedded runtime's).
_TAKEN = frozenset({"RULESET", "VERSION", "SCORES", "BLOCKS", "THRESHOLDS", "SEGMENTS", "FIELD_TYPES",
                    "PROPERTY_TYPES", "FIELD_MISSING", "PROPERTY_MISSING", "FIELD_VALUES",
                    "PROPERTY_VALUES", "PROPERTIES_READ", "DAY", "MEMO_LIMIT", "CHAIN"})


def constant_identifier(name: str, taken: set[str]) -> str:
    """A module-level name for the constant `name` (`mql fit` -> MQL_FIT): ASCII letters, digits
    and underscores only, never a name already taken; the rule file's spelling is in a comment."""
    base = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper() or "CONSTANT"
    if base[0].isdigit():
        base = "C_" + base
    candidate, number = base, 1
    while candidate in taken or candidate in _TAKEN or candidate.startswith("_"):
        number += 1
        candidate = f"{base}_{number}"
    taken.add(candidate)
    return candidate


def to_result_source(scores: dict[str, str], thresholds: dict[str, str],
                     segments: dict[str, str]) -> list[str]:
    """`to_result(S, TH, SG, R)`: evaluate's values as a Result, its dicts written out (faster
    than zipping them from the name tuples). The arguments map each name to evaluate's local."""
    lines = ["def to_result(S, TH, SG, R):", '    """evaluate\'s values as a Result."""']
    parts = []
    for names, source in ((scores, "S"), (thresholds, "TH"), (segments, "SG")):
        if names:
            lines.append("    (" + "".join(local + ", " for local in names.values()) + f") = {source}")
        parts.append("{" + ", ".join(f"{name!r}: {local}" for name, local in names.items()) + "}")
    return lines + [f"    return _rt.new_result({parts[0]},", f"                          {parts[1]},",
                    f"                          {parts[2]},",
                    "                          tuple(_rt.Reason(*r) for r in R) if R else ())"]


# Per field type: a test true of a value the runtime would return unchanged (None included).
_FAST_PATHS = {
    "string": "{v} is None or type({v}) is str and {v}",
    "number": "{v} is None or type({v}) is float and {v} - {v} == 0.0",   # inf and NaN fail it
    "boolean": "{v} is None or type({v}) is bool",
}


def prepare_lead_source(field_types: Mapping[str, str],
                        field_missing: Mapping[str, tuple[str, ...]]) -> list[str]:
    """`prepare_lead(lead)`: runtime.prepare_fields specialised to one schema. A value already of
    its field's type is taken as it is; any other goes through normalise_value."""
    lines = ["def prepare_lead(lead):",
             '    """The lead\'s fields in the runtime\'s representation (as runtime.prepare_fields)."""',
             "    if type(lead) is not dict and not isinstance(lead, _rt.Mapping):",
             "        return _rt.prepare_fields(lead, FIELD_TYPES)  # raises InputError",
             "    get = lead.get"]
    values = []
    for i, (name, kind) in enumerate(field_types.items()):
        v, placeholders = f"v{i}", field_missing.get(name)
        fast = _FAST_PATHS.get(kind)
        if placeholders:
            lines.append(f"    {v} = _rt.normalise_value(_rt.placeholder_is_none(get({name!r}), "
                         f"{placeholders!r}), {kind!r})")
        elif kind == "number":   # an int within the float range is the float of it
            lines += [f"    {v} = get({name!r})", f"    if not ({fast.format(v=v)}):",
                      f"        {v} = float({v}) if type({v}) is int and -1e308 < {v} < 1e308 "
                      f"else _rt.normalise_value({v}, {kind!r})"]
        elif fast is not None:
            lines += [f"    {v} = get({name!r})", f"    if not ({fast.format(v=v)}):",
                      f"        {v} = _rt.normalise_value({v}, {kind!r})"]
        elif kind == "datetime":
            lines += [f"    {v} = get({name!r})",
                      f"    {v} = {v}.timestamp() if type({v}) is _rt.datetime and {v}.tzinfo is not None "
                      f"else _rt.normalise_value({v}, {kind!r})"]
        else:
            lines.append(f"    {v} = _rt.normalise_value(get({name!r}), {kind!r})")
        values.append(f"{name!r}: {v}")
    return lines + ["    return {"] + [f"        {item}," for item in values] + ["    }"]


# The API functions of every generated module (a standalone one is used without leadscore).
SCORE_FUNCTIONS = '''def score(lead, events, as_of, *, explain=True, strict=False):
    """Score one lead at `as_of` as docs/language.md describes; reasons unless explain=False.
    strict=True raises InputError for an unknown field, event type or property, a value of
    the wrong type or an enum value the schema does not declare (the default reads them as
    missing or skips them)."""
    T = _rt.to_epoch(as_of, 'an as-of instant')
    if strict:
        events = _rt.check_strict(lead, events, FIELD_TYPES, PROPERTY_TYPES, FIELD_VALUES, PROPERTY_VALUES,
                                  FIELD_MISSING, PROPERTY_MISSING)
    F = prepare_lead(lead)
    G = _rt.prepare_events(events, PROPERTIES_READ, T, _SEEN, PROPERTY_MISSING)
    return to_result(*evaluate(F, G, T, explain))


def score_many(leads, events_by_lead=None, as_of=None, *, explain=True, strict=False):
    """score_many(leads, events_by_lead, as_of): {lead id: result}, in the order of `leads`
    (a mapping of lead id to lead; a lead without an entry in events_by_lead has no events).
    score_many(pairs, as_of), with (lead, events) pairs, yields the results lazily."""
    if as_of is None:
        return (score(lead, events, events_by_lead, explain=explain, strict=strict) for lead, events in leads)
    if not isinstance(leads, _rt.Mapping) or not isinstance(events_by_lead, _rt.Mapping):
        raise _rt.InputError('score_many(leads, events_by_lead, as_of) takes two mappings keyed by lead id')
    return {key: score(lead, events_by_lead.get(key, ()), as_of, explain=explain, strict=strict)
            for key, lead in leads.items()}


_SEEN = {}  # normalised event properties, shared across calls (runtime.prepare_events)'''
