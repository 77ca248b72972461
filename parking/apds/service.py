"""The APDS exports: which lots, spaces, tariffs, live counts and sessions a caller gets, in pages.

Pages are APDS's: ``offset`` and ``page_size`` over one ordering, and a reference instant (the
first call's clock, handed back by the client for the next pages) so that what was created later
does not shift the pages already read. Other rooms are read through their repositories and
services; the mapping to APDS objects is ``mapping``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from core.errors import Invalid
from parking.apds import mapping
from parking.apds.schemas import Element, PageMeta, PlacesPage, RatesPage, Session, SessionsPage
from parking.availability.service import LiveAvailability
from parking.geo import haversine_m
from parking.identity import repository as identity_repo
from parking.identity.access import Principal, operator_scope
from parking.lots import repository as lots_repo
from parking.lots.models import Lot
from parking.lots.service import lot_tariff
from parking.lots.states import GATE_COUNTED
from parking.sessions import repository as sessions_repo
from parking.sessions.models import ParkingSession
from parking.sessions.service import owed_fen
from parking.unit import Ctx

T = TypeVar("T")

MAX_PAGE_SIZE = 1000
DEFAULT_SESSION_WINDOW = timedelta(days=1)
MAX_SESSION_WINDOW = timedelta(days=7)
ELEMENT_TYPES = ("parkingPlace", "space")


@dataclass(frozen=True, slots=True)
class PageRequest:
    offset: int = 0
    page_size: int = 100
    reference_instant: int | None = None  # Unix seconds, from the first page's meta


@dataclass(frozen=True, slots=True)
class LotFilter:
    """Which lots an export covers: ids (APDS ``place``), a circle, a name."""

    places: frozenset[str] | None = None
    latitude: float | None = None
    longitude: float | None = None
    radius_m: float | None = None
    name: str | None = None

    def __post_init__(self) -> None:
        given = [v is not None for v in (self.latitude, self.longitude, self.radius_m)]
        if any(given) and not all(given):
            raise Invalid("latitude, longitude and radius go together", code="incomplete_area")

    def admits(self, lot: Lot) -> bool:
        if self.places is not None and str(lot.id) not in self.places:
            return False
        if self.name is not None and self.name.casefold() not in lot.name.casefold():
            return False
        if self.latitude is not None and self.longitude is not None and self.radius_m is not None:
            return haversine_m(self.latitude, self.longitude, lot.lat, lot.lon) <= self.radius_m
        return True


@dataclass(frozen=True, slots=True)
class SessionFilter:
    """APDS's session filters, instants in Unix seconds: started before/after, ended before/after."""

    start_before: int | None = None
    start_after: int | None = None
    end_before: int | None = None
    end_after: int | None = None


def _instant(seconds: int, name: str) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise Invalid(f"{name} is not a Unix time in seconds", code="invalid_instant") from exc


def _reference(ctx: Ctx, page: PageRequest) -> datetime:
    """The reference instant: this request's clock, or the first page's (whole seconds)."""
    if page.offset < 0 or not 1 <= page.page_size <= MAX_PAGE_SIZE:
        raise Invalid(f"offset must be >= 0 and page_size within 1..{MAX_PAGE_SIZE}", code="invalid_page")
    if page.reference_instant is None:
        return ctx.now.replace(microsecond=0)
    ref = _instant(page.reference_instant, "reference_instant")
    if ref > ctx.now:
        raise Invalid("reference_instant is in the future", code="invalid_page")
    return ref


def _cutoff(ref: datetime) -> datetime:
    """What was created before the end of the reference second is listed, on every page alike."""
    return ref + timedelta(seconds=1)


def _page(items: Sequence[T], page: PageRequest, ref: datetime) -> tuple[PageMeta, list[T]]:
    meta = PageMeta(
        reference_instant=int(ref.timestamp()), offset=page.offset, page_size=page.page_size, total=len(items)
    )
    return meta, list(items[page.offset : page.offset + page.page_size])


async def _lots(ctx: Ctx, ref: datetime, which: LotFilter) -> list[Lot]:
    """Every lot the filter admits that existed at the reference instant, oldest first."""
    lots = await lots_repo.lots_of_operator(ctx.db, None)
    return [lot for lot in lots if lot.created_at < _cutoff(ref) and which.admits(lot)]


