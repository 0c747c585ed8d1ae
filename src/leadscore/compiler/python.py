"""ScoringProgram -> Python source: one readable, deterministic module.

The generated `evaluate(F, G, T, explain)` takes the lead's fields (F, in
the runtime's representation), its events grouped by type and already cut at
the instant (G), and the instant (T, epoch seconds). Everything that does not
depend on the lead (constants, decay parameters, compiled regexes, list
literals as frozensets) is computed once, at module level.

The program comes from lower.py and every operation's source from semantics.py;
the arithmetic mirrors the interpreter operation for operation, so the two
agree to the last bit (tests/test_backend_agreement.py). User text (names,
strings, patterns) only ever reaches the source through `repr()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import assert_never

from .. import lower as lo
from .. import semantics as sem
from ..dsl.checker import CheckedRuleset
from . import entry_points as entry


@dataclass(frozen=True)
class GeneratedModule:
    """The source; every block of it names its rule-file line in a comment."""

    source: str
    file: str


@dataclass
class _Lines:
    lines: list[str] = field(default_factory=list)
    shift: int = 0  # extra indentation, while a block is emitted under an `if`

    def emit(self, indent: int, text: str) -> None:
        self.lines.append("    " * (indent + self.shift) + text)


RUNTIME_IMPORT = "from leadscore.compiler import runtime as _rt"
CHAIN = 100  # branches per `if/elif` chain (see _first_match)


def generate(checked: CheckedRuleset, atoms: tuple[lo.Expr, ...] | None = None,
             fixed: frozenset[str] = frozenset(), program: lo.ScoringProgram | None = None) -> GeneratedModule:
    """The scorer module. For replay (`atoms` given, see compiler/analysis.py) it also defines
    `atoms(F, S, TH, SG)`, a bitmask of which fixed conditions hold, and `evaluate` takes two
    more arguments: C, the scores of an earlier evaluation of the same fields, whose `fixed`
    score blocks (fields and constants only) are then not computed again, and L, the time of
    the lead's latest event at or before T."""
    schema = checked.schema
    values = ({n: s.values for n, s in schema.fields.items() if s.values is not None},
              {n: v for n, e in schema.events.items()
               if (v := {p: s.values for p, s in e.properties.items() if s.values is not None})})
    return _Generator(program if program is not None else lo.lower(checked), atoms, fixed, values).module()


def standalone(generated: GeneratedModule, runtime_source: str) -> str:
    """The generated module with the runtime pasted in: needs only the
    standard library (and google-re2 when the ruleset uses `matches`)."""
    head, _, body = generated.source.partition(RUNTIME_IMPORT + "\n")
    return (head + f"__all__ = {entry.STANDALONE_API!r}\n\n"
            "import sys as _sys\n\n"
            "# --- leadscore runtime (embedded) ---\n"
            + runtime_source.replace("from __future__ import annotations\n", "")
            + "\n_rt = _sys.modules[__name__]\n"
            "# --- end of the runtime ---\n" + body)


