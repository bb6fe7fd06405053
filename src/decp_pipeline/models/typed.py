"""The typed verdict: a record is valid when it decodes into its model, exactly when the official schema says so.

`decode` turns a record (JSON bytes, or the object a JSON parser made of them) into the Struct of its format
version and kind, with msgspec (a cached `msgspec.json.Decoder` per model for bytes, `msgspec.convert` for
objects), or raises `msgspec.ValidationError`. `typed_verdict` is its yes or no; `tests/test_typed_models.py`
proves it equals jsonschema's on every real record and on records mutated field by field.

What msgspec cannot say, and how the verdict still matches jsonschema (Draft4Validator / Draft7Validator built
without a format checker, as the project uses them):

- `uniqueItems`: the lists marked `UNIQUE` are checked here, after decoding. Two equal raw items decode into
  equal Structs, so Structs that are all different prove the raw items are; when two compare equal (which they
  may do while the raw items differ, by an unknown field the Struct ignored, or by `true` against `1`), the raw
  items are compared with jsonschema's own algorithm (`json_unique`, which it copies).
- `anyOf` of the 1.5 `marches` list: no tag tells the two kinds apart, so `typed_verdict_15` tries both.
- "integer" of draft 7 and subschemas without `"type": "object"`: types of `json_types`.
- `format`: the schemas have none, and jsonschema asserts none without a format checker; the dates are
  `pattern`s, which msgspec matches with `re.search` as jsonschema does (unanchored, `$` before a final newline).

Where the two cannot agree, outside anything a DECP record holds: a number beyond a double (`1e400`, or the
integer `10**400` in a "number" field) is refused (jsonschema takes it as a number); on JSON bytes, malformed
JSON or `NaN` raise `msgspec.DecodeError` (no verdict, not a JSON record), and a key written twice is checked
at each occurrence (the reference parsers keep the last); a `NaN` float given in an object fails msgspec's
minimums and passes jsonschema's (`NaN < 0` is false).
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from typing import Any, Literal, NamedTuple, TypeAlias

import msgspec
import msgspec.inspect as mi
from msgspec import Struct

from decp_pipeline.models import decp15, decp2022

Version = Literal["1.5", "2022"]
KindName = Literal["marche", "contrat-concession"]
Path: TypeAlias = tuple[str | int, ...]

MODELS: dict[tuple[str, str], type[Struct]] = {
    ("1.5", "marche"): decp15.Marche,
    ("1.5", "contrat-concession"): decp15.ContratConcession,
    ("2022", "marche"): decp2022.Marche,
    ("2022", "contrat-concession"): decp2022.ContratConcession,
}


@cache
def decoder(model: type[Struct]) -> msgspec.json.Decoder[Any]:
    """The JSON decoder of a model, built once."""
    return msgspec.json.Decoder(model)


def decode(record: Any, version: Version, kind: KindName) -> Struct:
    """The record as its model; raises msgspec.ValidationError when the schema does not accept it."""
    model = MODELS[version, kind]
    is_json = isinstance(record, (bytes, bytearray, memoryview))
    decoded = decoder(model).decode(record) if is_json else msgspec.convert(record, model)
    if _has_suspects(decoded):
        suspects: list[Path] = []
        _duplicate_suspects(decoded, (), suspects)
        raw = msgspec.json.decode(record) if is_json else record
        for path in suspects:
            if not json_unique(_at(raw, path)):
                raise msgspec.ValidationError(f"Expected an array of unique items - at `{_dotted(path)}`")
    return decoded


def typed_verdict(record: Any, version: Version, kind: KindName) -> bool:
    """True when the record is valid against the definition of `kind` in the official schema of `version`."""
    try:
        decode(record, version, kind)
    except msgspec.ValidationError:
        return False
    return True


def typed_verdict_15(record: Any) -> bool:
    """A record of the 1.5 `marches` list: valid as a marché or as a contrat de concession (`anyOf`)."""
    return typed_verdict(record, "1.5", "marche") or typed_verdict(record, "1.5", "contrat-concession")


# ---------------------------------------------------------------------------------------------------------
# uniqueItems


class _Step(NamedTuple):
    """A field that holds a `UNIQUE` list, or Structs that do (`descend`), reached from a Struct by `attrs`."""

    attrs: str  # dotted: the fields of one Struct type on the way are followed at once ("techniques.technique")
    keys: Path  # the JSON names on the way
    unique: bool
    descend: bool


class _Plan(NamedTuple):
    steps: tuple[_Step, ...]
    values: Callable[[Any], tuple[Any, ...]]  # the values at the steps, in one call (operator.attrgetter)


_PLANS: dict[type, _Plan] = {}


def _plan(cls: type[Struct]) -> _Plan:
    """What the uniqueness check visits in a `cls`, from the models' types (msgspec.inspect)."""
    plan = _PLANS.get(cls)
    if plan is None:
        steps = _steps(cls)
        getter = operator.attrgetter(*(step.attrs for step in steps)) if steps else None
        if getter is None or len(steps) > 1:
            plan = _Plan(steps, getter or (lambda _: ()))
        else:
            plan = _Plan(steps, lambda obj: (getter(obj),))
        _PLANS[cls] = plan
    return plan


