"""The fast path's models: the official models (decp15.py, decp2022.py) made strict enough that a record they
accept is one the normalizer would leave exactly as it is, and that the official schema accepts.

`fast_verdict(record, version, kind)` is True only for such a record: pipeline/record.py then keeps it without
normalizing it nor running jsonschema; any other record takes the slow path (the normalizer, then the schema),
so what a record becomes never depends on the path it took (tests/test_fast_path.py proves it, record by record
and output by output). Each strict model is derived from its official model, field by field, when first used:

- unknown fields are refused (the normalizer cleans them, and the 2022 schema drops them);
- every text is trimmed and is not a value the normalizer reads as absent (`""`, `NC` ...): one pattern,
  combined with the official one when the field has one;
- a `null`, or a value of another JSON type where the schema allows any (`| NotObject`), is refused;
- an integer must be written as one (`12`, not the `12.0` draft 7 accepts and the normalizer rewrites);
- a date must be `YYYY-MM-DD` with an optional offset (the normalizer's ISO test; the 2022 schema's pattern is
  looser), an `id` of a buyer or a winner has no space (the normalizer compacts a SIRET written in groups);
- no list holds two equal items (the normalizer removes the second), and a 1.5 record states its `_type`;
- a 1.5 record may have a `source` (a text; the pipeline replaces it in place, as the normalizer does), and a
  1.5 marché an empty `donneesExecution` (as AWS writes them; the normalizer leaves an empty list).

What is not a shape the models can say (the normalizer's enum repairs, its number and date readings) needs no
rule: the official models already accept only the official labels, numbers as numbers and texts as texts.
"""

from __future__ import annotations

import re
import types
from functools import cache
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import msgspec
from msgspec import Meta, Struct, UnsetType
from msgspec.structs import fields

from decp_pipeline.models import typed
from decp_pipeline.models.json_types import UNIQUE
from decp_pipeline.normalize.labels import ABSENT, DATE_FIELDS, SIRET_HOLDERS

# A text the normalizer leaves as it is: no space around it (`str.strip`'s spaces, which are `\s`'s), and not
# one of the values it drops as absent. `\Z`, not `$`: `$` would let a final newline through.
_ABSENT = "|".join(re.escape(value) for value in sorted(ABSENT) if value)
TRIMMED = rf"^(?!(?:{_ABSENT})\Z)\S(?:[\s\S]*\S)?\Z"
NO_SPACE = rf"^(?!(?:{_ABSENT})\Z)\S+\Z"
ISO_DATE = r"^\d{4}-[01]\d-[0-3]\d([+-][0-2]\d:[0-5]\dZ?)?\Z"
# Fields whose `id` the normalizer compacts when it is a SIRET written in groups (1.5 list names, 2022 items).
_HOLDERS = SIRET_HOLDERS | {"titulaire", "concessionnaire"}


def _combined(own: str, official: str | None) -> str:
    """A pattern matching what `own` (anchored) and `official` (searched, as jsonschema does) both match."""
    if official is None:
        return own
    return rf"(?={own}){official}" if official.startswith("^") else rf"(?={own})[\s\S]*?(?:{official})"


