"""The events room's services: one effect per event id, and sensor readings that arrive late."""

from __future__ import annotations

from datetime import timedelta

from parking.events import service as events
from parking.events.schemas import AnprEventIn, Direction, OccupancyEventIn
from parking.identity import service as identity
from parking.identity.access import ADMIN, Principal
from parking.identity.schemas import DeviceIn, DeviceKind, Role
from parking.lots import service as lots
from parking.lots.schemas import LotIn, LotKind, SpaceIn
from tests.support import TARIFF, Client, unit


async def test_duplicates_have_one_effect_and_older_readings_never_overwrite(client: Client) -> None:
    async with unit(client) as ctx:
        op = Principal(Role.OPERATOR, (await identity.create_operator(ctx, ADMIN, "Op")).id)
        lot = await lots.create_lot(
            ctx, op, LotIn(name="L", lat=31.3, lon=121.5, kind=LotKind.SURFACE, capacity=1, tariff=TARIFF)
        )
        await lots.add_spaces(ctx, op, lot.id, [SpaceIn(code="A1", lat=31.3, lon=121.5)])
        cam = await lots.add_device(ctx, op, DeviceIn(lot_id=lot.id, kind=DeviceKind.ANPR_CAMERA, name="c"))
        t = ctx.now - timedelta(minutes=5)
        read = AnprEventIn(event_id="e1", plate="沪A12345", direction=Direction.IN, ts=t, confidence=0.5)
        first = await events.ingest_anpr(ctx, lot.id, cam.id, read)
        second = await events.ingest_anpr(ctx, lot.id, cam.id, read)
        assert first.created and not second.created and second.session_id == first.session_id
        assert first.flagged  # below the 0.8 confidence threshold: queued for review
        (flag,) = await events.flags(ctx, op, unresolved_only=True, limit=10)
        assert flag.kind == "low_confidence" and flag.session_id == first.session_id

        newer = OccupancyEventIn(event_id="s2", space_code="A1", occupied=True, ts=t)
        older = OccupancyEventIn(event_id="s1", space_code="A1", occupied=False, ts=t - timedelta(minutes=1))
        assert (await events.ingest_occupancy(ctx, lot.id, None, newer)).applied
        late = await events.ingest_occupancy(ctx, lot.id, None, older)
        assert late.created and not late.applied  # kept for history, the space stays occupied
        resolved = await events.resolve_flag(ctx, op, flag.id, "read checked by hand")
        assert resolved.resolution == "read checked by hand" and resolved.resolved_at is not None
