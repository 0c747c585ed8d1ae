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
                    "PROPERTY_VALUES", "FIELDS_READ", "PROPERTIES_READ", "DAY", "MEMO_LIMIT", "CHAIN",
                    "NO_PROPERTIES"})
# The generated functions' own short names (R for the reasons, S, TH, SG, L, G, E0, ...): a
# constant spelled like one would be shadowed inside them.
_LOCAL_FORM = re.compile(r"[A-Z]{1,2}[0-9]*")


def constant_identifier(name: str, taken: set[str]) -> str:
    """A module-level name for the constant `name` (`mql fit` -> MQL_FIT): ASCII letters, digits
    and underscores only, never a name already taken; the rule file's spelling is in a comment."""
    base = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper() or "CONSTANT"
    if base[0].isdigit() or _LOCAL_FORM.fullmatch(base):
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


def prepare_lead_source(field_types: Mapping[str, str], field_missing: Mapping[str, tuple[str, ...]],
                        read: set[str]) -> list[str]:
    """`prepare_lead(lead)`: runtime.prepare_fields specialised to one schema, for the fields in
    `read` only (those evaluate reads: normalising a value never raises, so a field no rule reads
    changes nothing). A value already of its field's type is taken as it is; any other goes
    through normalise_value."""
    lines = ["def prepare_lead(lead):",
             '    """The fields the rules read in the runtime\'s representation (as runtime.prepare_fields)."""',
             "    if type(lead) is not dict and not isinstance(lead, _rt.Mapping):",
             "        return _rt.prepare_fields(lead, FIELD_TYPES)  # raises InputError",
             "    get = lead.get"]
    values = []
    for i, (name, kind) in enumerate((n, k) for n, k in field_types.items() if n in read):
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
        elif kind == "list":
            lines += [f"    {v} = get({name!r})", f"    if {v} is not None:",
                      f"        {v} = _rt.normalise_list({v})"]
        elif kind == "datetime":
            lines += [f"    {v} = get({name!r})",
                      f"    {v} = {v}.timestamp() if type({v}) is _rt.datetime and {v}.tzinfo is not None "
                      f"else _rt.normalise_value({v}, {kind!r})"]
        else:
            lines.append(f"    {v} = _rt.normalise_value(get({name!r}), {kind!r})")
        values.append(f"{name!r}: {v}")
    return lines + ["    return {"] + [f"        {item}," for item in values] + ["    }"]


# Per property type: a test true of a value normalise_value returns unchanged, `first` reading it
# into `v` (None excluded: the kept dict must hold every name read, and an absent one reads None).
_ALREADY_NORMAL = {
    "string": "type({first}) is str and {v}",
    "number": "type({first}) is float and {v} - {v} == 0.0",   # inf and NaN fail it
    "boolean": "type({first}) is bool",
}


