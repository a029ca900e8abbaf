"""`when:` conditions: CEL expressions whose `${...}` references stand for their values.

CEL (Common Expression Language, the one Kubernetes and Google APIs use) does the parsing,
type checking and evaluation: Google's C++ implementation through `cel-expr-python`. It has
no I/O, clock or randomness, and no loops; this module refuses, before CEL sees the text, what
would make an evaluation costly or surprising: too long, too deeply nested, too many
references, or a function outside `ALLOWED_FUNCTIONS` (the list macros `all`, `exists`,
`map` and `filter` among them).

Each `${...}` becomes a CEL variable (`_r0`, `_r1`, ...) padded with spaces to the length of
the reference it replaces, so CEL's line:column positions are the user's own. The checked
form (`Condition`) is what a compiled DAG carries; a run evaluates it with the values its
references stand for, resolved exactly as in inputs (`pit.dag.refs`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from types import ModuleType
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict

from pit.common.errors import InvalidInputError
from pit.dag.limits import MAX_CONDITION_CHARS, MAX_CONDITION_NESTING, MAX_CONDITION_REFERENCES
from pit.dag.refs import ItemScope, Reference, lookup, parse_reference

if TYPE_CHECKING:
    from cel_expr_python import cel

ALLOWED_FUNCTIONS = frozenset(
    {"size", "has", "contains", "startsWith", "endsWith", "matches", "int", "double", "string"}
)
"""What a condition may call. `matches` is RE2 (linear time); the rest are O(size)."""

_VARIABLE = "_r{}"
_KEYWORDS = frozenset({"in", "true", "false", "null"})
_IDENTIFIER = re.compile(r"[_A-Za-z][_A-Za-z0-9]*")
_CEL_POSITION = re.compile(r"<input>:(\d+):(\d+): (.*)")
_REFERENCE_RULE = (
    "a reference is written ${nodes.<id>.output...}, ${inputs.<key>}, ${item} or ${index}"
)


class Condition(BaseModel):
    """A checked `when:`: what a compiled DAG carries and a run evaluates."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str
    """As written, for messages."""
    source: str
    """The CEL that was checked: each reference replaced by its variable."""
    references: tuple[str, ...]
    """The inside of each distinct `${...}`, in order of first use: `_r<i>` stands for
    `references[i]`."""

    @property
    def per_item(self) -> bool:
        """Mentions `${item}` or `${index}`: a map node evaluates it for each item."""
        return any(parse_reference(r, "when").per_item for r in self.references)

    def parsed_references(self) -> list[Reference]:
        return [parse_reference(r, "when") for r in self.references]


class ConditionError(InvalidInputError):
    """A condition could not be evaluated to true or false (a type mismatch, a missing key)."""


def check_condition(text: str, field: str) -> Condition:
    """The checked form of a `when:`, or `InvalidInputError`: one line naming `field`, the
    expression, the position (column, or line and column) and the rule."""
    if len(text) > MAX_CONDITION_CHARS:
        raise InvalidInputError.for_field(
            field, text, f"{len(text)} characters, over the limit of {MAX_CONDITION_CHARS}"
        )
    source, references = _rewrite(text, field)
    try:
        expression = _environment().compile(source)
    except RuntimeError as error:
        raise _cel_problem(field, text, str(error)) from None
    returns = expression.return_type()
    types = _cel().Type
    if returns != types.BOOL and returns != types.DYN:
        raise InvalidInputError.for_field(
            field, text, f"a condition is true or false, this gives {returns.name().lower()}"
        )
    return Condition(text=text, source=source, references=tuple(references))


def condition_values(
    condition: Condition,
    outputs: Mapping[str, Any],
    run_inputs: Mapping[str, Any],
    field: str,
    item: ItemScope | None = None,
) -> list[Any]:
    """The values the condition's references stand for, resolved as in inputs."""
    return [
        lookup(reference, outputs, run_inputs, field, item)
        for reference in condition.parsed_references()
    ]


def evaluate(condition: Condition, values: Sequence[Any], field: str) -> bool:
    """The condition's value for these reference values (`condition_values`); a value that is
    not true or false raises `ConditionError` naming `field` and what went wrong."""
    data = {_VARIABLE.format(i): value for i, value in enumerate(values)}
    try:
        result = _program(condition.source).eval(data=data)
    except (RuntimeError, TypeError, ValueError) as error:  # raised for some bad values
        raise ConditionError.for_field(field, condition.text, _cel_message(str(error))) from None
    kind = result.type()
    types = _cel().Type
    if kind == types.BOOL:
        return bool(result.value())
    if kind == types.ERROR:
        rule = _cel_message(str(result.value()))
    else:
        rule = f"gave {kind.name().lower()} {result.plain_value()!r}, not true or false"
    raise ConditionError.for_field(field, condition.text, rule)


@lru_cache(maxsize=1)
def _cel() -> ModuleType:
    """CEL, imported when a condition is first checked, not with `pit.dag`: its C extension
    cannot be loaded twice in one process, which a workflow sandbox that re-imports `pit`
    would try (a worker without the PitPlugin, whose workflow module imports `pit`). The
    PitPlugin passes `cel_expr_python` through its sandbox."""
    from cel_expr_python import cel as imported

    module: ModuleType = imported
    return module


@lru_cache(maxsize=1)
def _environment() -> cel.Env:
    cel = _cel()
    variables = {_VARIABLE.format(i): cel.Type.DYN for i in range(MAX_CONDITION_REFERENCES)}
    return cel.NewEnv(variables=variables)


