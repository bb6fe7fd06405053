"""The domain model: the official DECP schemas as typed models, and the contract with its facts.

- `contract`: `Contract`, a normalized record (the regulatory JSON shape of its format) with the facts every
  consumer reads: uid, kind, buyer, winners, amount, days, modifications, digest; `kind_of`, `uid_of`;
- `decp15`: format 1.5 (`schemas/marches.json`) as msgspec Structs, `Marche` and `ContratConcession` and their
  parts; `decp2022`: format 2022 (`schemas/schema_decp_v2.0.3.json`), the same;
- `typed`: `decode` a record into its typed model, `typed_verdict` (valid or not: the official schema's
  verdict, proven equal to jsonschema's by tests/test_typed_models.py).

The build keeps records as parsed (dicts with the regulation's field names): that shape is what the official
schemas validate and what decp.json / decp-2022.json publish. jsonschema-rs validates them and gives the
messages; the typed models are its referee, and the base of the fast path. Import the modules themselves:
this package imports nothing, so that reading a file (which needs only `contract`) loads no typed model.
"""
