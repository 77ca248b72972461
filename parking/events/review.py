"""What an operator reviews: the flags queue with the camera's read, a lot's latest events."""

from __future__ import annotations

import uuid

from parking.events import repository as repo
from parking.events import service
from parking.events.schemas import FlagView, LotEvent
from parking.identity.access import Principal
from parking.lots import repository as lots_repo
from parking.lots.service import own_lot
from parking.unit import Ctx


async def flag_queue(ctx: Ctx, principal: Principal, *, unresolved_only: bool, limit: int) -> list[FlagView]:
    """``GET /v1/operator/flags``'s list, each with the plate read and the read's confidence."""
    flags = await service.flags(ctx, principal, unresolved_only=unresolved_only, limit=limit)
    reads = await repo.anpr_events_by_ids(ctx.db, [f.anpr_event_id for f in flags if f.anpr_event_id])
    views = []
    for flag in flags:
        read = reads.get(flag.anpr_event_id) if flag.anpr_event_id else None
        views.append(
            FlagView(
                **flag.model_dump(),
                plate=read.plate if read else None,
                confidence=read.confidence if read else None,
                direction=read.direction if read else None,
                read_at=read.ts if read else None,
            )
        )
    return views


async def last_events(ctx: Ctx, principal: Principal, lot_id: uuid.UUID, limit: int = 20) -> list[LotEvent]:
    """The lot's latest camera reads and sensor readings, newest first (own lots only)."""
    lot = await own_lot(ctx, principal, lot_id)
    codes = {s.id: s.code for s in await lots_repo.spaces_of_lot(ctx.db, lot.id)}
    events = [
        LotEvent(
            source="camera",
            ts=e.ts,
            direction=e.direction,
            plate=e.plate,
            confidence=e.confidence,
            flagged=e.flagged,
        )
        for e in await repo.recent_anpr_events(ctx.db, lot.id, limit)
    ] + [
        LotEvent(source="sensor", ts=e.ts, space_code=codes.get(e.space_id), occupied=e.occupied)
        for e in await repo.recent_occupancy_events(ctx.db, lot.id, limit)
    ]
    return sorted(events, key=lambda e: e.ts, reverse=True)[:limit]
