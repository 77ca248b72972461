"""Trip planning and booking-from-a-plan: the planner, the parking center, and the caller.

A plan's itineraries carry an opaque, signed id (HMAC-SHA256 over the driver, the lot, the
planned arrival at the lot and the stay, with an expiry), so booking it needs no stored state
and works on any worker; a tampered, foreign or stale id is refused. The NumPy work runs in a
worker thread: the event loop only waits for it and for the parking center's queries.
"""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from core.errors import Conflict, Invalid, NotFound, Unavailable
from maas.network import Network
from maas.planner import Itinerary, LotCandidate, LotQuote, Planner, Point, rank
from parking.bookings.schemas import BookingIn, BookingOut
from parking.bookings.service import create_booking
from parking.identity.access import Principal, require
from parking.identity.schemas import Role
from parking.identity.service import driver_plates
from parking.search.quotes import all_lots, quote_stays
from parking.unit import Ctx

PLAN_VALID_S = 30 * 60  # a plan may be booked for this long after it was made
ARRIVE_BY_WINDOW = dt.timedelta(hours=3)  # how long before an arrive-by deadline trips may leave
ALL_MODES = {"walk", "transit", "car"}


@dataclass(frozen=True)
class PlanRequest:
    origin: Point
    dest: Point
    depart_at: dt.datetime | None
    arrive_by: dt.datetime | None
    modes: set[str]
    stay_minutes: int
    max_results: int
    charge_kwh: float | None = None  # an EV driver charging this much while parked


class ItinerarySigner:
    def __init__(self, key: str) -> None:
        self.key = key.encode()

    def _mac(self, body: bytes) -> str:
        return _b64(hmac.new(self.key, body, hashlib.sha256).digest()[:18])

    def sign(self, payload: dict[str, Any]) -> str:
        body = _b64(json.dumps(payload, separators=(",", ":"), sort_keys=True).encode())
        return f"{body}.{self._mac(body.encode())}"

    def open(self, token: str) -> dict[str, Any] | None:
        body, _, mac = token.partition(".")
        if not (mac and token.isascii()) or not hmac.compare_digest(mac, self._mac(body.encode())):
            return None
        try:
            payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except ValueError:
            return None
        return payload if isinstance(payload, dict) else None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def plan_trip(
    ctx: Ctx, net: Network | None, signer: ItinerarySigner, principal: Principal, req: PlanRequest
) -> dict[str, Any]:
    require(principal, Role.DRIVER)
    if net is None:
        raise Unavailable("no transport network has been imported (beidou maas import)", code="no_network")
    unknown = req.modes - ALL_MODES
    if unknown or not req.modes:
        raise Invalid(f"modes must be a non-empty subset of {sorted(ALL_MODES)}", code="bad_modes")
    planner = Planner(net)
    lots = [LotCandidate(str(lot.id), lot.name, lot.lat, lot.lon) for lot in await all_lots(ctx)]
    arrive_by = req.arrive_by
    depart = req.depart_at or ctx.now
    window_s = None
    if arrive_by is not None:
        # transit: every departure of the window before the deadline (range RAPTOR); trips
        # without a timetable are planned from the window's start, then moved to end on time
        depart, window_s = arrive_by - ARRIVE_BY_WINDOW, int(ARRIVE_BY_WINDOW.total_seconds())
    prepared = await asyncio.to_thread(planner.prepare, req.origin, req.dest, depart, lots, req.modes)
    quotes = await _quotes(ctx, {k: v for k, v in prepared.arrive.items() if _candidate(prepared, k)}, req)
    itineraries = await asyncio.to_thread(
        planner.plan, req.origin, req.dest, depart, req.modes, prepared, quotes, 50, window_s
    )
    if arrive_by is not None:
        itineraries = rank(
            await _leave_late(ctx, itineraries, arrive_by, req), req.max_results, leave_late=True
        )
    itineraries = itineraries[: req.max_results]
    reason = None
    if not itineraries:
        reason = (
            "no itinerary with the requested modes: no reachable stop or lot with a free space, "
            "nor a walk of at most 45 minutes" + (" arriving in time" if arrive_by else "")
        )
    expires = int(ctx.now.timestamp()) + PLAN_VALID_S
    out = []
    for it in itineraries:
        payload = {
            "v": 1,
            "d": str(principal.id),
            "l": it.lot_id,
            "p": it.park_at.astimezone(dt.UTC).isoformat() if it.park_at else None,
            "m": req.stay_minutes,
            "e": expires,
            "n": secrets.token_hex(4),
        }
        shown = it.as_json()
        if req.charge_kwh is not None and it.lot_id is not None:
            payload["c"] = 1  # booking it holds an EV space with a charger
            shown["charging"] = {"kwh": req.charge_kwh, "cost_included": True}
        out.append({"id": signer.sign(payload), **shown})
    return {"itineraries": out, "reason": reason}