def group_events_source(properties_read: Mapping[str, Mapping[str, str]],
                        property_missing: Mapping[str, Mapping[str, tuple[str, ...]]]) -> list[str]:
    """`group_events(events, T)`: runtime.prepare_events specialised to one schema, in one pass.
    Each declared type's list is found by one dict lookup; only the types whose properties the
    rules read normalise them (memoised per distinct values, as the runtime does). Anything the
    fast path does not take as it is (events not a list, an event not a dict, without a type or
    a time, properties not a dict, an unhashable value) goes to runtime.prepare_events from the
    start, so errors and skipped events are exactly the runtime's. Properties (a dict) that hold
    exactly the names read, each value already as normalise_value returns it (_ALREADY_NORMAL),
    equal the normalised dict: the event keeps them as they are, without a memo lookup."""
    reading = {kind: names for kind, names in properties_read.items() if names}
    lines = ["def group_events(events, T):",
             '    """The events by type in time order, none after T (as runtime.prepare_events)."""',
             "    if type(events) is not list and type(events) is not tuple:",
             "        return _rt.prepare_events(events, PROPERTIES_READ, T, _SEEN, PROPERTY_MISSING)",
             "    G = {" + ", ".join(f"{kind!r}: []" for kind in properties_read) + "}",
             "    get = G.get"]
    if reading:
        lines.append("    " + ", ".join(f"g{i}" for i in range(len(reading)))
                     + " = " + ", ".join(f"G[{kind!r}]" for kind in reading))
        lines.append("    " + "".join(f"m{i}, " for i in range(len(reading))) + "= _MEMOS")
    lines += ["    datetime, to_epoch, normalise = _rt.datetime, _rt.to_epoch, _rt.normalise_value",
              "    no_properties = _rt.NO_PROPERTIES",
              "    try:",
              "        for raw in events:",
              "            group = get(raw['type'])",
              "            if group is None:   # a type the schema does not declare: skipped",
              "                continue",
              "            at = raw['at']",
              "            at = at.timestamp() if type(at) is datetime and at.tzinfo is not None "
              "else to_epoch(at, 'an event time')",
              "            if at > T:",
              "                continue"]
    branch = "if"
    for i, (kind, names) in enumerate(reading.items()):
        placeholders = property_missing.get(kind, {})
        values = [f"v{j}" for j in range(len(names))]
        key = (f"v0 if type(v0) is str else (v0, type(v0))" if len(names) == 1 else
               "(" + ", ".join(values) + ", " + ", ".join(f"type({v})" for v in values) + ")")
        normalised = []
        for name, value in zip(names.items(), values):
            if placeholders.get(name[0]):
                value = f"_rt.placeholder_is_none({value}, {placeholders[name[0]]!r})"
            normalised.append(f"{name[0]!r}: normalise({value}, {name[1]!r})")
        lines += [f"            {branch} group is g{i}:   # {kind!r}: the rules read its properties"]
        normal = [_ALREADY_NORMAL.get(t) for t in names.values()]
        if None not in normal and not any(placeholders.get(n) for n in names):
            test = " and ".join(check.format(first=f"{v} := properties[{n!r}]", v=v)
                                for check, v, n in zip(normal, values, names))
            lines += ["                try:   # exactly the names read, each value as normalised: kept as they are",
                      "                    properties = raw['properties']",
                      f"                    if type(properties) is dict and len(properties) == {len(names)} and {test}:",
                      "                        group.append((at, properties))",
                      "                        continue",
                      "                except KeyError:   # a name is absent: read below",
                      "                    pass"]
        lines += ["                properties = raw.get('properties') or no_properties",
                  "                if type(properties) is not dict:",
                  "                    return _rt.prepare_events(events, PROPERTIES_READ, T, _SEEN, PROPERTY_MISSING)",
                  "                " + ", ".join(values) + " = "
                  + ", ".join(f"properties.get({n!r})" for n in names),
                  "                # the key holds the types too: True, 1 and 1.0 are equal keys but read differently",
                  f"                key = {key}",
                  f"                prepared = m{i}.get(key)",
                  "                if prepared is None:",
                  f"                    if len(m{i}) >= _rt.MEMO_LIMIT:   # unique values: bound the memory",
                  f"                        m{i}.clear()",
                  f"                    prepared = m{i}[key] = {{" + ", ".join(normalised) + "}",
                  "                group.append((at, prepared))"]
        branch = "elif"
    if reading:
        lines += ["            else:", "                group.append((at, no_properties))"]
    else:
        lines.append("            group.append((at, no_properties))")
    lines += ["    except (KeyError, TypeError, AttributeError):",
              "        # not an event the fast path takes as it is: the runtime decides (or raises InputError)",
              "        return _rt.prepare_events(events, PROPERTIES_READ, T, _SEEN, PROPERTY_MISSING)",
              "    event_time = _rt.event_time",
              "    for group in G.values():",
              "        if len(group) > 1:",
              "            group.sort(key=event_time)   # stable: equal times keep input order",
              "    return G",
              "",
              "",
              "_SEEN = {}   # the runtime's memo of normalised event properties, shared across calls",
              "_MEMOS = (" + "".join("{}, " for _ in reading) + ")   # group_events' memos, one per type read"]
    return lines


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
    G = group_events(events, T)
    return to_result(*evaluate(F, G, T, explain))


def score_many(leads, events_by_lead=None, as_of=None, *, explain=True, strict=False):
    """score_many(leads, events_by_lead, as_of): {lead id: result}, in the order of `leads`
    (a mapping of lead id to lead; a lead without an entry in events_by_lead has no events).
    score_many(pairs, as_of), with (lead, events) pairs, yields the results lazily."""
    if as_of is None:
        return (score(lead, events, events_by_lead, explain=explain, strict=strict) for lead, events in leads)
    if not isinstance(leads, _rt.Mapping) or not isinstance(events_by_lead, _rt.Mapping):
        raise _rt.InputError('score_many(leads, events_by_lead, as_of) takes two mappings keyed by lead id')
    if strict:
        return {key: score(lead, events_by_lead.get(key, ()), as_of, explain=explain, strict=True)
                for key, lead in leads.items()}
    # score's steps, the instant converted once: per lead, the call costs as much as a rule
    T = _rt.to_epoch(as_of, 'an as-of instant')
    events_of = events_by_lead.get
    return {key: to_result(*evaluate(prepare_lead(lead), group_events(events_of(key, ()), T), T, explain))
            for key, lead in leads.items()}'''
