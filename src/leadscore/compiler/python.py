"""Checked ruleset -> Python source: one readable, deterministic module.

The generated `evaluate(F, G, T, explain)` takes the lead's fields (F, in
the runtime's representation), its events grouped by type and already cut at
the instant (G), and the instant (T, epoch seconds). Everything that does not
depend on the lead (constants, decay parameters, compiled regexes, list
literals as frozensets) is computed once, at module level.

The arithmetic mirrors the interpreter operation for operation, so the two
agree to the last bit (tests/test_backend_agreement.py). User text (names,
strings, patterns) only ever reaches the source through `repr()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..dsl import ast
from ..dsl import types as t
from ..dsl.checker import CheckedRuleset
from ..lower import runtime_constant as constant_value

DAY = 86400.0


@dataclass
class GeneratedModule:
    source: str
    line_map: dict[int, int]  # generated line -> rule-file line
    file: str


@dataclass
class _Lines:
    lines: list[tuple[str, int | None]] = field(default_factory=list)
    shift: int = 0  # extra indentation, while a block is emitted under an `if`

    def emit(self, indent: int, text: str, source_line: int | None = None) -> None:
        self.lines.append(("    " * (indent + self.shift) + text, source_line))


RUNTIME_IMPORT = "from leadscore.compiler import runtime as _rt"
CHAIN = 100  # branches per `if/elif` chain (see _first_match)


def generate(checked: CheckedRuleset, atoms: tuple[ast.Expr, ...] | None = None,
             fixed: frozenset[str] = frozenset()) -> GeneratedModule:
    """The scorer module. For replay (`atoms` given, see compiler/analysis.py) it also defines
    `atoms(F, S, TH, SG)`, a bitmask of which fixed conditions hold, and `evaluate` takes two
    more arguments: C, the scores of an earlier evaluation of the same fields, whose `fixed`
    score blocks (fields and constants only) are then not computed again, and L, the time of
    the lead's latest event at or before T."""
    return _Generator(checked, atoms, fixed).module()


def standalone(generated: GeneratedModule, runtime_source: str) -> str:
    """The generated module with the runtime pasted in: needs only the
    standard library (and google-re2 when the ruleset uses `matches`)."""
    head, _, body = generated.source.partition(RUNTIME_IMPORT + "\n")
    return (head + "import sys as _sys\n\n"
            "# --- leadscore runtime (embedded) ---\n"
            + runtime_source.replace("from __future__ import annotations\n", "")
            + "\n_rt = _sys.modules[__name__]\n"
            "# --- end of the runtime ---\n" + body)


