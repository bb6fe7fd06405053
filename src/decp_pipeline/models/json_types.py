"""JSON Schema building blocks shared by the typed models of both format versions.

- `UNIQUE` marks a list whose schema says `uniqueItems`: msgspec has no such constraint, so it is carried as
  `extra_json_schema` (kept by `msgspec.json.schema` and read back by `typed.py`, which checks it after
  decoding, with jsonschema's own equality).
- `NotObject`: every JSON value that is not an object. A subschema with `properties` and `required` but no
  `"type": "object"` (the 1.5 `Acheteur`, the 2022 `TitulaireArray` and `ConcessionnaireArray`) accepts any
  such value as it is, since `properties` and `required` apply to objects only: the models say so with
  `SomeStruct | NotObject`.
- `Integer7`: "integer" in draft 7 (the 2022 schema) is any number with a zero fractional part, so `1.0`
  is an integer there (and not in draft 4, the 1.5 schema, where the models use plain `int`).
"""

from __future__ import annotations

from typing import Annotated, Any

from msgspec import Meta

UNIQUE: dict[str, Any] = {"uniqueItems": True}

NotObject = str | int | float | bool | None | list[Any]

# Draft-7 integers with their `minimum: 1` (the only minimum the 2022 schema sets on integers).
Integer7 = Annotated[int, Meta(ge=1)] | Annotated[float, Meta(ge=1, multiple_of=1)]
