"""Typed application state: everything the app factory builds once and requests share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from core.db import Autocommit
from core.live import LiveStore
from core.settings import Settings
from maas.network import Network
from maas.service import ItinerarySigner
from parking.availability.service import LiveAvailability
from parking.identity.access import TokenCache
from parking.search.service import LotDirectory
from parking.sessions.payments import PaymentProvider
from parking.tracks.service import PositionTracker

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
    from starlette.requests import HTTPConnection

    from hardware.device_mqtt import MqttDeviceBus
    from hardware.ocpp_central import CentralSystem


@dataclass
class AppState:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    live_store: LiveStore
    live: LiveAvailability
    providers: dict[str, PaymentProvider]
    tokens: TokenCache = field(default_factory=TokenCache)
    directory: LotDirectory = field(default_factory=LotDirectory)
    positions: PositionTracker = field(default_factory=PositionTracker)
    network: Network | None = None  # the imported transport network (beidou maas import)
    signer: ItinerarySigner = field(default_factory=lambda: ItinerarySigner("unset"))
    started: bool = False
    ocpp: CentralSystem | None = None  # the OCPP central system, when this process runs it
    device_bus: MqttDeviceBus | None = None  # devices over MQTT (occupancy, plate reads, gate decisions)
    autocommit: Autocommit | None = None  # PostgreSQL's one-round-trip writes (bookings)


def app_state(conn: HTTPConnection) -> AppState:
    state: AppState = conn.app.state.beidou
    return state
