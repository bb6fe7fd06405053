"""The domain model: the official DECP schemas as typed models (msgspec Structs), and the record as carried.

- `decp15`: format 1.5 (`schemas/marches.json`), `Marche` and `ContratConcession` and their parts;
- `decp2022`: format 2022 (`schemas/schema_decp_v2.0.3.json`), the same;
- `typed`: `decode` a record into its model, `typed_verdict` (valid or not, the official schema's verdict);
- `record`: `Record`, a record in its regulatory JSON shape with its provenance, and the national key `uid`.

The pipeline validates with jsonschema-rs, which also gives the messages; the typed models are its referee.
"""

from decp_pipeline.models import decp15, decp2022
from decp_pipeline.models.record import BUYER_KEY, FormatVersion, Kind, Record, make_uid
from decp_pipeline.models.typed import MODELS, decode, typed_verdict, typed_verdict_15

__all__ = [
    "BUYER_KEY",
    "MODELS",
    "FormatVersion",
    "Kind",
    "Record",
    "decode",
    "decp15",
    "decp2022",
    "make_uid",
    "typed_verdict",
    "typed_verdict_15",
]