async def _quotes(ctx: Ctx, arrivals: dict[str, dt.datetime], req: PlanRequest) -> dict[str, LotQuote]:
    quoted = await quote_stays(
        ctx, {uuid.UUID(k): v for k, v in arrivals.items()}, req.stay_minutes, req.charge_kwh
    )
    return {str(k): LotQuote(q.free_spaces, q.cost_fen) for k, q in quoted.items()}


async def _leave_late(
    ctx: Ctx, itineraries: list[Itinerary], arrive_by: dt.datetime, req: PlanRequest
) -> list[Itinerary]:
    """Keep what arrives in time; move timetable-free trips to arrive just on time, and quote
    their lot again for the later arrival (dropping it if no space is free then)."""
    out = []
    for it in itineraries:
        if it.end > arrive_by:
            continue
        if any(leg.mode == "transit" for leg in it.legs):
            out.append(it)
            continue
        late = it.shifted(arrive_by - it.end)
        if late.lot_id is not None and late.park_at is not None:
            quote = (await _quotes(ctx, {late.lot_id: late.park_at}, req)).get(late.lot_id)
            if quote is None or quote.free_spaces <= 0:
                continue
            late.cost_fen = quote.cost_fen
        out.append(late)
    return out


def _candidate(prepared: Any, lot_id: str) -> bool:
    return any(lot.id == lot_id for lot in (*prepared.near_dest, *prepared.park_ride))


async def book_itinerary(
    ctx: Ctx,
    signer: ItinerarySigner,
    principal: Principal,
    itinerary_id: str,
    plate: str | None,
    idempotency_key: str | None,
) -> tuple[BookingOut, bool]:
    require(principal, Role.DRIVER)
    payload = signer.open(itinerary_id)
    if payload is None or payload.get("d") != str(principal.id):
        raise NotFound("itinerary not found")
    if payload.get("l") is None:
        raise Invalid("this itinerary has no parking leg to book", code="nothing_to_book")
    if int(payload["e"]) < ctx.now.timestamp():
        raise Conflict(
            "the plan is too old to book; plan again", code="plan_expired", replan="/v1/trips/plan"
        )
    if plate is None:
        plates = await driver_plates(ctx, principal)
        if len(plates) != 1:
            raise Invalid("give the plate to book for (you have several or none)", code="plate_required")
        plate = plates[0].plate
    start = dt.datetime.fromisoformat(payload["p"])
    start = max(start, ctx.now)
    data = BookingIn(
        lot_id=uuid.UUID(payload["l"]),
        start=start,
        end=start + dt.timedelta(minutes=int(payload["m"])),
        plate=plate,
        charging=bool(payload.get("c")),
    )
    try:
        return await create_booking(ctx, principal, data, idempotency_key)
    except Conflict as exc:
        raise Conflict(
            "the itinerary's lot has no space left for the planned stay; plan again",
            code=exc.code,
            replan="/v1/trips/plan",
        ) from exc
    except NotFound as exc:
        raise Conflict(
            "the itinerary's lot is gone; plan again", code="lot_gone", replan="/v1/trips/plan"
        ) from exc