def _steps(cls: type[Struct]) -> tuple[_Step, ...]:
    info = mi.type_info(cls)
    assert isinstance(info, mi.StructType)
    steps = []
    for field in info.fields:
        if isinstance(field.type, mi.StructType):  # always a Struct of this type: its own steps, followed through
            for s in _steps(field.type.cls):
                steps.append(_Step(f"{field.name}.{s.attrs}", (field.encode_name, *s.keys), s.unique, s.descend))
            continue
        unique, structs = _describe(field.type)
        descend = any(_plan(s).steps for s in structs)
        if unique or descend:
            steps.append(_Step(field.name, (field.encode_name,), unique, descend))
    return tuple(steps)


def _describe(t: mi.Type) -> tuple[bool, list[type[Struct]]]:
    """Whether a field's type is a `UNIQUE` list, and the Struct classes found in it (or in its items)."""
    if isinstance(t, mi.Metadata):
        unique, structs = _describe(t.type)
        return unique or bool((t.extra_json_schema or {}).get("uniqueItems")), structs
    if isinstance(t, mi.UnionType):
        found = [_describe(member) for member in t.types]
        return any(u for u, _ in found), [s for _, ss in found for s in ss]
    if isinstance(t, mi.ListType):
        return False, _describe(t.item_type)[1]
    if isinstance(t, mi.StructType):
        return False, [t.cls]
    return False, []


def _has_suspects(obj: Struct) -> bool:
    """Whether a `UNIQUE` list of `obj` has two items comparing equal (the common answer, no, found fast)."""
    plan = _PLANS.get(type(obj)) or _plan(type(obj))
    for step, value in zip(plan.steps, plan.values(obj), strict=True):
        if type(value) is list:
            if step.unique and len(value) > 1 and _has_equal_pair(value):
                return True
            if step.descend and any(isinstance(item, Struct) and _has_suspects(item) for item in value):
                return True
        elif step.descend and isinstance(value, Struct) and _has_suspects(value):
            return True
    return False


def _duplicate_suspects(obj: Struct, path: Path, out: list[Path]) -> None:
    """Append the path of every `UNIQUE` list of `obj` that has two items comparing equal."""
    plan = _plan(type(obj))
    for step, value in zip(plan.steps, plan.values(obj), strict=True):
        here = (*path, *step.keys)
        if type(value) is list:
            if step.unique and len(value) > 1 and _has_equal_pair(value):
                out.append(here)
            if step.descend:
                for i, item in enumerate(value):
                    if isinstance(item, Struct):
                        _duplicate_suspects(item, (*here, i), out)
        elif step.descend and isinstance(value, Struct):
            _duplicate_suspects(value, here, out)


def _has_equal_pair(items: list[Any]) -> bool:
    if len(items) == 2:
        return bool(items[0] == items[1])
    return any(a == b for a, b in itertools.combinations(items, 2))


def _at(raw: Any, path: Path) -> Any:
    for step in path:
        raw = raw[step]
    return raw


def _dotted(path: Path) -> str:
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


# jsonschema's `uniqueItems` (jsonschema._utils.uniq and equal, 4.x), copied so that the verdict is its verdict
# even where sorting decides (it compares sorted neighbours when the items sort, every pair otherwise).

_TRUE, _FALSE = object(), object()


def _unbool(value: Any) -> Any:
    if value is True:
        return _TRUE
    if value is False:
        return _FALSE
    return value


def json_equal(one: Any, two: Any) -> bool:
    """JSON equality: `true` is not `1`, `1` is `1.0`, lists and objects compare item by item."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, Sequence) and isinstance(two, Sequence):
        return len(one) == len(two) and all(json_equal(i, j) for i, j in zip(one, two, strict=True))
    if isinstance(one, Mapping) and isinstance(two, Mapping):
        return len(one) == len(two) and all(key in two and json_equal(v, two[key]) for key, v in one.items())
    return bool(_unbool(one) == _unbool(two))


def json_unique(items: list[Any]) -> bool:
    """jsonschema's verdict on `uniqueItems` for this list."""
    try:
        ordered = sorted(_unbool(i) for i in items)
        return not any(json_equal(i, j) for i, j in itertools.pairwise(ordered))
    except (NotImplementedError, TypeError):
        seen: list[Any] = []
        for item in map(_unbool, items):
            if any(json_equal(i, item) for i in seen):
                return False
            seen.append(item)
    return True