class _Builder:
    """Strict twins of the models of one format version (1.5 or 2022)."""

    def __init__(self, version: str) -> None:
        self.version = version
        self.twins: dict[tuple[type[Struct], bool], type[Struct]] = {}

    def struct(self, cls: type[Struct], parent: str = "") -> type[Struct]:
        key = (cls, parent in _HOLDERS)
        if key in self.twins:
            return self.twins[key]
        specs: list[tuple[str, Any, Any]] = []
        rename = {}
        for info in fields(cls):
            kind = self.field(info.type, info.encode_name, parent)
            required = info.required or (self.version == "1.5" and info.encode_name == "_type")
            if required:
                kind = _without_unset(kind)
                specs.append((info.name, kind, msgspec.NODEFAULT))
            else:
                specs.append((info.name, kind, info.default))
            rename[info.name] = info.encode_name
        if self.version == "1.5" and cls in _RECORDS_15:  # the pipeline's own field: its value is replaced
            specs.append(("source", Annotated[str, Meta(pattern=TRIMMED)], msgspec.UNSET))
        if self.version == "1.5" and cls is _RECORDS_15[0]:  # AWS's marchés carry the concessions' field, empty
            specs.append(("donneesExecution", Annotated[list[int], Meta(max_length=0)], msgspec.UNSET))
        specs.sort(key=lambda spec: spec[2] is not msgspec.NODEFAULT)
        twin = msgspec.defstruct(f"Strict{cls.__name__}", specs, rename=rename, forbid_unknown_fields=True,
                                 kw_only=True)  # fmt: skip
        self.twins[key] = twin
        return twin

    def field(self, t: Any, name: str, parent: str) -> Any:  # noqa: PLR0911 - one return per kind of type
        """The strict type of a field `name` of an object reached by the field `parent`."""
        origin = get_origin(t)
        if origin is Annotated:
            base, *metas = get_args(t)
            meta = metas[0] if metas else Meta()
            if base is str:
                return Annotated[str, self.text_meta(meta, name, parent)]
            if get_origin(base) is list:
                return Annotated[self.items(base, name, parent), _unique(meta)]
            return Annotated[self.field(base, name, parent), meta]
        if origin in (Union, types.UnionType):
            return self.union(get_args(t), name, parent)
        if origin is list:
            return Annotated[self.items(t, name, parent), Meta(extra_json_schema=UNIQUE)]
        if isinstance(t, type) and issubclass(t, Struct):
            return self.struct(t, name)
        if t is str:
            return Annotated[str, self.text_meta(Meta(), name, parent)]
        if t in (int, float, bool, UnsetType) or get_origin(t) is Literal:
            return t
        raise TypeError(f"strict models: no strict form of {t!r} (field {name!r})")

    def items(self, t: Any, name: str, parent: str) -> Any:
        """A list's strict type (every list is checked for equal items: the normalizer drops the second)."""
        (item,) = get_args(t)
        return list[self.field(item, name, parent)]  # type: ignore[misc]

    def union(self, members: tuple[Any, ...], name: str, parent: str) -> Any:
        """Objects only where the schema also allows any other value; integers only where it allows `1.0`."""
        kept = [m for m in members if m is not type(None)]
        if any(isinstance(m, type) and issubclass(m, Struct) for m in kept):
            kept = [m for m in kept if m is UnsetType or (isinstance(m, type) and issubclass(m, Struct))]
        if any(_base(m) is int for m in kept):
            kept = [m for m in kept if _base(m) is not float]
        strict = [self.field(m, name, parent) for m in kept]
        return strict[0] if len(strict) == 1 else Union[tuple(strict)]  # noqa: UP007 - built at run time

    def text_meta(self, meta: Meta, name: str, parent: str) -> Meta:
        own = TRIMMED
        if name in DATE_FIELDS or (self.version == "2022" and name.startswith("date")):
            own = ISO_DATE
        elif name == "id" and parent in _HOLDERS:
            own = NO_SPACE
        return Meta(pattern=_combined(own, meta.pattern), min_length=meta.min_length, max_length=meta.max_length)


_RECORDS_15 = (typed.MODELS["1.5", "marche"], typed.MODELS["1.5", "contrat-concession"])


def _base(t: Any) -> Any:
    return get_args(t)[0] if get_origin(t) is Annotated else t


def _unique(meta: Meta) -> Meta:
    return Meta(min_length=meta.min_length, max_length=meta.max_length, extra_json_schema=UNIQUE)


def _without_unset(t: Any) -> Any:
    if get_origin(t) in (Union, types.UnionType):
        kept = [m for m in get_args(t) if m is not UnsetType]
        return kept[0] if len(kept) == 1 else Union[tuple(kept)]  # noqa: UP007
    return t


@cache
def strict_model(version: typed.Version, kind: typed.KindName) -> type[Struct]:
    return _Builder(version).struct(typed.MODELS[version, kind])


_TRIMMED = re.compile(TRIMMED)


def identity_in_place(record: dict[str, Any]) -> bool:
    """Whether the `uid` and `source` a 1.5 record has (if any) are texts the normalizer keeps: the pipeline
    then replaces them in place, on both paths (else the slow path drops them first, and adds them last)."""
    for key in ("uid", "source"):
        if key in record and not (type(value := record[key]) is str and _TRIMMED.search(value)):
            return False
    return True


@cache
def _decoder(version: typed.Version, kind: typed.KindName) -> msgspec.json.Decoder[Any]:
    return msgspec.json.Decoder(strict_model(version, kind))


def fast_verdict(line: bytes, version: typed.Version, kind: typed.KindName) -> bool:
    """True when the record whose JSON is `line` (as orjson writes it) is valid and the normalizer would change
    nothing in it (see the module's text)."""
    try:
        decoded = _decoder(version, kind).decode(line)
    except msgspec.ValidationError:
        return False
    return not typed._has_suspects(decoded)