@lru_cache(maxsize=512)
def _program(source: str) -> cel.Expression:
    """Compiled once per process and source (about 0.1 ms); evaluating takes microseconds."""
    return _environment().compile(source)


def _rewrite(text: str, field: str) -> tuple[str, list[str]]:
    """(CEL source, references): one pass over the text that also enforces the nesting,
    reference and function limits, knowing where string literals are."""
    out: list[str] = []
    references: list[str] = []
    depth = 0
    i = 0
    while i < len(text):
        char = text[i]
        if text.startswith("${", i):
            i = _replace_reference(text, i, field, references, out)
            continue
        literal = _string_literal(text, i)
        if literal is not None:
            if "${" in text[i:literal]:
                where = text.index("${", i)
                raise _at(
                    field, text, where, "a reference stands for its value: write it outside quotes"
                )
            end = literal
        elif char.isdigit():
            number = _NUMBER.match(text, i)
            assert number is not None
            end = number.end()
        elif char == "_" or char.isalpha():
            end = _identifier_end(text, i, field)
        else:
            depth += (char in "([{") - (char in ")]}")
            if depth > MAX_CONDITION_NESTING:
                raise _at(field, text, i, f"nested over {MAX_CONDITION_NESTING} levels deep")
            end = i + 1
        out.append(text[i:end])
        i = end
    return "".join(out), references


_NUMBER = re.compile(r"[0-9A-Za-z_]*(\.[0-9][0-9A-Za-z_]*)?")


def _replace_reference(
    text: str, start: int, field: str, references: list[str], out: list[str]
) -> int:
    """Append the variable standing for the `${...}` at `start`; return where it ends."""
    end = text.find("}", start)
    if end < 0:
        raise _at(field, text, start, "a ${ without its closing }")
    inner = text[start + 2 : end]
    try:
        parse_reference(inner, field)
    except InvalidInputError as error:
        raise _at(field, text, start, error.details.get("rule", _REFERENCE_RULE)) from None
    inner = inner.strip()
    if inner not in references:  # one variable per distinct reference: resolved once
        if len(references) == MAX_CONDITION_REFERENCES:
            raise _at(field, text, start, f"over {MAX_CONDITION_REFERENCES} references")
        references.append(inner)
    variable = _VARIABLE.format(references.index(inner))
    out.append(variable.ljust(end + 1 - start))
    return end + 1


def _identifier_end(text: str, start: int, field: str) -> int:
    """The end of the identifier at `start`, refusing a call of a function not allowed."""
    name = _IDENTIFIER.match(text, start)
    assert name is not None
    word = name.group()
    after = len(text) - len(text[name.end() :].lstrip())
    called = after < len(text) and text[after] == "("
    if called and word not in _KEYWORDS and word not in ALLOWED_FUNCTIONS:
        allowed = ", ".join(sorted(ALLOWED_FUNCTIONS))
        raise _at(field, text, start, f"no function {word!r} here (allowed: {allowed})")
    return name.end()


def _string_literal(text: str, start: int) -> int | None:
    """The end of the CEL string or bytes literal starting at `start`, or None if none does.
    Prefixes r/R (raw) and b/B; quotes ', ", ''' and \"\"\"; `\\` escapes unless raw. An
    unterminated literal runs to the end (CEL reports it)."""
    i = start
    raw = False
    while i < len(text) and text[i] in "rRbB" and i - start < 2:
        raw = raw or text[i] in "rR"
        i += 1
    if i >= len(text) or text[i] not in "'\"":
        return None
    if i > start and start > 0 and (text[start - 1].isalnum() or text[start - 1] == "_"):
        return None  # `xr'...'` is not a prefix
    quote = text[i : i + 3] if text[i : i + 3] in ("'''", '"""') else text[i]
    i += len(quote)
    while i < len(text):
        if not raw and text[i] == "\\":
            i += 2
            continue
        if text.startswith(quote, i):
            return i + len(quote)
        i += 1
    return len(text)


def _position(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return f"line {line}, column {column}" if "\n" in text else f"column {column}"


def _at(field: str, text: str, offset: int, rule: str) -> InvalidInputError:
    return InvalidInputError.for_field(field, text, f"{_position(text, offset)}: {rule}")


def _cel_problem(field: str, text: str, message: str) -> InvalidInputError:
    """CEL's first error as one line, at the user's position (the rewrite keeps offsets)."""
    found = _CEL_POSITION.search(message)
    if found is None:
        return InvalidInputError.for_field(field, text, _cel_message(message))
    line, column, rule = int(found.group(1)), int(found.group(2)), found.group(3).strip()
    offset = sum(len(row) + 1 for row in text.split("\n")[: line - 1]) + column - 1
    undeclared = re.fullmatch(r"undeclared reference to '([^']*)'.*", rule)
    if undeclared is not None:
        name = undeclared.group(1)
        offset = text.find(name) if name in text else offset
        meant = name.split(".")[0] in ("nodes", "inputs", "item", "index")
        rule = f"write it as ${{{name}}}" if meant else _REFERENCE_RULE
        rule = f"unknown name {name!r}: {rule}"
    return _at(field, text, min(offset, len(text)), _lower_first(rule))


def _cel_message(message: str) -> str:
    """A CEL status message without its code prefix, on one line."""
    first = message.strip().splitlines()[0] if message.strip() else "cannot be evaluated"
    first = re.sub(r"^[A-Z_]+: ", "", first)
    first = re.sub(r" \[[A-Z_]+\]$", "", first)
    return _lower_first(first.strip())


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]
