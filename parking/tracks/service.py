"""GNSS fixes of receivers into smoothed, thinned tracks, latest positions, and parking evidence.

Every path a receiver's bytes take (HTTP body, TCP listener, agent, replay) ends in
``ingest_stream``: frame, assemble fixes, smooth, store at most one point per receiver and second,
publish the latest position, and - for RTK-fixed vehicles standing still in a space - record
occupancy evidence (source ``gnss``, never over a newer sensor state) and check in the plate's
booking of that space.

Smoothing and dwell state live in one ``PositionTracker`` per process: fixes of one receiver that
reach different worker processes are smoothed separately (the TCP listener keeps a receiver on
one process; HTTP clients should keep their connection).
"""

from __future__ import annotations

import math
import uuid
from collections import Counter, OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import structlog

from core.errors import Forbidden, Invalid, NotFound
from core.live import LiveStore, LiveStoreUnavailable
from gnss.fixes import FixAssembler, PositionFix
from gnss.framer import FramerStats, StreamFramer
from gnss.placement import DwellTracker, place_fix
from gnss.quality import METRIC_LABELS, OTHER_LABEL, FixQuality, metric_label
from gnss.smoother import TrackSmoother, measurement_sigma
from parking.bookings import service as bookings
from parking.events.schemas import EvidenceSource, OccupancyEventIn
from parking.events.service import ingest_occupancy
from parking.geo import bounding_box, haversine_m
from parking.identity import service as identity
from parking.identity.access import Principal, require
from parking.identity.schemas import DeviceKind, Role
from parking.lots import repository as lots_repo
from parking.lots.models import Space
from parking.tracks import repository as repo
from parking.unit import Ctx

log = structlog.get_logger(__name__)

SPACE_SEARCH_M = 25.0
FUTURE_TOLERANCE = timedelta(minutes=2)


def latest_key(receiver_id: uuid.UUID) -> str:
    return f"gnss:latest:{receiver_id}"


def fixes_counter_key(label: str) -> str:
    return f"gnss:fixes_total:{label}"


FIX_COUNTER_LABELS = (*METRIC_LABELS.values(), OTHER_LABEL)


async def count_stored_fixes(live: LiveStore, counts: Counter[str]) -> None:
    """District-wide counters of stored fixes by quality, in the live store so that every process
    that stores fixes (API, receiver listener) adds to the figures ``/metrics`` shows. Counters,
    not truths: they restart from zero with a new live store, as Prometheus counters may."""
    try:
        for label, n in counts.items():
            await live.incr(fixes_counter_key(label), n)
    except LiveStoreUnavailable:
        log.warning("gnss_fix_counters_not_updated", counts=dict(counts))


async def stored_fix_counts(live: LiveStore) -> dict[str, int] | None:
    """The counters by quality label (None when the live store is away)."""
    try:
        values = await live.get_json_many([fixes_counter_key(label) for label in FIX_COUNTER_LABELS])
    except LiveStoreUnavailable:
        return None
    return {label: int(v or 0) for label, v in zip(FIX_COUNTER_LABELS, values, strict=True)}


@dataclass(frozen=True, slots=True)
class Receiver:
    """Who sends: an operator's roadside device (bound to a lot) or a vehicle's (bound to a plate)."""

    id: uuid.UUID
    lot_id: uuid.UUID | None
    plate: str | None


def receiver_of(principal: Principal) -> Receiver:
    require(principal, Role.DEVICE)
    if principal.device_kind != DeviceKind.GNSS_RECEIVER:
        raise Forbidden("this endpoint is for gnss_receiver devices")
    assert principal.id is not None
    return Receiver(principal.id, principal.lot_id, principal.plate)


