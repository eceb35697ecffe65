"""The CloudEvents types cartwatch publishes and their ids — the external contract (DESIGN.md §3).

Spelled here once.  Plain constants: the sweeper and the processor write event intents,
and the query API derives published event ids, without importing the pydantic event
models (``cloud_events``), which take their ``Literal`` types from here.

Event ids are deterministic (uuid5 of source, type, cart and transition), so an event
delivered twice carries the same id and consumers can drop the duplicate.
"""

from __future__ import annotations

import uuid
from typing import Final, Literal, get_args

AbandonedType = Literal["cartwatch.cart.abandoned"]
RecoveredType = Literal["cartwatch.cart.recovered"]
ConvertedType = Literal["cartwatch.cart.converted"]

ABANDONED: Final[AbandonedType] = get_args(AbandonedType)[0]
RECOVERED: Final[RecoveredType] = get_args(RecoveredType)[0]
CONVERTED: Final[ConvertedType] = get_args(ConvertedType)[0]
EVENT_TYPES: Final = (ABANDONED, RECOVERED, CONVERTED)

SCHEMA_VERSION: Final = 1
# Each type's ``dataschema`` is ``dataschema_for(type)``; spelled out as the models' ``Literal``
# types (a test checks the two agree).
AbandonedSchema = Literal["urn:cartwatch:schema:cartwatch.cart.abandoned:1"]
RecoveredSchema = Literal["urn:cartwatch:schema:cartwatch.cart.recovered:1"]
ConvertedSchema = Literal["urn:cartwatch:schema:cartwatch.cart.converted:1"]
ABANDONED_SCHEMA: Final[AbandonedSchema] = get_args(AbandonedSchema)[0]
RECOVERED_SCHEMA: Final[RecoveredSchema] = get_args(RecoveredSchema)[0]
CONVERTED_SCHEMA: Final[ConvertedSchema] = get_args(ConvertedSchema)[0]

# The platform the events come from: the ``source`` prefix and the ``platform`` attribute.
PLATFORM: Final = "bigcommerce"

# The SNS message attributes subscription filter policies match on.
TYPE_ATTRIBUTE: Final = "type"
STORE_ATTRIBUTE: Final = "store_hash"
PLATFORM_ATTRIBUTE: Final = "platform"


def dataschema_for(event_type: str) -> str:
    return f"urn:cartwatch:schema:{event_type}:{SCHEMA_VERSION}"


def source_for(store_hash: str) -> str:
    return f"cartwatch/{PLATFORM}/{store_hash}"


# Fixed forever: changing it would change every event id ever published.
_EVENT_ID_NAMESPACE: Final = uuid.UUID("6f1f0b4e-3c1a-5d7e-9a51-0c2a7d8e4b10")


def event_id(store_hash: str, event_type: str, cart_id: str, transition: str) -> str:
    key = "\n".join((source_for(store_hash), event_type, cart_id, transition))
    return str(uuid.uuid5(_EVENT_ID_NAMESPACE, key))
