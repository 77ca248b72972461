"""Devices over MQTT: occupancy sensors (``beidou/occupancy/<lot_id>``) and gate cameras
(``beidou/anpr/<lot_id>``) publish with the device token in the payload; the platform publishes
each gate decision to ``beidou/gates/<lot_id>`` for the barrier controllers.

At-least-once and nothing lost: we subscribe at QoS 1 with a persistent session and acknowledge a
message only after it has been handled (stored, or refused for good). A message that fails for a
transient reason (database down) stays unacknowledged and the broker redelivers it after we
reconnect; its ``event_id`` makes the redelivery harmless. Workers share one subscription
(``$share/...``) so each message is handled once. Decisions go out at QoS 1 after the commit; a
decision made while the broker is away is logged and dropped (the camera's HTTP answer carries
it too, and a barrier controller that missed one asks again by replaying the read).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlparse

import aiomqtt
import structlog
from prometheus_client import Counter

log = structlog.get_logger(__name__)

MESSAGES = Counter("beidou_mqtt_messages_total", "MQTT device messages", ["outcome"])


class Rejected(Exception):
    """The message can never succeed (bad JSON, bad token, wrong lot): acknowledge and drop."""


Handler = Callable[[str, dict[str, Any]], Awaitable[None]]


class MqttDeviceBus:
    """``handlers``: topic prefix -> what a message under it means (``<prefix>/<lot_id>``)."""

    def __init__(self, url: str, handlers: dict[str, Handler], *, group: str = "beidou") -> None:
        parsed = urlparse(url)
        self.host = parsed.hostname or "127.0.0.1"
        self.port = parsed.port or 1883
        self.username = parsed.username
        self.password = parsed.password
        self.handlers = {prefix.rstrip("/"): handler for prefix, handler in handlers.items()}
        self.group = group
        self.identifier = f"beidou-api-{socket.gethostname()}-{os.getpid()}"
        self.subscribed = asyncio.Event()
        self._client: aiomqtt.Client | None = None

    @property
    def subscriptions(self) -> list[str]:
        return [f"$share/{self.group}/{prefix}/+" for prefix in self.handlers]

    async def publish(self, topic: str, payload: dict[str, Any]) -> bool:
        """Send one message at QoS 1 (False when the broker is away: the caller logs it)."""
        client = self._client
        if client is None:
            return False
        try:
            await client.publish(topic, json.dumps(payload), qos=1)
        except aiomqtt.MqttError:
            return False
        return True

    async def run(self) -> None:
        """Consume until cancelled, reconnecting with backoff when the broker goes away."""
        delay = 0.5
        while True:
            try:
                async with aiomqtt.Client(
                    self.host,
                    self.port,
                    username=self.username,
                    password=self.password,
                    identifier=self.identifier,
                    clean_session=False,
                ) as client:
                    client._client.manual_ack_set(True)
                    for subscription in self.subscriptions:
                        await client.subscribe(subscription, qos=1)
                    self._client = client
                    self.subscribed.set()
                    delay = 0.5
                    log.info("mqtt_subscribed", topics=self.subscriptions)
                    async for message in client.messages:
                        if not await self._handle(message):
                            # Leave it unacknowledged; reconnecting makes the broker redeliver.
                            raise aiomqtt.MqttError("message deferred; reconnecting for redelivery")
                        client._client.ack(message.mid, message.qos)
            except aiomqtt.MqttError as exc:
                self._client = None
                self.subscribed.clear()
                log.warning("mqtt_disconnected", error=str(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _handle(self, message: aiomqtt.Message) -> bool:
        """Return True when the message is settled (done or refused for good)."""
        prefix, _, lot_id = str(message.topic).rpartition("/")
        handler = self.handlers.get(prefix)
        try:
            if handler is None:
                raise Rejected(f"no handler for {prefix}")
            raw = message.payload
            payload = json.loads(raw if isinstance(raw, (bytes, bytearray, str)) else b"")
            if not isinstance(payload, dict):
                raise Rejected("payload must be a JSON object")
            await handler(lot_id, payload)
        except (Rejected, ValueError) as exc:
            MESSAGES.labels("rejected").inc()
            log.warning("mqtt_message_rejected", lot_id=lot_id, error=str(exc))
            return True
        except Exception as exc:
            MESSAGES.labels("retry").inc()
            log.warning("mqtt_message_deferred", lot_id=lot_id, error=type(exc).__name__)
            return False
        MESSAGES.labels("accepted").inc()
        return True