class _Generator:
    def __init__(self, program: lo.ScoringProgram, atoms: tuple[lo.Expr, ...] | None,
                 fixed: frozenset[str], values: tuple[dict, dict] = ({}, {})) -> None:
        self.program = program
        self.values = values
        self.named: dict[str, str] = {}            # constant name -> module-level identifier
        self.named_lines = _Lines()
        self.atoms = atoms
        self.fixed = fixed
        self.module_level = _Lines()
        self.prelude = _Lines()  # per-lead values hoisted to the top of evaluate
        self.body = _Lines()
        self.temp = 0
        self.fields: dict[str, str] = {}
        self.events: dict[str, str] = {}
        self.literals: dict[object, str] = {}
        self.aggregates: dict[lo.Aggregate, str] = {}
        self.scores = {name: f"s{i}" for i, name in enumerate(program.scores)}
        self.thresholds = {d.name: f"t{i}" for i, d in enumerate(program.thresholds)}
        self.segments = {d.name: f"g{i}" for i, d in enumerate(program.segments)}

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
        program = self.program
        for block in program.blocks:
            if block.name in self.fixed:
                self.body.emit(1, "if C is None:")
                self.body.shift = 1
                self._score_block(block)
                self.body.shift = 0
                self.body.emit(1, "else:")
                self.body.emit(2, f"{self.scores[block.name]} = C[{program.scores.index(block.name)}]")
            else:
                self._score_block(block)
        for d in program.derived:
            self.body.emit(1, f"# score {d.name!r} = ... (line {d.line})")
            self.body.emit(1, f"{self.scores[d.name]} = _rt.finite_or_missing({self._value(d.expr)[0]})")
        for d in program.decisions:
            if isinstance(d, lo.Threshold):
                self.body.emit(1, f"# threshold {d.name!r} (line {d.line})")
                self.body.emit(1, f"{self.thresholds[d.name]} = {self._condition(d.condition)}")
            else:
                self.body.emit(1, f"# segment {d.name!r} (line {d.line})")
                self._first_match(self.segments[d.name], [(label.condition, repr(label.label))
                                                          for label in d.labels], "None")
        atoms = self._atoms() if self.atoms is not None else None
        return self._assemble(any(b.inactivity is not None for b in program.blocks), atoms)

    def _atoms(self) -> _Lines:
        """`atoms(F, S, TH, SG)`: fixed conditions read no event and no instant, so the
        locals of evaluate they use are the fields and the result's values."""
        out = _Lines()
        out.emit(0, "def atoms(F, S, TH, SG):")
        out.emit(1, '"""Bit i is set when fixed condition i holds (fields and a result only)."""')
        tests = [self._condition(atom) for atom in self.atoms]
        used = {node.name for atom in self.atoms for node in lo.walk(atom) if isinstance(node, lo.Field)}
        for name, local in self.fields.items():
            if name in used:
                out.emit(1, f"{local} = F[{name!r}]")
        for locals_, source in ((self.scores, "S"), (self.thresholds, "TH"), (self.segments, "SG")):
            names = _tuple(locals_)
            if names != "()":
                out.emit(1, f"{names} = {source}")
        out.emit(1, "A = 0")
        for i, code in enumerate(tests):
            out.emit(1, f"if {code}:")
            out.emit(2, f"A |= 1 << {i}")  # a literal 2**i would pass int-to-text digit limits
        out.emit(1, "return A")
        return out

    def _assemble(self, uses_inactivity: bool, atoms: _Lines | None = None) -> GeneratedModule:
        program = self.program
        out = _Lines()
        header = (f"Scorer generated by leadscore from {program.file!r}: "
                  f"ruleset {program.name!r} version {program.version!r}.")
        out.emit(0, repr(header + " Do not edit; regenerate with `leadscore compile`."))
        out.emit(0, RUNTIME_IMPORT)
        out.emit(0, "")
        out.emit(0, f"RULESET = {program.name!r}")
        out.emit(0, f"VERSION = {program.version!r}")
        out.emit(0, f"SCORES = {program.scores!r}")
        out.emit(0, f"BLOCKS = {tuple(b.name for b in program.blocks)!r}")
        out.emit(0, f"THRESHOLDS = {tuple(self.thresholds)!r}")
        out.emit(0, f"SEGMENTS = {tuple(self.segments)!r}")
        out.emit(0, f"FIELD_TYPES = {dict(program.field_types)!r}")
        out.emit(0, f"PROPERTY_TYPES = { {n: dict(p) for n, p in program.property_types.items()}!r}")
        out.emit(0, f"FIELD_MISSING = {dict(program.field_missing)!r}")
        out.emit(0, f"PROPERTY_MISSING = { {n: dict(p) for n, p in program.property_missing.items()}!r}")
        out.emit(0, f"FIELD_VALUES = {self.values[0]!r}")
        out.emit(0, f"PROPERTY_VALUES = {self.values[1]!r}")
        read = lo.properties_read(program)
        out.emit(0, "# The fields and properties the rules read: only these are normalised when scoring.")
        out.emit(0, f"FIELDS_READ = {tuple(n for n in program.field_types if n in self.fields)!r}")
        out.emit(0, f"PROPERTIES_READ = {read!r}")
        if self.named_lines.lines:
            out.emit(0, "")
            out.emit(0, "# The ruleset's constants, as the rules use them (datetimes in epoch seconds).")
            out.lines.extend(self.named_lines.lines)
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
            # the time of the lead's latest event (each group is in time order); a loop, not
            # max() over a list comprehension: this runs once per lead and is twice as fast
            indent = 1 + replay
            out.emit(indent, "L = None")
            out.emit(indent, "for _v in G.values():")
            out.emit(indent + 1, "if _v and (L is None or _v[-1][0] > L):")
            out.emit(indent + 2, "L = _v[-1][0]")
        out.lines.extend(self.prelude.lines)
        out.lines.extend(self.body.lines)
        out.emit(1, f"return {_tuple(self.scores)}, {_tuple(self.thresholds)}, {_tuple(self.segments)}, R")
        out.emit(0, "")
        out.emit(0, "")
        out.lines.extend(entry.to_result_source(self.scores, self.thresholds, self.segments))
        out.emit(0, "")
        out.emit(0, "")
        out.lines.extend(entry.prepare_lead_source(program.field_types, program.field_missing, set(self.fields)))
        out.emit(0, "")
        out.emit(0, "")
        out.lines.extend(entry.group_events_source(read, program.property_missing))
        out.emit(0, "")
        out.emit(0, "")
        out.lines.extend(entry.SCORE_FUNCTIONS.splitlines())
        if atoms is not None:
            out.emit(0, "")
            out.emit(0, "")
            out.lines.extend(atoms.lines)
        return GeneratedModule("\n".join(out.lines) + "\n", program.file)

    # --- scores --------------------------------------------------------------------

    def _score_block(self, block: lo.ScoreBlock) -> None:
        name = block.name
        s = self.scores[name]
        emit = self.body.emit
        emit(1, f"# score {name!r} (line {block.line})")
        emit(1, f"{s} = 0.0")
        for item in block.items:
            if isinstance(item, lo.Group):
                group = self._tmp()
                emit(1, f"# group {item.name!r} (line {item.line})")
                emit(1, f"{group} = 0.0")
                for rule in item.rules:
                    emit(1, f"{group} += {self._rule(rule, name)}")
                limited = self._tmp()
                emit(1, f"{limited} = _rt.limit_group({group}, {item.limit!r})")
                emit(1, f"if explain and {limited} != {group}:")
                emit(2, f"R.append(({name!r}, {item.name!r}, {limited} - {group}, 'group', None))")
                emit(1, f"{s} += {limited}")
            else:
                emit(1, f"{s} += {self._rule(item, name)}")
        emit(1, f"if {s} - {s} != 0.0:  # infinite or NaN (too large to represent): missing")
        emit(2, f"{s} = None")
        emit(2, "if explain:")
        emit(3, f"R[:] = [r for r in R if r[0] != {name!r}]")
        if block.inactivity is not None or block.clamp is not None:
            emit(1, "else:")
            self.body.shift += 1
            self._inactivity_and_clamp(block, s)
            self.body.shift -= 1

    def _inactivity_and_clamp(self, block: lo.ScoreBlock, s: str) -> None:
        name, emit = block.name, self.body.emit
        inactivity = block.inactivity
        if inactivity is not None:
            pen, after = self._tmp(), self._tmp()
            # idle_penalty is 0 before `after`: the test here spares most leads the call
            emit(1, f"if {s} > 0 and L is not None and T - L >= {inactivity.after!r}:")
            emit(2, f"{pen} = _rt.idle_penalty(T - L, {inactivity.after!r}, {inactivity.points!r}, "
                    f"{inactivity.every!r})")
            emit(2, f"if {pen}:")
            emit(3, f"{after} = max(0.0, {s} - {pen})")
            emit(3, "if explain:")
            emit(4, f"R.append(({name!r}, 'inactivity', {after} - {s}, 'inactivity', None))")
            emit(3, f"{s} = {after}")
        clamp = block.clamp
        if clamp is not None:
            clamped = self._tmp()
            expr = s
            if clamp.low is not None:
                expr = f"max({expr}, {clamp.low!r})"
            if clamp.high is not None:
                expr = f"min({expr}, {clamp.high!r})"
            # the usual score, already within the bounds, is kept without min/max calls
            inside = " <= ".join(([repr(clamp.low)] if clamp.low is not None else []) + [s]
                                 + ([repr(clamp.high)] if clamp.high is not None else []))
            emit(1, f"{clamped} = {s} if {inside} else {expr}")
            emit(1, f"if {clamped} != {s}:")
            emit(2, "if explain:")
            emit(3, f"R.append(({name!r}, 'clamp', {clamped} - {s}, 'clamp', None))")
            emit(2, f"{s} = {clamped}")

    def _rule(self, rule: lo.Rule, score: str) -> str:
        """Emits the rule; returns the local holding its contribution."""
        emit = self.body.emit
        c = self._tmp()
        emit(1, f"# rule {rule.name!r} (line {rule.line})")
        events = "None"
        match rule:
            case lo.ConditionRule():
                emit(1, f"{c} = {_number(rule.points)} if {self._condition(rule.condition)} else 0.0")
            case lo.CaseRule():
                self._first_match(c, [(b.condition, _number(b.points)) for b in rule.branches], "0.0")
            case lo.EventRule():
                events = self._event_rule(rule, c)
            case _:
                assert_never(rule)
        emit(1, f"if explain and {c} != 0:")
        emit(2, f"R.append(({score!r}, {rule.name!r}, {c}, 'rule', {events}))")
        return c

    def _event_rule(self, rule: lo.EventRule, c: str) -> str:
        emit = self.body.emit
        n, acc, e, at = self._tmp(), self._tmp(), self._tmp(), self._tmp()
        # Every event counts unless some are skipped or the loop stops early: then len() says it
        # (when the reasons are asked for).
        every = rule.where is None and rule.at_most is None and rule.within is None and not rule.once
        if not every:
            emit(1, f"{n} = 0")
        emit(1, f"{acc} = 0.0")
        if rule.at_most is not None:
            counts = self._tmp()
            emit(1, f"{counts} = {{}}")
        events = self._events(rule.event)
        # Unpacked in the for statement: faster than indexing each event in the loop's body.
        emit(1, f"for {at}, {'p' if rule.where is not None else e} in {events}:")
        if rule.where is not None:
            emit(2, f"if not {self._condition(rule.where)}:")
            emit(3, "continue")
        if rule.at_most is not None:
            b, k = self._tmp(), self._tmp()
            emit(2, f"{b} = {sem.bucket_source(rule.at_most.period, at)}")
            emit(2, f"{k} = {counts}.get({b}, 0)")
            emit(2, f"if {k} >= {rule.at_most.count}:")
            emit(3, "continue")
            emit(2, f"{counts}[{b}] = {k} + 1")
        if rule.within is not None:
            emit(2, f"if not (T - {rule.within!r} < {at}):")
            emit(3, "break" if rule.once else "continue")
        factor = self._decay_factor(rule.decay, at)
        # x * 1.0 is x for every float: a rule of one point adds the factor alone, a rule without
        # decay its points alone
        if factor == " * 1.0":
            emit(2, f"{acc} += {abs(rule.points)!r}")
        elif abs(rule.points) == 1.0:
            emit(2, f"{acc} += {factor[3:]}")
        else:
            emit(2, f"{acc} += {abs(rule.points)!r}{factor}")
        if not every:
            emit(2, f"{n} += 1")
        if rule.once:
            emit(2, "break")
        if rule.cap is not None:
            # min(cap, acc) without a call: acc unless it is not below the cap
            emit(1, f"{acc} = {acc} if {acc} < {rule.cap!r} else {rule.cap!r}")
        sign = "-" if rule.points < 0 else ""
        emit(1, f"{c} = {sign}{acc} if {acc} else 0.0")
        return f"len({events})" if every else n   # the count, only for the reasons

    def _decay_factor(self, decay: sem.Decay, at: str) -> str:
        return sem.decay_source(decay, f"((T - {at}) / 86400.0)",
                                lambda what, values: self._module_constant((what, values), repr(values)))

    def _first_match(self, target: str, branches: list[tuple[lo.Expr | None, str]],
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
            for i, (condition, value) in enumerate(chunk):
                if condition is None:
                    emit(indent, "else:" if i else "if True:")
                else:
                    emit(indent, f"{'elif' if i else 'if'} {self._condition(condition)}:")
                emit(indent + 1, f"{target} = {value}")
        if long:
            if branches[-1][0] is not None:
                emit(1, f"if {target} is None:")
                emit(2, f"{target} = {default}")
        elif not branches or branches[-1][0] is not None:
            emit(1, "else:" if branches else "if True:")
            emit(2, f"{target} = {default}")

    # --- expressions: (code, may be missing) -------------------------------------------

    def _condition(self, expr: lo.Expr) -> str:
        """Code that is True or False (a missing value is false)."""
        code, _ = self._value(expr)
        if isinstance(expr, (lo.Logic, lo.Compare, lo.Matches, lo.IsMissing, lo.Not)):
            return code
        return f"({code} is True)"

    def _value(self, e: lo.Expr) -> tuple[str, bool]:
        match e:
            case lo.Const() if e.name is not None:
                return self._named_constant(e), False
            case lo.Const():
                return self._constant(e.value), False
            case lo.Field():
                return self._field(e.name), True
            case lo.Property():
                return f"p[{e.name!r}]", True
            case lo.ScoreRef():
                return self.scores[e.name], True
            case lo.ThresholdRef():
                return self.thresholds[e.name], False
            case lo.SegmentRef():
                return self.segments[e.name], True
            case lo.ListOf():
                return "(" + "".join(self._value(item)[0] + ", " for item in e.items) + ")", False
            case lo.Not():
                return f"(not {self._condition(e.operand)})", False
            case lo.Negate():
                code, missing = self._value(e.operand)
                if not missing:
                    return f"(-{code})", False
                bound, name = self._bind(code, True)
                return f"(None if {bound} is None else -{name})", True
            case lo.Arithmetic():
                return self._arithmetic(e)
            case lo.Logic():
                return "(" + f" {e.op} ".join(self._condition(o) for o in e.operands) + ")", False
            case lo.IsMissing():
                code, missing = self._value(e.operand)
                if not missing:
                    return ("True" if e.negated else "False"), False
                return f"({code} is {'not ' if e.negated else ''}None)", False
            case lo.Compare():
                return self._compare(e), False
            case lo.Matches():
                return self._matches(e), False
            case lo.Apply():
                args = []
                for arg in e.args:
                    code, missing = self._value(arg)
                    args.append((*self._bind(code, missing), missing))
                return sem.python_source(e.function, args)
            case lo.Aggregate():
                return self._aggregate(e)
            case lo.DaysSinceField():
                code = self._field(e.field.name)
                return f"(None if {code} is None else (T - {code}) / 86400.0)", True
            case _:
                assert_never(e)

    def _named_constant(self, e: lo.Const) -> str:
        if e.name not in self.named:
            identifier = entry.constant_identifier(e.name, set(self.named.values()))
            self.named[e.name] = identifier
            value = e.value
            code = ("frozenset((" + "".join(self._constant(v) + ", " for v in value) + "))"
                    if isinstance(value, tuple) else repr(value))
            self.named_lines.emit(0, f"{identifier} = {code}  # {e.name!r}")
        return self.named[e.name]

    def _constant(self, value: object) -> str:
        if isinstance(value, tuple):
            code = "frozenset((" + "".join(self._constant(v) + ", " for v in value) + "))"
            return self._module_constant(("list", value), code)
        return _number(value) if isinstance(value, float) else repr(value)

    def _bind(self, code: str, missing: bool) -> tuple[str, str]:
        """(expression that evaluates once and binds, name to reuse)."""
        if not missing or code.isidentifier():
            return code, code
        name = self._tmp()
        return f"({name} := {code})", name

    def _arithmetic(self, e: lo.Arithmetic) -> tuple[str, bool]:
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

    def _compare(self, e: lo.Compare) -> str:
        positive = sem.negated(e.op)
        if positive is not None:
            return f"(not {self._compare(lo.Compare(positive, e.left, e.right))})"
        left, lm = self._value(e.left)
        right, rm = self._value(e.right)
        if e.op is sem.Comparison.EQ and not (lm and rm):
            return f"({left} == {right})"   # None == x is False, as a missing side must give
        lb, ln = self._bind(left, lm)
        rb, rn = self._bind(right, rm)
        guards = ([f"{lb} is not None"] if lm else []) + ([f"{rb} is not None"] if rm else [])
        return "(" + " and ".join(guards + [sem.compare_source(e.op, ln, rn)]) + ")"

    def _matches(self, e: lo.Matches) -> str:
        code, missing = self._value(e.operand)
        bound, name = self._bind(code, missing)
        regex = self._module_constant(("regex", e.pattern, e.flags),
                                      f"_rt.compile_pattern({e.pattern!r}, {e.flags!r})")
        memo = self._module_constant(("memo", e.pattern, e.flags), "{}")
        test = f"({memo}[{name}] if {name} in {memo} else _rt.remember({memo}, {name}, {regex}))"
        if not missing:
            return test
        return f"({bound} is not None and {test})"

    def _aggregate(self, e: lo.Aggregate) -> tuple[str, bool]:
        """count/days_since of events: hoisted to the top of evaluate, computed once per lead."""
        missing = e.function is sem.Function.DAYS_SINCE
        if e in self.aggregates:
            return self.aggregates[e], missing
        events = self._events(e.event)
        where = self._condition(e.where) if e.where is not None else None
        result, ev = f"a{len(self.aggregates)}", self._tmp()
        emit = self.prelude.emit
        emit(1, f"# {e.function.value}({e.event!r} ...) (line {e.line})")
        if e.function is sem.Function.COUNT:
            at = self._tmp()
            emit(1, f"{result} = 0")
            if e.within is None:
                emit(1, f"for {at}, {'p' if where is not None else ev} in {events}:")
            else:   # the group is in time order: from the latest back to the window's start
                emit(1, f"for {at}, {'p' if where is not None else ev} in reversed({events}):")
                emit(2, f"if not (T - {e.within!r} < {at}):")
                emit(3, "break")
            if where is not None:
                emit(2, f"if not {where}:")
                emit(3, "continue")
            emit(2, f"{result} += 1")
            emit(1, f"{result} = float({result})")
        else:
            emit(1, f"{result} = None")
            emit(1, f"for {ev} in reversed({events}):")
            if where is not None:
                emit(2, f"p = {ev}[1]")
                emit(2, f"if not {where}:")
                emit(3, "continue")
            emit(2, f"{result} = (T - {ev}[0]) / 86400.0")
            emit(2, "break")
        self.aggregates[e] = result
        return result, missing


def _number(value: float) -> str:
    return f"({value!r})" if value < 0 else repr(value)


def _tuple(locals_: dict[str, str]) -> str:
    return "(" + "".join(v + ", " for v in locals_.values()) + ")"
