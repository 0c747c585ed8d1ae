"""Read a YAML file into plain data, with positions, and check it against a JSON Schema.

The files read here are edited by hand by people who are not programmers, so
every problem becomes a Diagnostic with a line and column; nothing raises.

What the loader accepts, and why:

* Only PyYAML's safe machinery is used (SafeLoader to compose a node tree,
  SafeConstructor's scalar rules). Tags other than the standard JSON-like ones
  (`!!str`, `!!int`, `!!float`, `!!bool`, `!!null`, `!!map`, `!!seq`) are LS601:
  `!!python/object/...` is reported, never executed.
* Anchors (`&a`) and aliases (`*a`) are LS601: these files never need them, and
  alias bombs would make validation explode.
* A key given twice in one mapping is LS601 (YAML itself requires keys to be
  unique) at the second occurrence; the first one is kept.
* Syntax errors are LS601; control characters such as NUL are LS600. Messages
  are built from PyYAML's problem/context text and marks, never from str(exc),
  which would quote a snippet of the file.
* An empty file (nothing, only comments, or a bare `---`) is LS602.
* Validation failures are LS602, except a plain (unquoted) value that YAML reads
  as a boolean, number or null where text is expected: that is LS604, with a
  hint to quote it (`no` -> `"no"`).

The data returned is JSON-shaped: mappings are `YamlMap` (a dict) with string
keys, sequences are `YamlList` (a list), scalars are str, int, float, bool or
None. Mapping keys are always the text as written (`no:` is the key "no",
`2024:` the key "2024"), because JSON keys are strings and a field called `no`
should stay `no`. YAML timestamps stay the text as written, since JSON has no
date type and each caller parses dates with its own rules. The containers
remember where each entry came from (`Origin`), so callers can point at values.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass

import yaml

from leadscore.cache import ValidYaml
from leadscore.dsl.diagnostics import Diagnostic, Span, make, sort_key
from leadscore.dsl.yaml_words import TYPE_SYNONYMS, plain_yaml_error

_Y = "tag:yaml.org,2002:"
_TEXT_TAGS = {_Y + "str", _Y + "timestamp", _Y + "value"}  # `=` resolves to !!value
_MAX_DEPTH = 64                   # far deeper than any real file; keeps recursion safe


@dataclass(frozen=True, slots=True)
class Origin:
    """Where one mapping entry or list item was written."""

    span: Span               # the value
    key_span: Span | None    # the key, for a mapping entry
    plain: str | None        # the scalar as written, when it was not quoted


class YamlMap(dict):
    """A mapping that remembers its own span and where each entry was written."""

    __slots__ = ("span", "origins")

    def __init__(self, span: Span) -> None:
        super().__init__()
        self.span = span
        self.origins: dict[str, Origin] = {}


class YamlList(list):
    """A sequence that remembers its own span and where each item was written."""

    __slots__ = ("span", "origins")

    def __init__(self, span: Span) -> None:
        super().__init__()
        self.span = span
        self.origins: list[Origin] = []


def locate(root: object, path: tuple) -> Origin | None:
    """The origin of the value at `path` (keys and indexes), or None for the root."""
    node, origin = root, None
    for step in path:
        if isinstance(node, YamlMap) and step in node.origins:
            origin = node.origins[step]
        elif isinstance(node, YamlList) and isinstance(step, int) and 0 <= step < len(node):
            origin = node.origins[step]
        else:
            return origin
        node = node[step]
    return origin


def load_yaml(text: str, file: str, json_schema: dict, valid: ValidYaml | None = None
              ) -> tuple[object | None, list[Diagnostic]]:
    """Parse `text` and validate it against `json_schema` (draft 2020-12); `valid`, when the
    caller has one, skips validating a text found valid before and records a new one.

    Returns the data (None when the YAML cannot be read at all) and every
    diagnostic, sorted by position. Data is returned even when it fails
    validation, so callers can still report what they can.
    """
    loader = None
    try:
        loader = _Loader(text)
        root = loader.get_single_node()
    except yaml.reader.ReaderError as exc:
        return None, [_reader_error(exc, text, file)]
    except yaml.MarkedYAMLError as exc:
        return None, [_syntax_error(exc, file)]
    except RecursionError:
        return None, [make("LS601", "the file is nested too deeply to read", Span.point(file, 1, 1))]
    finally:
        if loader is not None:
            loader.dispose()

    diags = [make("LS601", f"{what} are not supported in this file", _span(file, ev.start_mark, ev.end_mark),
                  "write the value out in full instead of referring to another one")
             for what, ev in loader.refusals]
    if root is None or (isinstance(root, yaml.ScalarNode) and root.tag == _Y + "null" and root.value == ""):
        title = json_schema.get("title")
        diags.append(make("LS602", f"the {title} is empty" if title else "the file is empty",
                          Span.point(file, 1, 1)))
        return None, sorted(diags, key=sort_key)

    builder = _Builder(loader, file)
    data = builder.value(root, (), 0)
    diags += builder.diags
    try:
        errors = _validation_errors(data, text, json_schema, valid if not diags else None)
    except RecursionError:
        errors = []
        diags.append(make("LS601", "the file is nested too deeply to check", Span.point(file, 1, 1)))
    seen: set[tuple] = set()
    for error in errors:
        path = tuple(error.absolute_path)
        # A refused node already has its diagnostic; its placeholder would only add noise.
        if any(path[: len(r)] == r for r in builder.refused):
            continue
        for d in _explain(error, data, file):
            if (d.code, d.span, d.message) not in seen:
                seen.add((d.code, d.span, d.message))
                diags.append(d)
    return data, sorted(diags, key=lambda d: (d.span.line, d.span.column, d.code, d.message))


def known_text(text: str, root: object, json_schema: dict) -> str:
    """`text` with only the keys and values `json_schema` knows left on their
    lines, for showing under diagnostics.

    The file may not be what its name claims (a schema path can name any
    file), so nothing else is echoed: the line of a key the format does not
    know is cut after the key, the lines of its value are blanked, and so is
    every line outside a known entry (all of them when the YAML could not be
    read). Line numbers are kept, so spans still point at the right line."""
    lines = text.splitlines()
    known: set[int] = set()
    cut: dict[int, int] = {}        # line -> characters kept (an unknown key's end)
    hidden: set[int] = set()
    _mark_known(root, [json_schema], json_schema, known, cut, hidden)
    shown = []
    for number, line in enumerate(lines, 1):
        if number in hidden:
            shown.append("")
        elif number in cut:
            shown.append(line[:cut[number]])
        else:
            shown.append(line if number in known else "")
    return "\n".join(shown)


def nameable(key: str) -> bool:
    """Whether an unknown key may be named in a message: a short word or
    phrase, the kind of thing a typo of a real key looks like. Anything else
    (`root:$6$salt$hash:...` read from a password file) is data, not a name."""
    return _NAME_LIKE.fullmatch(key) is not None


_NAME_LIKE = re.compile(r"[^\W\d][\w .-]{0,39}")


def _mark_known(node: object, schemas: list, root_schema: dict, known: set[int],
                cut: dict[int, int], hidden: set[int]) -> None:
    expanded = _expand(schemas, root_schema)
    if isinstance(node, YamlMap):
        for key, value in node.items():
            origin = node.origins[key]
            children = _property_schemas(expanded, key)
            if not children:
                key_span = origin.key_span
                keep = key_span.end_column - 1 if nameable(key) else key_span.column - 1
                cut[key_span.line] = min(cut.get(key_span.line, keep), keep)
                hidden.update(range(key_span.line + 1, origin.span.end_line + 1))
                continue
            known.add(origin.key_span.line)
            _mark_value(value, origin, children, root_schema, known, cut, hidden)
    elif isinstance(node, YamlList):
        children = [s["items"] for s in expanded if isinstance(s.get("items"), dict)]
        if children:
            for value, origin in zip(node, node.origins):
                _mark_value(value, origin, children, root_schema, known, cut, hidden)


def _mark_value(value: object, origin: Origin, schemas: list, root_schema: dict, known: set[int],
                cut: dict[int, int], hidden: set[int]) -> None:
    if isinstance(value, (YamlMap, YamlList)):
        _mark_known(value, schemas, root_schema, known, cut, hidden)
    else:
        known.update(range(origin.span.line, origin.span.end_line + 1))


def _expand(schemas: list, root_schema: dict) -> list[dict]:
    """The schemas that apply, with `$ref`s followed and every branch of
    if/then/else and the combinators included."""
    out, stack, seen = [], list(schemas), set()
    while stack:
        schema = stack.pop()
        if not isinstance(schema, dict) or id(schema) in seen:
            continue
        seen.add(id(schema))
        out.append(schema)
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            target = root_schema
            for part in ref[2:].split("/"):
                target = target.get(part, {}) if isinstance(target, dict) else {}
            stack.append(target)
        stack.extend(schema[k] for k in ("then", "else") if k in schema)
        for k in ("allOf", "anyOf", "oneOf"):
            stack.extend(schema.get(k, []))
    return out


def _property_schemas(schemas: list[dict], key: str) -> list:
    found = []
    for schema in schemas:
        if key in schema.get("properties", {}):
            found.append(schema["properties"][key])
        found.extend(sub for pattern, sub in schema.get("patternProperties", {}).items()
                     if re.search(pattern, key))
        if isinstance(schema.get("additionalProperties"), dict):
            found.append(schema["additionalProperties"])
    return found


def _validation_errors(data: object, text: str, json_schema: dict, valid: ValidYaml | None) -> list:
    """jsonschema's errors for `data` (read from `text`).

    Importing jsonschema costs about a third of `leadscore check`'s start-up,
    and CI checks the same schema files on every run; so a text once found
    valid is remembered in `valid` and not validated again."""
    key = valid.key(text, json_schema) if valid is not None else None
    if key is not None and valid.known(key):
        return []
    import jsonschema

    errors = list(jsonschema.Draft202012Validator(json_schema).iter_errors(data))
    if key is not None and not errors:
        valid.remember(key)
    return errors


# --- reading ---------------------------------------------------------------

class _RefusedNode(yaml.ScalarNode):
    """Stands in for an alias, already reported. A class, not a tag, so that
    no file can write one."""


class _Loader(yaml.SafeLoader):
    """SafeLoader that records anchors and aliases instead of honouring them."""

    def __init__(self, text: str) -> None:
        self.refusals: list[tuple[str, yaml.Event]] = []
        super().__init__(text)

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            self.get_event()
            self.refusals.append(("aliases (`*name`)", event))
            return _RefusedNode("", "", event.start_mark, event.end_mark)
        if event.anchor is not None:
            self.refusals.append(("anchors (`&name`)", event))
            event.anchor = None  # never registered, so no alias can expand it
        return super().compose_node(parent, index)


def _span(file: str, start, end) -> Span:
    line, col = start.line + 1, start.column + 1
    end_line, end_col = end.line + 1, end.column + 1
    if (end_line, end_col) <= (line, col):
        end_line, end_col = line, col + 1  # an empty value still gets a caret
    return Span(file, line, col, end_line, end_col)


def _reader_error(exc: yaml.reader.ReaderError, text: str, file: str) -> Diagnostic:
    pos = max(0, min(exc.position, len(text)))
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return make("LS600", f"the file contains a control character (U+{exc.character:04X}) "
                "that is not allowed in a text file", Span.point(file, line, column),
                "is this really a text file? Save it as plain UTF-8 text")


_SYNTAX_HINTS = (
    ("'\\t'", "indent with spaces; YAML does not allow tabs for indentation"),
    ("mapping values are not allowed", "a value that contains `: ` must be put in quotes"),
    ("another document", "the file holds one document: remove the second `---`"),
    ("found unknown escape", "inside double quotes write a backslash as `\\\\`, or use single quotes"),
)


def _syntax_error(exc: yaml.MarkedYAMLError, file: str) -> Diagnostic:
    # Built only from problem/context and marks: str(exc) would quote the file.
    plain = plain_yaml_error(exc)
    if plain is not None:
        message, hint, at = plain
        return make("LS601", message, Span.point(file, at.line + 1, at.column + 1), hint)
    mark = exc.problem_mark or exc.context_mark
    span = Span.point(file, mark.line + 1, mark.column + 1) if mark else Span.point(file, 1, 1)
    message = exc.problem or exc.context or "the file is not valid YAML"
    if exc.problem and exc.context:
        where = ""
        if exc.context_mark is not None:
            where = f" at line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1}"
        if exc.problem.startswith("but "):  # the composer states the rule in context
            message = f"{exc.context}, {exc.problem}"
        else:
            message = f"{exc.problem} ({exc.context.removeprefix('while ')}{where})"
    hint = next((h for needle, h in _SYNTAX_HINTS if needle in message),
                "check the indentation and the `:` after each key")
    return make("LS601", message, span, hint)


# `"\ud800"` reads as half a UTF-16 surrogate pair: not a character, and text
# holding one can be neither printed nor written as UTF-8.
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_PROBLEM = ("a `\\u` escape here is half of a UTF-16 surrogate pair, not a character",
                      "write the character itself, or a character beyond U+FFFF as `\\U0001F600`")


class _Builder:
    """Turns the composed node tree into YamlMap/YamlList/scalars, reporting what it refuses."""

    def __init__(self, loader: _Loader, file: str) -> None:
        self.loader, self.file = loader, file
        self.diags: list[Diagnostic] = []
        self.refused: list[tuple] = []   # paths whose value was replaced by None

    def span(self, node) -> Span:
        return _span(self.file, node.start_mark, node.end_mark)

    def refuse(self, node, path: tuple, message: str, hint: str | None = None) -> None:
        self.refused.append(path)
        self.diags.append(make("LS601", message, self.span(node), hint))

    def value(self, node, path: tuple, depth: int) -> object:
        if isinstance(node, _RefusedNode):
            self.refused.append(path)
            return None
        if depth > _MAX_DEPTH:
            self.refuse(node, path, "the file is nested too deeply")
            return None
        if isinstance(node, yaml.MappingNode):
            return self.mapping(node, path, depth) if node.tag == _Y + "map" else self.bad_tag(node, path)
        if isinstance(node, yaml.SequenceNode):
            return self.sequence(node, path, depth) if node.tag == _Y + "seq" else self.bad_tag(node, path)
        return self.scalar(node, path)

    def bad_tag(self, node, path: tuple) -> None:
        shown = "!!" + node.tag.removeprefix(_Y) if node.tag.startswith(_Y) else node.tag
        self.refuse(node, path, f"the tag `{shown}` is not allowed in this file",
                    "remove the tag and write a plain value")

    def mapping(self, node: yaml.MappingNode, path: tuple, depth: int) -> YamlMap:
        result = YamlMap(self.span(node))
        for key_node, value_node in node.value:
            key = self.key(key_node)
            if key is None:
                continue
            if key in result.origins:
                first = result.origins[key].key_span
                self.diags.append(make("LS601", f"`{key}` is given twice in this mapping",
                                       self.span(key_node),
                                       f"it was first given at line {first.line}; keep only one"))
                continue
            plain = value_node.value if isinstance(value_node, yaml.ScalarNode) and value_node.style is None else None
            result.origins[key] = Origin(self.span(value_node), self.span(key_node), plain)
            result[key] = self.value(value_node, path + (key,), depth + 1)
        return result

    def key(self, node) -> str | None:
        if isinstance(node, _RefusedNode):
            return None
        if not isinstance(node, yaml.ScalarNode):
            self.diags.append(make("LS601", "a key must be a plain word or phrase, not a list or mapping",
                                   self.span(node)))
            return None
        if node.tag == _Y + "merge":
            self.diags.append(make("LS601", "merge keys (`<<`) are not supported in this file",
                                   self.span(node), "write the entries out in full"))
            return None
        if _SURROGATE.search(node.value):
            message, hint = _SURROGATE_PROBLEM
            self.diags.append(make("LS601", message, self.span(node), hint))
            return None
        return node.value  # the text as written, whatever YAML would resolve it to

    def sequence(self, node: yaml.SequenceNode, path: tuple, depth: int) -> YamlList:
        result = YamlList(self.span(node))
        for index, item in enumerate(node.value):
            plain = item.value if isinstance(item, yaml.ScalarNode) and item.style is None else None
            result.origins.append(Origin(self.span(item), None, plain))
            result.append(self.value(item, path + (index,), depth + 1))
        return result

    def scalar(self, node: yaml.ScalarNode, path: tuple) -> object:
        tag = node.tag
        if tag in _TEXT_TAGS:
            if _SURROGATE.search(node.value):
                message, hint = _SURROGATE_PROBLEM
                self.refuse(node, path, message, hint)
                return None
            return node.value
        constructors = {_Y + "int": ("a whole number", self.loader.construct_yaml_int),
                        _Y + "float": ("a number", self.loader.construct_yaml_float),
                        _Y + "bool": ("true or false", self.loader.construct_yaml_bool),
                        _Y + "null": ("an empty value", self.loader.construct_yaml_null)}
        if tag not in constructors:
            return self.bad_tag(node, path)
        kind, construct = constructors[tag]
        try:
            return construct(node)
        except (ValueError, KeyError, TypeError, OverflowError, yaml.YAMLError):
            # e.g. `!!int abc`, or an integer longer than Python will convert.
            self.refuse(node, path, f"this value cannot be read as {kind}")
            return None


# --- explaining validation errors ------------------------------------------

_TYPE_WORDS = {"object": "a mapping (`key: value` lines)", "array": "a list", "string": "text",
               "number": "a number", "integer": "a whole number", "boolean": "true or false",
               "null": "nothing"}


def _name(path: tuple) -> str:
    if not path:
        return "the file"
    if isinstance(path[-1], int):
        owner = f" of `{path[-2]}`" if len(path) > 1 and isinstance(path[-2], str) else ""
        return f"item {path[-1] + 1}{owner}"
    return f"`{path[-1]}`"


def _describe(value: object, origin: Origin | None) -> str:
    if origin is None:
        # The whole file: it may be any file at all, so say what it is, never quote it.
        kinds = ((str, "text"), (bool, "true or false"), ((int, float), "a number"), (list, "a list"))
        return next((word for kind, word in kinds if isinstance(value, kind)), "nothing")
    if origin.plain and not isinstance(value, str):
        return f"`{origin.plain}`"
    if isinstance(value, str):
        return f"`{value if len(value) <= 40 else value[:37] + '...'}`"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f"`{value}`"


def _suggest(word: object, options: list) -> str | None:
    if not isinstance(word, str):
        return None
    if TYPE_SYNONYMS.get(word.lower()) in options:
        return f"write `{TYPE_SYNONYMS[word.lower()]}`"
    lowered = {str(o).lower(): str(o) for o in options}
    close = difflib.get_close_matches(word.lower(), list(lowered), n=1, cutoff=0.6)
    return f"did you mean `{lowered[close[0]]}`?" if close else None


def _where(root: object, path: tuple, file: str) -> tuple[Span, Origin | None]:
    origin = locate(root, path) if path else None
    if origin is not None:
        return origin.span, origin
    span = root.span if isinstance(root, (YamlMap, YamlList)) else Span.point(file, 1, 1)
    return span, None


def _first_line(span: Span) -> Span:
    # A block mapping's span runs to its last line; a caret on its start reads better.
    return span if span.end_line == span.line else Span.point(span.file, span.line, span.column)


def _explain(error, root: object, file: str) -> list[Diagnostic]:
    path = tuple(error.absolute_path)
    span, origin = _where(root, path, file)
    name, kind, instance = _name(path), error.validator, error.instance
    schema = error.schema if isinstance(error.schema, dict) else {}

    if kind == "additionalProperties" and isinstance(instance, YamlMap):
        allowed = list(schema.get("properties", {}))
        patterns = list(schema.get("patternProperties", {}))
        out = []
        for key in instance:
            if key in allowed or any(re.search(p, key) for p in patterns):
                continue
            expected = f"; expected one of: {', '.join(allowed)}" if allowed else ""
            if not nameable(key):
                out.append(make("LS602", "a key here is not a known key (not quoted: it does not "
                                f"read as a key name){expected}",
                                instance.origins[key].key_span))
                continue
            out.append(make("LS602", f"`{key}` is not a known key here{expected}",
                            instance.origins[key].key_span, _suggest(key, allowed)))
        return out
    if kind == "required" and isinstance(instance, dict):
        # `typ:` instead of `type:` is one mistake: the unknown-key error (with
        # its did-you-mean) says it all, so don't also report `type` missing.
        unknown = [k for k in instance if k not in schema.get("properties", {})]
        return [make("LS602", f"{name} is missing the required key `{key}`", _first_line(span))
                for key in error.validator_value
                if key not in instance and not difflib.get_close_matches(key, unknown, n=1, cutoff=0.6)]
    if "propertyNames" in error.absolute_schema_path:
        # The error's path is the mapping; the culprit is one of its keys.
        container = _value_at(root, path)
        key_origin = container.origins.get(instance) if isinstance(container, YamlMap) else None
        key_span = key_origin.key_span if key_origin else _first_line(span)
        if kind == "minLength":
            return [make("LS602", "a name here cannot be empty", key_span)]
        return [make("LS602", f"`{instance}` is not allowed as a name here", key_span)]
    if kind == "type":
        expected = error.validator_value if isinstance(error.validator_value, list) else [error.validator_value]
        plain = origin.plain if origin else None
        if "string" in expected and plain and (instance is None or isinstance(instance, (bool, int, float))):
            reads_as = ("an empty value" if instance is None else
                        f"the yes/no value {str(instance).lower()}" if isinstance(instance, bool) else "a number")
            return [make("LS604", f"`{plain}` is read by YAML as {reads_as}, not as text", span,
                         f'put it in quotes: "{plain}"')]
        if instance is None and plain == "":
            return [make("LS602", f"{name} has no value", span,
                         f"expected {' or '.join(_TYPE_WORDS.get(t, t) for t in expected)}")]
        wanted = schema.get("x-expect") or " or ".join(_TYPE_WORDS.get(t, t) for t in expected)
        return [make("LS602", f"{name} should be {wanted}, got {_describe(instance, origin)}", span)]
    if kind == "enum":
        options = list(error.validator_value)
        return [make("LS602", f"{name}: expected one of {', '.join(map(str, options))}, "
                     f"got {_describe(instance, origin)}", span, _suggest(instance, options))]
    if kind == "minLength":
        return [make("LS602", f"{name} cannot be empty", span)]
    if kind == "minItems":
        n = error.validator_value
        return [make("LS602", f"{name} needs at least {n} item{'s' if n != 1 else ''}", _first_line(span))]
    return [make("LS602", f"{name}: {error.message}", _first_line(span))]


def _value_at(root: object, path: tuple) -> object:
    node = root
    for step in path:
        node = node[step]
    return node
