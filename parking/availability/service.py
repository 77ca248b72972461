"""Free spaces per lot and space kind, now and at a future time.

Sensed lots (a sensor per space) count spaces; gate-counted garages count ``capacity - open
sessions - bookings covering the time``. The database answers; the live store keeps the 'now'
snapshot of every lot so the hot search path reads one Redis ``MGET`` instead of scanning spaces,
and fans changes out to SSE listeners on every worker.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from core.live import LiveStore, LiveStoreUnavailable
from parking.bookings import repository as bookings_repo
from parking.bookings.schemas import BookingStatus
from parking.identity.access import Principal
from parking.lots import repository as lots_repo
from parking.lots.models import Lot
from parking.lots.schemas import SpaceOut, SpaceState
from parking.lots.service import own_lot, space_out
from parking.lots.states import GATE_COUNTED, space_states
from parking.sessions import repository as sessions_repo
from parking.unit import Ctx

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

log = structlog.get_logger(__name__)

DIRECTORY_VERSION = "lots:version"
# every lot's changes on one channel too: a page showing hundreds of lots subscribes once
DISTRICT_CHANNEL = "lots:live"


def lot_key(lot_id: uuid.UUID) -> str:
    return f"lot:{lot_id}:availability"


def lot_channel(lot_id: uuid.UUID) -> str:
    return f"lot:{lot_id}:live"


def booked_at(bookings: Sequence[Any], at: datetime) -> set[uuid.UUID | None]:
    """The spaces live bookings hold at ``at``."""
    return {b.space_id for b in bookings if b.start_ts <= at < b.end_ts}


async def compute(db: AsyncSession, lot: Lot, at: datetime, now: datetime) -> dict[str, Any]:
    bookings = await bookings_repo.live_bookings_overlapping(db, lot.id, at, at + timedelta(seconds=1))
    if lot.kind == GATE_COUNTED:
        open_sessions = await sessions_repo.count_open_sessions(db, lot.id)
        # A checked-in booking's car is already counted as an open session.
        reserved = sum(1 for b in bookings if b.status == BookingStatus.CONFIRMED)
        free = max(0, lot.capacity - open_sessions - reserved)
        return _snapshot(at, free, {"any": free}, open_sessions, reserved, 0)
    spaces = await lots_repo.spaces_of_lot(db, lot.id)
    states = space_states(spaces, booked_at(bookings, at), at, now)
    by_kind: dict[str, int] = {}
    for space in spaces:
        if states[space.id] == SpaceState.FREE:
            by_kind[space.kind] = by_kind.get(space.kind, 0) + 1
    values = list(states.values())
    return _snapshot(
        at,
        sum(by_kind.values()),
        by_kind,
        values.count(SpaceState.OCCUPIED),
        values.count(SpaceState.RESERVED),
        values.count(SpaceState.OUT_OF_SERVICE),
    )


async def lot_spaces(ctx: Ctx, lot: Lot) -> list[SpaceOut]:
    """Every space of the lot with the state a driver sees now."""
    spaces = await lots_repo.spaces_of_lot(ctx.db, lot.id)
    bookings = await bookings_repo.live_bookings_overlapping(ctx.db, lot.id, ctx.now, ctx.now)
    bookings = [b for b in bookings if b.start_ts <= ctx.now]
    states = space_states(spaces, {b.space_id for b in bookings}, ctx.now, ctx.now)
    return [space_out(space, states[space.id]) for space in spaces]


async def own_lot_spaces(ctx: Ctx, principal: Principal, lot_id: uuid.UUID) -> list[SpaceOut]:
    """An operator's lot's spaces (an admin: any lot's) with their states now."""
    return await lot_spaces(ctx, await own_lot(ctx, principal, lot_id))


async def space_state_now(ctx: Ctx, space_id: uuid.UUID) -> SpaceState:
    space = await lots_repo.get_space(ctx.db, space_id)
    assert space is not None
    bookings = await bookings_repo.live_bookings_overlapping(ctx.db, space.lot_id, ctx.now, ctx.now)
    return space_states([space], booked_at(bookings, ctx.now), ctx.now, ctx.now)[space.id]


def _snapshot(
    at: datetime, free: int, by_kind: dict[str, int], occupied: int, reserved: int, oos: int
) -> dict[str, Any]:
    return {
        "at": at.isoformat(),
        "free_spaces": free,
        "by_kind": by_kind,
        "occupied": occupied,
        "reserved": reserved,
        "out_of_service": oos,
        "degraded": False,
    }


class SnapshotListener(Protocol):
    """A per-process cache that wants to hear of this process's own changes at once."""

    def note(self, lot_id: uuid.UUID, snapshot: dict[str, Any]) -> None: ...
    def invalidate(self) -> None: ...


class LiveAvailability:
    """Keeps the live store's snapshots in step with the database, and reads them back."""

    def __init__(self, store: LiveStore, listener: SnapshotListener | None = None) -> None:
        self.store = store
        self.listener = listener
        self.degraded = False

    async def refresh(self, db: AsyncSession, lot_ids: Sequence[uuid.UUID], now: datetime) -> None:
        if self.degraded:
            return  # readers compute from the database; the monitor rebuilds once the store is back
        for lot_id in lot_ids:
            lot = await lots_repo.get_lot(db, lot_id)
            if lot is None:
                continue
            snapshot = await compute(db, lot, now, now)
            if self.listener is not None:
                self.listener.note(lot_id, snapshot)
            try:
                await self.store.set_json(lot_key(lot_id), snapshot)
                message = {"lot_id": str(lot_id), **snapshot}
                await self.store.publish(lot_channel(lot_id), message)
                await self.store.publish(DISTRICT_CHANNEL, message)
            except LiveStoreUnavailable:
                self._mark_degraded()
                return

    async def rebuild(self, db: AsyncSession, now: datetime) -> int:
        lot_ids = await lots_repo.all_lot_ids(db)
        self.degraded = False
        await self.refresh(db, lot_ids, now)
        await self.bump_directory()  # a restarted Redis lost the counter: make every cache reload
        return len(lot_ids)

    async def bump_directory(self) -> None:
        """Tell every worker's lot directory (search cache) that lot metadata changed."""
        if self.listener is not None:
            self.listener.invalidate()
        if self.degraded:
            return
        try:
            await self.store.incr(DIRECTORY_VERSION)
        except LiveStoreUnavailable:
            self._mark_degraded()

    async def read(
        self, db: AsyncSession, lots: Sequence[Lot], now: datetime
    ) -> dict[uuid.UUID, dict[str, Any]]:
        """Snapshots for these lots: from the live store, or computed (and marked degraded)."""
        found: dict[uuid.UUID, dict[str, Any]] = {}
        if not self.degraded:
            try:
                values = await self.store.get_json_many([lot_key(lot.id) for lot in lots])
            except LiveStoreUnavailable:
                self._mark_degraded()
            else:
                found = {lot.id: v for lot, v in zip(lots, values, strict=True) if v is not None}
        for lot in lots:
            if lot.id not in found:
                snapshot = await compute(db, lot, now, now)
                snapshot["degraded"] = self.degraded
                found[lot.id] = snapshot
        return found

    def mark_degraded(self) -> None:
        self._mark_degraded()

    def _mark_degraded(self) -> None:
        if not self.degraded:
            log.warning("live_store_unavailable", store=self.store.name)
        self.degraded = True