class PositionTracker:
    """Filter slots for the receivers seen lately (least recently used are recycled)."""

    def __init__(self, capacity: int = 10_000, dwell_s: float = 30.0) -> None:
        self.smoother = TrackSmoother(capacity)
        self.dwell: DwellTracker[uuid.UUID] = DwellTracker(dwell_s=dwell_s)
        self._slots: OrderedDict[uuid.UUID, int] = OrderedDict()
        self._capacity = capacity

    def slot(self, receiver_id: uuid.UUID) -> int:
        if receiver_id in self._slots:
            self._slots.move_to_end(receiver_id)
            return self._slots[receiver_id]
        if len(self._slots) < self._capacity:
            index = len(self._slots)
        else:
            _, index = self._slots.popitem(last=False)
            self.smoother.reset(np.array([index]))
        self._slots[receiver_id] = index
        return index


@dataclass
class IngestResult:
    accepted: int = 0  # sentences read
    rejected: int = 0  # sentences refused (checksum, unreadable)
    rtcm_frames: int = 0
    bytes_skipped: int = 0
    fixes: int = 0
    outliers: int = 0
    stored: int = 0
    evidence: list[str] = field(default_factory=list)  # space ids confirmed by dwell

    def add_stats(self, stats: FramerStats) -> None:
        self.accepted += sum(stats.nmea.values())
        self.rejected += sum(stats.nmea_unparsed.values())
        self.rtcm_frames += sum(stats.rtcm.values())
        self.bytes_skipped += stats.bytes_skipped


def fix_time(fix: PositionFix, now: datetime) -> datetime:
    """The fix's UTC time; a stream that never told the date gets the day that puts it nearest now."""
    if fix.time is not None:
        return fix.time
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    candidates = [midnight + timedelta(days=d, seconds=fix.tod) for d in (-1, 0, 1)]
    return min(candidates, key=lambda t: abs((t - now).total_seconds()))


async def ingest_bytes(
    ctx: Ctx, receiver: Receiver, data: bytes, tracker: PositionTracker, live: LiveStore
) -> IngestResult:
    """One self-contained body of receiver output (an HTTP request)."""
    framer, assembler = StreamFramer(), FixAssembler()
    fixes: list[PositionFix] = []
    for record in [*framer.feed(data), *framer.flush()]:
        fixes += assembler.push(record)
    fixes += assembler.flush()
    result = IngestResult()
    result.add_stats(framer.stats)
    await ingest_fixes(ctx, receiver, fixes, tracker, live, result)
    return result


async def ingest_fixes(
    ctx: Ctx,
    receiver: Receiver,
    fixes: list[PositionFix],
    tracker: PositionTracker,
    live: LiveStore,
    result: IngestResult,
) -> None:
    timed = sorted(((fix_time(f, ctx.now), f) for f in fixes), key=lambda x: x[0])
    timed = [(t, f) for t, f in timed if t <= ctx.now + FUTURE_TOLERANCE]
    result.fixes += len(timed)
    if not timed:
        return
    slot = tracker.slot(receiver.id)
    rows: list[dict[str, Any]] = []
    last_second: datetime | None = None
    placements: list[tuple[datetime, float, float, np.ndarray, bool]] = []
    latest: dict[str, Any] | None = None
    for t, fix in timed:
        out = _smooth(tracker, slot, t, fix)
        if out is None:
            result.outliers += 1
            continue
        lat, lon, cov_en, speed = out
        second = t.replace(microsecond=0)
        if second != last_second:  # thinning: the first fix of each second is kept
            last_second = second
            rows.append(
                {
                    "receiver_id": receiver.id,
                    "ts": second,
                    "lat": fix.lat,
                    "lon": fix.lon,
                    "height": fix.height,
                    "quality": fix.quality,
                    "satellites": fix.satellites,
                    "hdop": fix.hdop,
                    "sigma_h": math.sqrt(max(float(cov_en[0, 0] + cov_en[1, 1]), 0.0)),
                    "smoothed_lat": lat,
                    "smoothed_lon": lon,
                    "speed_m_s": speed,
                }
            )
        latest = {
            "ts": t.isoformat(),
            "lat": lat,
            "lon": lon,
            "height": fix.height,
            "quality": fix.quality,
            "speed_m_s": speed,
            "sigma_h_m": rows[-1]["sigma_h"] if rows else None,
        }
        placements.append((t, lat, lon, cov_en, fix.quality == FixQuality.RTK_FIXED))
    stored = await repo.add_track_points(ctx.db, rows)
    result.stored += len(stored)
    if stored:
        counts = Counter(metric_label(q) for q in stored)
        ctx.after_commit.append(lambda: count_stored_fixes(live, counts))
    await _place(ctx, receiver, placements, tracker, result)
    if latest is not None:
        try:
            await live.set_json(latest_key(receiver.id), latest)
        except LiveStoreUnavailable:  # the track is stored; the latest position comes back with the store
            log.warning("gnss_latest_not_published", receiver=str(receiver.id))


