"""Sentences of one epoch into one position fix.

A receiver spreads an epoch over several sentences: GGA (or GNS) has the position but only the time
of day, RMC/ZDA carry the date, GST the receiver's own error estimate - and GST often comes last,
after the satellites in view. So a fix is held until its epoch is over (a sentence of another time
arrives) or the stream is flushed, then emitted with everything its epoch had.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from gnss.nmea import Gga, Gns, Gst, Rmc, Zda

HALF_DAY = 43_200.0


@dataclass(frozen=True, slots=True)
class PositionFix:
    tod: float  # seconds of the UTC day, as sent
    time: datetime | None  # UTC, when the stream has told the date (RMC/ZDA) or a default day was given
    lat: float
    lon: float
    height: float | None  # ellipsoidal, metres
    quality: int  # 0-8 as in GGA
    satellites: int | None
    hdop: float | None
    age_diff: float | None
    station_id: str | None
    sigma_lat: float | None = None  # metres, from GST
    sigma_lon: float | None = None
    sigma_height: float | None = None
    talker: str = "GN"


def _at(day: date, tod: float) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC) + timedelta(seconds=tod)


class FixAssembler:
    """Feed it every record of a stream (others are ignored); it returns finished fixes."""

    def __init__(self, default_day: date | None = None) -> None:
        self._pending: PositionFix | None = None
        self._gst: Gst | None = None
        self._day: date | None = default_day
        self._day_tod: float | None = None
        self.no_fix = 0  # GGA/GNS epochs without a position (quality 0)

    def push(self, record: object) -> list[PositionFix]:
        out: list[PositionFix] = []
        if isinstance(record, (Gga, Gns)):
            self._close_if_other_epoch(record.tod, out)
            if self._pending is None or self._pending.tod != record.tod:
                fix = _fix(record)
                if fix is None:
                    self.no_fix += 1
                else:
                    self._pending = self._with_gst(fix)
        elif isinstance(record, Gst):
            if self._pending is not None and self._pending.tod == record.tod:
                self._pending = _sigmas(self._pending, record)
            else:
                self._close_if_other_epoch(record.tod, out)
                self._gst = record
        elif isinstance(record, (Rmc, Zda)):
            self._close_if_other_epoch(record.tod, out)
            if record.day is not None and record.tod is not None:
                self._day, self._day_tod = record.day, record.tod
        return out

    def flush(self) -> list[PositionFix]:
        out: list[PositionFix] = []
        self._emit(out)
        return out

    def _close_if_other_epoch(self, tod: float | None, out: list[PositionFix]) -> None:
        if self._pending is not None and tod is not None and tod != self._pending.tod:
            self._emit(out)

    def _with_gst(self, fix: PositionFix) -> PositionFix:
        if self._gst is not None and self._gst.tod == fix.tod:
            return _sigmas(fix, self._gst)
        return fix

    def _emit(self, out: list[PositionFix]) -> None:
        fix, self._pending = self._pending, None
        if fix is None:
            return
        if self._day is not None:
            day = self._day
            if self._day_tod is not None:  # the date was read at another time of day: midnight?
                if fix.tod - self._day_tod > HALF_DAY:
                    day -= timedelta(days=1)
                elif self._day_tod - fix.tod > HALF_DAY:
                    day += timedelta(days=1)
            fix = replace(fix, time=_at(day, fix.tod))
        out.append(fix)


def _fix(r: Gga | Gns) -> PositionFix | None:
    quality = r.quality
    if quality == 0 or r.lat is None or r.lon is None or r.tod is None:
        return None
    return PositionFix(
        tod=r.tod,
        time=None,
        lat=r.lat,
        lon=r.lon,
        height=r.height,
        quality=quality,
        satellites=r.satellites,
        hdop=r.hdop,
        age_diff=r.age_diff,
        station_id=r.station_id,
        talker=r.talker,
    )


def _sigmas(fix: PositionFix, gst: Gst) -> PositionFix:
    return replace(fix, sigma_lat=gst.sigma_lat, sigma_lon=gst.sigma_lon, sigma_height=gst.sigma_height)