async def places(
    ctx: Ctx,
    page: PageRequest,
    which: LotFilter,
    *,
    types: Sequence[str] | None = None,
    layer: int | None = None,
) -> PlacesPage:
    """Lots (layer 0) each followed by its spaces (layer 1). ``types`` and ``layer`` choose which
    elements are listed; the filter chooses the lots."""
    ref = _reference(ctx, page)
    unknown = set(types or ()) - set(ELEMENT_TYPES)
    if unknown:
        raise Invalid(f"unknown element types {sorted(unknown)}; we list {list(ELEMENT_TYPES)}")
    wanted = set(types or ELEMENT_TYPES)
    if layer is not None and layer < 1:
        wanted.discard("space")
    names = {op.id: op.name for op in await identity_repo.operators(ctx.db)}
    elements: list[Element] = []
    for lot in await _lots(ctx, ref, which):
        spaces = [s for s in await lots_repo.spaces_of_lot(ctx.db, lot.id) if s.created_at < _cutoff(ref)]
        if "parkingPlace" in wanted:
            elements.append(mapping.place(lot, spaces, names.get(lot.operator_id, "")))
        if "space" in wanted:
            elements.extend(mapping.space(lot, s) for s in spaces)
    meta, data = _page(elements, page, ref)
    return PlacesPage(meta=meta, data=data)


async def occupancy(ctx: Ctx, live: LiveAvailability, page: PageRequest, which: LotFilter) -> PlacesPage:
    """Each lot's live counts, from the availability room's snapshots (computed from the
    database, as everywhere else, while the live store is away)."""
    ref = _reference(ctx, page)
    meta, lots = _page(await _lots(ctx, ref, which), page, ref)
    snapshots = await live.read(ctx.db, lots, ctx.now)
    data: list[Element] = []
    for lot in lots:
        snap = snapshots[lot.id]
        # every space of a sensed lot is in exactly one of the four states
        counted = sum(int(snap[k]) for k in ("free_spaces", "occupied", "reserved", "out_of_service"))
        total = lot.capacity if lot.kind == GATE_COUNTED else counted
        data.append(mapping.occupancy(lot, total, snap))
    return PlacesPage(meta=meta, data=data)


async def rates(ctx: Ctx, page: PageRequest, which: LotFilter) -> RatesPage:
    """One rate table per lot: its tariff."""
    ref = _reference(ctx, page)
    meta, lots = _page(await _lots(ctx, ref, which), page, ref)
    return RatesPage(meta=meta, data=[mapping.rate_table(lot, lot_tariff(lot)) for lot in lots])


def _window(ref: datetime, when: SessionFilter) -> tuple[datetime, datetime]:
    """The stretch of time whose overlapping sessions are read: [end_after, start_before), by
    default the day up to the reference instant; at most ``MAX_SESSION_WINDOW`` per request."""
    end = _cutoff(ref)
    if when.start_before is not None:
        end = min(end, _instant(when.start_before, "start_before"))
    if when.end_after is not None:
        start = _instant(when.end_after, "end_after")
    elif when.start_after is not None:
        start = _instant(when.start_after, "start_after")
    else:
        start = end - DEFAULT_SESSION_WINDOW
    if end - start > MAX_SESSION_WINDOW:
        raise Invalid(
            f"at most {MAX_SESSION_WINDOW.days} days of sessions per request: "
            "narrow it with end_after/start_after and start_before",
            code="window_too_long",
        )
    return start, end


def _admitted(row: ParkingSession, ref: datetime, when: SessionFilter) -> bool:
    assert row.entry_ts is not None
    if row.created_at >= _cutoff(ref):
        return False
    if when.start_after is not None and row.entry_ts < _instant(when.start_after, "start_after"):
        return False
    if when.end_before is not None:
        return row.exit_ts is not None and row.exit_ts < _instant(when.end_before, "end_before")
    return True


async def sessions(
    ctx: Ctx, principal: Principal, page: PageRequest, places_: frozenset[str] | None, when: SessionFilter
) -> SessionsPage:
    """Sessions of the caller's lots (an admin: every lot) that overlap the window, by entry.

    An exit read without an entry (kept as a flagged session for operators) is no stay and has no
    APDS start: it is not exported.
    """
    scope = operator_scope(principal)
    ref = _reference(ctx, page)
    start, end = _window(ref, when)
    lots = [lot for lot in await lots_repo.lots_of_operator(ctx.db, scope) if LotFilter(places_).admits(lot)]
    grace = timedelta(minutes=ctx.settings.exit_after_payment_min)
    rows: list[tuple[datetime, uuid.UUID, Session]] = []
    for lot in lots:
        tariff = lot_tariff(lot)
        for row in await sessions_repo.sessions_overlapping(ctx.db, lot.id, start, end):
            if not _admitted(row, ref, when):
                continue
            assert row.entry_ts is not None
            fee = owed_fen(row, tariff, ctx.now, grace)
            stay = mapping.session(
                session_id=row.id,
                lot_id=lot.id,
                operator_id=lot.operator_id,
                plate_hash=row.plate_hash,
                entry=row.entry_ts,
                exit=row.exit_ts,
                fee_fen=fee,
                booking_id=row.booking_id,
            )
            rows.append((row.entry_ts, row.id, stay))
    rows.sort(key=lambda r: (r[0], str(r[1])))
    meta, data = _page([stay for _, _, stay in rows], page, ref)
    return SessionsPage(meta=meta, data=data)