def _smooth(
    tracker: PositionTracker, slot: int, t: datetime, fix: PositionFix
) -> tuple[float, float, np.ndarray, float] | None:
    gst = (
        None
        if fix.sigma_lat is None or fix.sigma_lon is None
        else np.array(
            [[fix.sigma_lat, fix.sigma_lon, fix.sigma_height or 2 * max(fix.sigma_lat, fix.sigma_lon)]]
        )
    )
    sigma = measurement_sigma(
        np.array([fix.quality]), np.array([fix.hdop if fix.hdop is not None else 1.0]), gst
    )
    out = tracker.smoother.update(
        np.array([slot]),
        np.array([t.timestamp()]),
        np.array([fix.lat]),
        np.array([fix.lon]),
        np.array([fix.height if fix.height is not None else 0.0]),
        sigma,
    )
    if not bool(out.accepted[0]):
        return None
    velocity = out.velocity[0]
    return (
        float(out.lat[0]),
        float(out.lon[0]),
        np.asarray(out.position_cov[0][:2, :2]),
        float(math.hypot(velocity[0], velocity[1])),
    )


async def _place(
    ctx: Ctx,
    receiver: Receiver,
    placements: list[tuple[datetime, float, float, np.ndarray, bool]],
    tracker: PositionTracker,
    result: IngestResult,
) -> None:
    """RTK-fixed fixes to spaces; a dwell long enough becomes occupancy evidence and a check-in."""
    fixed = [p for p in placements if p[4]]
    spaces: dict[uuid.UUID, Space] = {}
    if fixed:
        lats = [p[1] for p in fixed]
        lons = [p[2] for p in fixed]
        lat0, lon0 = (min(lats) + max(lats)) / 2, (min(lons) + max(lons)) / 2
        span = max(haversine_m(lat0, lon0, la, lo) for la, lo in zip(lats, lons, strict=True))
        box = bounding_box(lat0, lon0, span + SPACE_SEARCH_M)
        spaces = {s.id: s for s in await lots_repo.spaces_in_box(ctx.db, box) if _ring(s.polygon) is not None}
    rings = {sid: ring for sid, s in spaces.items() if (ring := _ring(s.polygon)) is not None}
    for t, lat, lon, cov_en, rtk_fixed in placements:
        space_id = place_fix(lat, lon, cov_en, rings) if rtk_fixed and rings else None
        if tracker.dwell.update(receiver.id, t.timestamp(), space_id, rtk_fixed) is None or space_id is None:
            continue
        stay = tracker.dwell.current(receiver.id)
        since = stay[1] if stay else t.timestamp()
        space = spaces[space_id]
        event = OccupancyEventIn(
            event_id=f"gnss:{receiver.id}:{space.id}:{int(since)}",
            space_code=space.code,
            occupied=True,
            ts=t,
        )
        device_id = receiver.id if receiver.lot_id is not None else None
        await ingest_occupancy(ctx, space.lot_id, device_id, event, source=EvidenceSource.GNSS)
        result.evidence.append(str(space.id))
        log.info("gnss_space_evidence", receiver=str(receiver.id), space=str(space.id), dwell_from=int(since))
        if receiver.plate is not None:
            await bookings.check_in_on_space(ctx, space, receiver.plate, t)


