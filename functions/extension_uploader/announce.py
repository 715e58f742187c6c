"""Outcome events: each object's outcome on an EventBridge bus, for whoever wants to react.

Off unless ``OUTCOME_EVENT_BUS`` names a bus. Source ``ece-extension-uploader``,
detail-type ``Extension Upload Outcome``. Publishing is best effort: the outcome
stands (tags, ledger, metrics) whether or not the event could be sent.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

if TYPE_CHECKING:
    from mypy_boto3_events.client import EventBridgeClient

EVENT_SOURCE = "ece-extension-uploader"
EVENT_DETAIL_TYPE = "Extension Upload Outcome"


class AnnounceError(Exception):
    """When the outcome event could not be put on the bus: logged, never retried."""


class OutcomeEvents:
    def __init__(self, client: EventBridgeClient, bus: str) -> None:
        self._client = client
        self._bus = bus

    def publish(self, detail: dict[str, Any]) -> None:
        entry: Any = {
            "Source": EVENT_SOURCE,
            "DetailType": EVENT_DETAIL_TYPE,
            "Detail": json.dumps(detail, sort_keys=True),
            "EventBusName": self._bus,
        }
        try:
            reply = self._client.put_events(Entries=[entry])
        except (ClientError, BotoCoreError) as exc:
            raise AnnounceError(f"outcome event not sent: {type(exc).__name__}") from exc
        if reply.get("FailedEntryCount"):
            code = reply["Entries"][0].get("ErrorCode", "unknown")
            raise AnnounceError(f"outcome event refused: {code}")