class _Generator:
    def __init__(self, checked: CheckedRuleset, atoms: tuple[ast.Expr, ...] | None = None,
                 fixed: frozenset[str] = frozenset()) -> None:
        self.checked = checked
        self.atoms = atoms
        self.fixed = fixed
        self.resolutions = checked.resolutions
        self.constants = {n: constant_value(v) for n, v in checked.constants.items()}
        self.module_level = _Lines()
        self.prelude = _Lines()  # per-lead values hoisted to the top of evaluate
        self.body = _Lines()
        self.temp = 0
        self.fields: dict[str, str] = {}
        self.events: dict[str, str] = {}
        self.locals: dict[tuple[str, str], str] = {}  # (kind, name) -> local variable
        self.literals: dict[object, str] = {}
        self.aggregates: dict[ast.Call, str] = {}
        decls = checked.ruleset.declarations
        for i, name in enumerate(d.name.name for d in decls
                                 if isinstance(d, (ast.ScoreBlock, ast.DerivedScore))):
            self.locals[(t.SCORE, name)] = f"s{i}"
        for i, d in enumerate(d for d in decls if isinstance(d, ast.Threshold)):
            self.locals[(t.THRESHOLD, d.name.name)] = f"t{i}"
        for i, d in enumerate(d for d in decls if isinstance(d, ast.Segment)):
            self.locals[(t.SEGMENT, d.name.name)] = f"g{i}"

    # --- naming ---------------------------------------------------------------------

    def _tmp(self) -> str:
        self.temp += 1
        return f"_{self.temp}"

    def _field(self, name: str) -> str:
        if name not in self.fields:
            self.fields[name] = f"f{len(self.fields)}"
        return self.fields[name]

    def _events(self, name: str) -> str:
        if name not in self.events:
            self.events[name] = f"E{len(self.events)}"
        return self.events[name]

    def _module_constant(self, value: object, code: str) -> str:
        key = (type(value), value)
        if key not in self.literals:
            name = f"_K{len(self.literals)}"
            self.literals[key] = name
            self.module_level.emit(0, f"{name} = {code}")
        return self.literals[key]

    # --- the module ------------------------------------------------------------------

    def module(self) -> GeneratedModule:
        decls = self.checked.ruleset.declarations
        uses_inactivity = any(isinstance(i, ast.InactivityOption)
                              for d in decls if isinstance(d, ast.ScoreBlock) for i in d.items)
        scores = [d.name.name for d in decls if isinstance(d, (ast.ScoreBlock, ast.DerivedScore))]
        for decl in decls:
            if isinstance(decl, ast.ScoreBlock) and decl.name.name in self.fixed:
                self.body.emit(1, "if C is None:")
                self.body.shift = 1
                self._score_block(decl)
                self.body.shift = 0
                self.body.emit(1, "else:")
                self.body.emit(2, f"{self.locals[(t.SCORE, decl.name.name)]} = C[{scores.index(decl.name.name)}]")
            elif isinstance(decl, ast.ScoreBlock):
                self._score_block(decl)
        derived = {d.name.name: d for d in decls if isinstance(d, ast.DerivedScore)}
        for name in self.checked.derived_order:
            d = derived[name]
            self.body.emit(1, f"# score {name!r} = ... (line {d.span.line})", d.span.line)
            self.body.emit(1, f"{self.locals[(t.SCORE, name)]} = _rt.finite_or_missing({self._value(d.expr)[0]})",
                           d.span.line)
        for decl in decls:
            if isinstance(decl, ast.Threshold):
                local = self.locals[(t.THRESHOLD, decl.name.name)]
                self.body.emit(1, f"# threshold {decl.name.name!r} (line {decl.span.line})")
                self.body.emit(1, f"{local} = {self._condition(decl.condition)}", decl.span.line)
            elif isinstance(decl, ast.Segment):
                self._segment(decl)
        atoms = self._atoms() if self.atoms is not None else None
        return self._assemble(uses_inactivity, atoms)

    def _atoms(self) -> _Lines:
        """`atoms(F, S, TH, SG)`: fixed conditions read no event and no instant, so the
        locals of evaluate they use are the fields and the result's values."""
        out = _Lines()
        out.emit(0, "def atoms(F, S, TH, SG):")
        out.emit(1, '"""Bit i is set when fixed condition i holds (fields and a result only)."""')
        tests = [(self._condition(atom), atom.span.line) for atom in self.atoms]
        used = {n.name for atom in self.atoms for n in ast.walk(atom)
                if isinstance(n, ast.Name) and self.resolutions[n].kind == t.FIELD}
        for name, local in self.fields.items():
            if name in used:
                out.emit(1, f"{local} = F[{name!r}]")
        for kind, source in ((t.SCORE, "S"), (t.THRESHOLD, "TH"), (t.SEGMENT, "SG")):
            names = self._tuple_of(kind)
            if names != "()":
                out.emit(1, f"{names} = {source}")
        out.emit(1, "A = 0")
        for i, (code, line) in enumerate(tests):
            out.emit(1, f"if {code}:", line)
            out.emit(2, f"A |= 1 << {i}")  # a literal 2**i would pass int-to-text digit limits
        out.emit(1, "return A")
        return out

    def _assemble(self, uses_inactivity: bool, atoms: _Lines | None = None) -> GeneratedModule:
        checked = self.checked
        schema = checked.schema
        out = _Lines()
        header = (f"Scorer generated by leadscore from {checked.ruleset.file!r}: "
                  f"ruleset {checked.name!r} version {checked.version!r}.")
        out.emit(0, repr(header + " Do not edit; regenerate with `leadscore compile`."))
        out.emit(0, RUNTIME_IMPORT)
        out.emit(0, "")
        out.emit(0, f"RULESET = {checked.name!r}")
        out.emit(0, f"VERSION = {checked.version!r}")
        decls = checked.ruleset.declarations
        scores = tuple(d.name.name for d in decls if isinstance(d, (ast.ScoreBlock, ast.DerivedScore)))
        out.emit(0, f"SCORES = {scores!r}")
        out.emit(0, f"THRESHOLDS = {tuple(d.name.name for d in decls if isinstance(d, ast.Threshold))!r}")
        out.emit(0, f"SEGMENTS = {tuple(d.name.name for d in decls if isinstance(d, ast.Segment))!r}")
        out.emit(0, f"FIELD_TYPES = {({n: s.type for n, s in schema.fields.items()})!r}")
        props = {n: {p: s.type for p, s in e.properties.items()} for n, e in schema.events.items()}
        out.emit(0, f"PROPERTY_TYPES = {props!r}")
        out.lines.extend(self.module_level.lines)
        out.emit(0, "")
        out.emit(0, "")
        replay = atoms is not None
        out.emit(0, f"def evaluate(F, G, T, explain=False{', C=None, L=None' if replay else ''}):")
        out.emit(1, "R = [] if explain else None")
        for name, local in self.fields.items():
            out.emit(1, f"{local} = F[{name!r}]")
        for name, local in self.events.items():
            out.emit(1, f"{local} = G[{name!r}]")
        if uses_inactivity:
            if replay:
                out.emit(1, "if L is None:")
            out.emit(1 + replay, "L = max((v[-1][0] for v in G.values() if v), default=None)")
        out.lines.extend(self.prelude.lines)
        out.lines.extend(self.body.lines)
        out.emit(1, f"return {self._tuple_of(t.SCORE)}, {self._tuple_of(t.THRESHOLD)}, "
                    f"{self._tuple_of(t.SEGMENT)}, R")
        out.emit(0, "")
        out.emit(0, "")
        out.emit(0, "def score(lead, events, as_of):")
        out.emit(1, '"""Score one lead at `as_of`: LANGUAGE.md semantics, with reasons."""')
        out.emit(1, "T = _rt.to_epoch(as_of, 'an as-of instant')")
        out.emit(1, "F = _rt.prepare_fields(lead, FIELD_TYPES)")
        out.emit(1, "G = _rt.prepare_events(events, PROPERTY_TYPES, until=T)")
        out.emit(1, "scores, thresholds, segments, reasons = evaluate(F, G, T, True)")
        out.emit(1, "return _rt.Result(dict(zip(SCORES, scores)), dict(zip(THRESHOLDS, thresholds)),")
        out.emit(1, "                  dict(zip(SEGMENTS, segments)), tuple(_rt.Reason(*r) for r in reasons))")
        if atoms is not None:
            out.emit(0, "")
            out.emit(0, "")
            out.lines.extend(atoms.lines)
        source = "\n".join(text for text, _ in out.lines) + "\n"
        line_map = {i + 1: line for i, (_, line) in enumerate(out.lines) if line is not None}
        return GeneratedModule(source, line_map, checked.ruleset.file)

    def _tuple_of(self, kind: str) -> str:
        return "(" + "".join(v + ", " for (k, _), v in self.locals.items() if k == kind) + ")"

    # --- scores --------------------------------------------------------------------

    def _score_block(self, block: ast.ScoreBlock) -> None:
        name = block.name.name
        s = self.locals[(t.SCORE, name)]
        emit = self.body.emit
        emit(1, f"# score {name!r} (line {block.span.line})", block.span.line)
        emit(1, f"{s} = 0.0")
        default_decay = next((i.decay for i in block.items if isinstance(i, ast.DecayOption)), None)
        for item in block.items:
            if isinstance(item, ast.Group):
                group = self._tmp()
                emit(1, f"# group {item.name.name!r} (line {item.span.line})", item.span.line)
                emit(1, f"{group} = 0.0")
                for rule in item.rules:
                    emit(1, f"{group} += {self._rule(rule, name, default_decay)}")
                limited = self._tmp()
                emit(1, f"{limited} = _rt.limit_group({group}, {self._number(item.limit)})", item.span.line)
                emit(1, f"if explain and {limited} != {group}:")
                emit(2, f"R.append(({name!r}, {item.name.name!r}, {limited} - {group}, 'group', None))")
                emit(1, f"{s} += {limited}")
            elif isinstance(item, (ast.ConditionRule, ast.CaseRule, ast.EventRule)):
                emit(1, f"{s} += {self._rule(item, name, default_decay)}")
        emit(1, f"if not _rt.isfinite({s}):  # too large to represent: missing")
        emit(2, f"{s} = None")
        emit(2, "if explain:")
        emit(3, f"R[:] = [r for r in R if r[0] != {name!r}]")
        if any(isinstance(i, (ast.InactivityOption, ast.ClampOption)) for i in block.items):
            emit(1, "else:")
            self.body.shift += 1
            self._inactivity_and_clamp(block, s)
            self.body.shift -= 1

    def _inactivity_and_clamp(self, block: ast.ScoreBlock, s: str) -> None:
        name, emit = block.name.name, self.body.emit
        for item in block.items:
            if isinstance(item, ast.InactivityOption):
                pen, after = self._tmp(), self._tmp()
                emit(1, f"if {s} > 0 and L is not None:", item.span.line)
                emit(2, f"{pen} = _rt.idle_penalty(T - L, {self._seconds(item.after)}, "
                        f"{self._number(item.points)}, {self._seconds(item.every)})")
                emit(2, f"if {pen}:")
                emit(3, f"{after} = max(0.0, {s} - {pen})")
                emit(3, "if explain:")
                emit(4, f"R.append(({name!r}, 'inactivity', {after} - {s}, 'inactivity', None))")
                emit(3, f"{s} = {after}")
        for item in block.items:
            if isinstance(item, ast.ClampOption):
                clamped = self._tmp()
                expr = s
                if item.low is not None:
                    expr = f"max({expr}, {self._number(item.low)})"
                if item.high is not None:
                    expr = f"min({expr}, {self._number(item.high)})"
                emit(1, f"{clamped} = {expr}", item.span.line)
                emit(1, f"if {clamped} != {s}:")
                emit(2, "if explain:")
                emit(3, f"R.append(({name!r}, 'clamp', {clamped} - {s}, 'clamp', None))")
                emit(2, f"{s} = {clamped}")

    def _rule(self, rule: ast.Rule, score: str, default_decay: ast.Decay | None) -> str:
        """Emits the rule; returns the local holding its contribution."""
        emit = self.body.emit
        line = rule.span.line
        c = self._tmp()
        emit(1, f"# rule {rule.name.name!r} (line {line})", line)
        events = "None"
        if isinstance(rule, ast.ConditionRule):
            emit(1, f"{c} = {self._points(rule.points)} if {self._condition(rule.condition)} else 0.0",
                 line)
        elif isinstance(rule, ast.CaseRule):
            self._first_match(c, [(b.condition, self._points(b.points), b.span.line)
                                  for b in rule.branches], "0.0")
        else:
            events = self._event_rule(rule, default_decay, c)
        emit(1, f"if explain and {c} != 0:")
        emit(2, f"R.append(({score!r}, {rule.name.name!r}, {c}, 'rule', {events}))")
        return c

    def _event_rule(self, rule: ast.EventRule, default_decay: ast.Decay | None, c: str) -> str:
        emit = self.body.emit
        line = rule.span.line
        modifiers = {type(m): m for m in rule.modifiers}
        once = ast.OnceModifier in modifiers
        at_most = modifiers.get(ast.AtMostModifier)
        decay = modifiers[ast.DecayModifier].decay if ast.DecayModifier in modifiers else default_decay
        effective = self._points_value(rule.points)
        n, acc, e, at = self._tmp(), self._tmp(), self._tmp(), self._tmp()
        emit(1, f"{n} = 0", line)
        emit(1, f"{acc} = 0.0")
        if at_most is not None:
            counts = self._tmp()
            emit(1, f"{counts} = {{}}")
        emit(1, f"for {e} in {self._events(rule.event.name)}:")
        emit(2, f"{at} = {e}[0]")
        if rule.where is not None:
            emit(2, f"p = {e}[1]")
            emit(2, f"if not {self._condition(rule.where)}:")
            emit(3, "continue")
        if at_most is not None:
            bucket = f"int({at} // 86400.0)" if at_most.period == "day" \
                else f"int(({at} // 86400.0 + 3) // 7)"
            b, k = self._tmp(), self._tmp()
            emit(2, f"{b} = {bucket}")
            emit(2, f"{k} = {counts}.get({b}, 0)")
            emit(2, f"if {k} >= {int(self._number_value(at_most.count))}:")
            emit(3, "continue")
            emit(2, f"{counts}[{b}] = {k} + 1")
        if rule.within is not None:
            emit(2, f"if not (T - {self._seconds(rule.within)} < {at}):")
            emit(3, "break" if once else "continue")
        emit(2, f"{acc} += {abs(effective)!r}{self._decay_factor(decay, at)}")
        emit(2, f"{n} += 1")
        if once:
            emit(2, "break")
        if ast.MaxModifier in modifiers:
            emit(1, f"{acc} = min({self._number(modifiers[ast.MaxModifier].limit)}, {acc})")
        sign = "-" if effective < 0 else ""
        emit(1, f"{c} = {sign}{acc} if {acc} else 0.0")
        return n

    def _decay_factor(self, decay: ast.Decay | None, at: str) -> str:
        age = f"((T - {at}) / 86400.0)"
        if decay is None or isinstance(decay, ast.DecayNone):
            return " * 1.0"
        if isinstance(decay, ast.DecayHalfLife):
            return f" * 0.5 ** ({age} / {self._seconds_value(decay.half_life) / DAY!r})"
        if isinstance(decay, ast.DecayLinear):
            return f" * max(0.0, 1.0 - {age} / {self._seconds_value(decay.length) / DAY!r})"
        ages = tuple(self._seconds_value(s.age) / DAY for s in decay.steps)
        fractions = tuple(s.percent.value / 100 for s in decay.steps)
        ages_name = self._module_constant(("ages", ages), repr(ages))
        fractions_name = self._module_constant(("fractions", fractions), repr(fractions))
        return f" * _rt.decay_steps({age}, {ages_name}, {fractions_name})"

    def _segment(self, segment: ast.Segment) -> None:
        local = self.locals[(t.SEGMENT, segment.name.name)]
        self.body.emit(1, f"# segment {segment.name.name!r} (line {segment.span.line})")
        self._first_match(local, [(label.condition, repr(label.label.name), label.span.line)
                                  for label in segment.labels], "None")

    def _first_match(self, target: str, branches: list[tuple[ast.Expr | None, str, int]],
                     default: str) -> None:
        """`target` = the value of the first branch whose condition holds (None: `otherwise`),
        else `default`. One `if/elif` chain per CHAIN branches: CPython compiles an `elif`
        chain recursively, so a case of thousands of branches would exhaust its stack; longer
        lists become flat `if target is None:` blocks of one chain each (values are never None)."""
        emit = self.body.emit
        chunks = [branches[i:i + CHAIN] for i in range(0, len(branches), CHAIN)] or [[]]
        long = len(chunks) > 1
        if long:
            emit(1, f"{target} = None")
        for number, chunk in enumerate(chunks):
            indent = 1
            if number:
                emit(1, f"if {target} is None:")
                indent = 2
            for i, (condition, value, line) in enumerate(chunk):
                if condition is None:
                    emit(indent, "else:" if i else "if True:", line)
                else:
                    emit(indent, f"{'elif' if i else 'if'} {self._condition(condition)}:", line)
                emit(indent + 1, f"{target} = {value}")
        if long:
            if branches[-1][0] is not None:
                emit(1, f"if {target} is None:")
                emit(2, f"{target} = {default}")
        elif not branches or branches[-1][0] is not None:
            emit(1, "else:" if branches else "if True:")
            emit(2, f"{target} = {default}")

    # --- constants in rule positions ------------------------------------------------

    def _number_value(self, node: ast.Number | ast.Name) -> float:
        return node.value if isinstance(node, ast.Number) else self.constants[node.name]

    def _number(self, node: ast.Number | ast.Name) -> str:
        return repr(float(self._number_value(node)))

    def _seconds_value(self, node: ast.Duration | ast.Name) -> float:
        return node.seconds if isinstance(node, ast.Duration) else self.constants[node.name]

    def _seconds(self, node: ast.Duration | ast.Name) -> str:
        return repr(float(self._seconds_value(node)))

    def _points_value(self, points: ast.Points) -> float:
        return points.sign * self._number_value(points.value)

    def _points(self, points: ast.Points) -> str:
        value = self._points_value(points)
        return f"({value!r})" if value < 0 else repr(value)

    # --- expressions: (code, may be missing) -------------------------------------------

    def _condition(self, expr: ast.Expr) -> str:
        """Code that is True or False (a missing value is false)."""
        if isinstance(expr, (ast.BoolOp, ast.Compare, ast.IsMissing)) or \
                (isinstance(expr, ast.Unary) and expr.op == "not"):
            return self._value(expr)[0]
        code, _ = self._value(expr)
        return f"({code} is True)"

    def _value(self, expr: ast.Expr) -> tuple[str, bool]:
        return getattr(self, "_v_" + type(expr).__name__)(expr)

    def _v_Number(self, e):
        return (f"({e.value!r})" if e.value < 0 else repr(e.value)), False

    def _v_String(self, e):
        return repr(e.value), False

    def _v_Bool(self, e):
        return repr(e.value), False

    def _v_DateTime(self, e):
        return repr(e.value.timestamp()), False

    def _v_Duration(self, e):
        return repr(e.seconds), False

    def _v_ListLit(self, e):
        if all(isinstance(i, (ast.Number, ast.String, ast.Bool, ast.DateTime)) for i in e.items):
            values = tuple(self._value(i)[0] for i in e.items)
            code = "frozenset((" + "".join(v + ", " for v in values) + "))"
            return self._module_constant(("list", values), code), False
        return "(" + "".join(self._value(i)[0] + ", " for i in e.items) + ")", False

    def _v_Name(self, e: ast.Name):
        symbol = self.resolutions[e]
        if symbol.kind == t.FIELD:
            return self._field(e.name), True
        if symbol.kind == t.PROPERTY:
            return f"p[{e.name!r}]", True
        if symbol.kind == t.CONSTANT:
            value = self.constants[e.name]
            if isinstance(value, tuple):
                code = "frozenset((" + "".join(repr(v) + ", " for v in value) + "))"
                return self._module_constant(("const", value), code), False
            return (f"({value!r})" if isinstance(value, float) and value < 0 else repr(value)), False
        local = self.locals[(symbol.kind, e.name)]
        return local, symbol.kind in (t.SCORE, t.SEGMENT)

    def _bind(self, code: str, missing: bool) -> tuple[str, str]:
        """(expression that evaluates once and binds, name to reuse)."""
        if not missing or code.isidentifier():
            return code, code
        name = self._tmp()
        return f"({name} := {code})", name

    def _v_Unary(self, e: ast.Unary):
        if e.op == "not":
            return f"(not {self._condition(e.operand)})", False
        code, missing = self._value(e.operand)
        if not missing:
            return f"(-{code})", False
        bound, name = self._bind(code, True)
        return f"(None if {bound} is None else -{name})", True

    def _v_Arith(self, e: ast.Arith):
        left, lm = self._value(e.left)
        right, rm = self._value(e.right)
        if e.op != "/" and not lm and not rm:
            return f"({left} {e.op} {right})", False
        lb, ln = self._bind(left, lm)
        # A divisor is read twice (zero test, division): bind it once.
        rb, rn = self._bind(right, True) if rm or e.op == "/" else (right, right)
        guards = []
        if lm:
            guards.append(f"{lb} is None")
        if rm:
            guards.append(f"{rb} is None")
        if e.op == "/":
            guards.append(f"{rn if rm else rb} == 0")  # division by zero is missing
        return f"(None if {' or '.join(guards)} else {ln} {e.op} {rn})", True

    def _v_BoolOp(self, e: ast.BoolOp):
        return "(" + f" {e.op} ".join(self._condition(o) for o in e.operands) + ")", False

    def _v_IsMissing(self, e: ast.IsMissing):
        code, missing = self._value(e.operand)
        if not missing:
            return ("True" if e.negated else "False"), False
        return f"({code} is {'not ' if e.negated else ''}None)", False

    def _v_Compare(self, e: ast.Compare):
        op = e.op
        if op in ("!=", "not in"):
            positive = ast.Compare("==" if op == "!=" else "in", e.left, e.right, e.span)
            return f"(not {self._v_Compare(positive)[0]})", False
        left, lm = self._value(e.left)
        lb, ln = self._bind(left, lm)
        if op == "matches":
            return self._matches(e.right, lb, ln, lm), False
        right, rm = self._value(e.right)
        rb, rn = self._bind(right, rm)
        if op == "==" and not (lm and rm):
            return f"({left} == {right})", False
        test = {"==": f"{ln} == {rn}", "<": f"{ln} < {rn}", "<=": f"{ln} <= {rn}",
                ">": f"{ln} > {rn}", ">=": f"{ln} >= {rn}", "in": f"{ln} in {rn}",
                "contains": f"{rn} in {ln}", "starts_with": f"{ln}.startswith({rn})",
                "ends_with": f"{ln}.endswith({rn})"}[op]
        guards = ([f"{lb} is not None"] if lm else []) + ([f"{rb} is not None"] if rm else [])
        return "(" + " and ".join(guards + [test]) + ")", False

    def _matches(self, pattern: ast.Regex | ast.Name, bound: str, name: str, missing: bool) -> str:
        if isinstance(pattern, ast.Regex):
            text, flags = pattern.pattern, pattern.flags
        else:
            text, flags = self.constants[pattern.name], ""
        regex = self._module_constant(("regex", text, flags),
                                      f"_rt.compile_pattern({text!r}, {flags!r})")
        memo = self._module_constant(("memo", text, flags), "{}")
        test = f"({memo}[{name}] if {name} in {memo} else _rt.remember({memo}, {name}, {regex}))"
        if not missing:
            return test
        return f"({bound} is not None and {test})"

    def _v_Call(self, e: ast.Call):
        func = e.func
        if func in ("count", "days_since"):
            return self._aggregate(e)
        args = [self._value(a.value) for a in e.args]
        if func == "len":
            code, missing = args[0]
            if not missing:
                return f"float(len({code}))", False
            bound, name = self._bind(code, True)
            return f"(0.0 if {bound} is None else float(len({name})))", False
        if func == "domain":
            return f"_rt.domain({args[0][0]})", True
        if func in ("lower", "upper"):
            code, missing = args[0]
            if not missing:
                return f"{code}.{func}()", False
            bound, name = self._bind(code, True)
            return f"(None if {bound} is None else {name}.{func}())", True
        joined = ", ".join(code for code, _ in args)
        if not any(m for _, m in args):
            return f"{func}({joined})", False
        return f"_rt.{func}_or_missing({joined})", True

    def _aggregate(self, e: ast.Call) -> tuple[str, bool]:
        """count/days_since: hoisted to the top of evaluate, computed once per lead."""
        if e in self.aggregates:
            return self.aggregates[e], e.func == "days_since"
        arg = e.args[0]
        symbol = self.resolutions.get(arg.value) if isinstance(arg.value, ast.Name) else None
        if e.func == "days_since" and symbol is not None and symbol.kind == t.FIELD:
            code = self._field(arg.value.name)
            return f"(None if {code} is None else (T - {code}) / 86400.0)", True
        events = self._events(arg.value.name)
        where = self._condition(arg.where) if arg.where is not None else None
        result, ev = f"a{len(self.aggregates)}", self._tmp()
        emit = self.prelude.emit
        emit(1, f"# {e.func}({arg.value.name!r} ...) (line {e.span.line})", e.span.line)
        if e.func == "count":
            emit(1, f"{result} = 0", e.span.line)
            emit(1, f"for {ev} in {events}:")
            if arg.within is not None:
                emit(2, f"if not (T - {self._seconds(arg.within)} < {ev}[0]):")
                emit(3, "continue")
            if where is not None:
                emit(2, f"p = {ev}[1]")
                emit(2, f"if not {where}:")
                emit(3, "continue")
            emit(2, f"{result} += 1")
            emit(1, f"{result} = float({result})")
        else:
            emit(1, f"{result} = None", e.span.line)
            emit(1, f"for {ev} in reversed({events}):")
            if where is not None:
                emit(2, f"p = {ev}[1]")
                emit(2, f"if not {where}:")
                emit(3, "continue")
            emit(2, f"{result} = (T - {ev}[0]) / 86400.0")
            emit(2, "break")
        self.aggregates[e] = result
        return result, e.func == "days_since"