def _ring(polygon: dict[str, Any] | None) -> list[tuple[float, float]] | None:
    """The outer ring of a GeoJSON Polygon as (lon, lat) pairs."""
    if not polygon or polygon.get("type") != "Polygon":
        return None
    rings = polygon.get("coordinates") or []
    if not rings or len(rings[0]) < 4:
        return None
    return [(float(p[0]), float(p[1])) for p in rings[0]]


# --- reading --------------------------------------------------------------------------------------


async def visible_receiver(ctx: Ctx, principal: Principal, receiver_id: uuid.UUID) -> uuid.UUID:
    """A receiver the caller may read: the operator's own device, the driver's own vehicle receiver."""
    if principal.role == Role.OPERATOR:
        if principal.id is not None and await identity.device_owner(ctx, receiver_id) == principal.id:
            return receiver_id
    elif principal.role == Role.DRIVER:
        if principal.id is not None and await identity.receiver_owner(ctx, receiver_id) == principal.id:
            return receiver_id
    elif principal.role == Role.ADMIN:
        if await identity.device_owner(ctx, receiver_id) or await identity.receiver_owner(ctx, receiver_id):
            return receiver_id
    else:
        raise Forbidden("tracks are for operators and drivers")
    raise NotFound("receiver not found")


MAX_TRACK_POINTS = 86_400


async def track_geojson(
    ctx: Ctx, principal: Principal, receiver_id: uuid.UUID, start: datetime | None, end: datetime | None
) -> dict[str, Any]:
    """The stored track as a GeoJSON Feature (smoothed LineString) with per-point properties."""
    rid = await visible_receiver(ctx, principal, receiver_id)
    if start is None and end is None:
        # no window asked: the receiver's last hour of data (a vehicle parked since yesterday, or
        # a replayed capture, still shows its last trip rather than an empty hour)
        last = await repo.last_track_point(ctx.db, rid)
        end = ctx.now if last is None else min(ctx.now, last.ts + timedelta(seconds=1))
    end = end or ctx.now
    start = start or end - timedelta(hours=1)
    if start >= end:
        raise Invalid("'from' must be before 'to'")
    points = await repo.track_between(ctx.db, rid, start, end, MAX_TRACK_POINTS)
    return {
        "type": "Feature",
        "geometry": {"type": "LineString", "coordinates": [[p.smoothed_lon, p.smoothed_lat] for p in points]},
        "properties": {
            "receiver_id": str(rid),
            "from": start.isoformat(),
            "to": end.isoformat(),
            "count": len(points),
            "truncated": len(points) == MAX_TRACK_POINTS,
            "times": [p.ts.isoformat() for p in points],
            "quality": [p.quality for p in points],
            "raw": [[p.lon, p.lat, p.height] for p in points],
            "sigma_h_m": [p.sigma_h for p in points],
            "speed_m_s": [p.speed_m_s for p in points],
        },
    }


async def latest_position(
    ctx: Ctx, principal: Principal, receiver_id: uuid.UUID, live: LiveStore
) -> dict[str, Any]:
    rid = await visible_receiver(ctx, principal, receiver_id)
    try:
        (value,) = await live.get_json_many([latest_key(rid)])
    except LiveStoreUnavailable:
        value = None
    if value is None:  # from the stored track when the live store has nothing (or is away)
        p = await repo.last_track_point(ctx.db, rid)
        if p is None:
            raise NotFound("no position yet", code="no_position")
        value = {
            "ts": p.ts.isoformat(),
            "lat": p.smoothed_lat,
            "lon": p.smoothed_lon,
            "height": p.height,
            "quality": p.quality,
            "speed_m_s": p.speed_m_s,
            "sigma_h_m": p.sigma_h,
        }
    return {"receiver_id": str(rid), **value}
