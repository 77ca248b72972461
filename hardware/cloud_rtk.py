"""Cloud RTK for rovers that stream raw observations: the platform computes their fixes.

A rover connected to the receiver listener that sends RTCM MSM (and ephemerides) gets a session
in the RTK worker pool (:mod:`gnss.rtk.pool`). The base is whatever the caster's ``NEAREST``
mount gives for the rover's position: this module pulls it as an ordinary NTRIP client, sends
the rover's latest GGA (its own single-point fix at first, then its RTK fixes) so the caster
chooses - and when the rover moves, changes - the base, and hands the base's bytes to the same
session. The fixes come back to the listener, which stores them exactly as it stores a receiver's
own NMEA fixes.

Nothing here computes: the event loop only moves bytes and waits for answers; the filter runs in
the pool's processes.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from gnss.fixes import PositionFix
from gnss.ntrip.upstream import NtripPull, NtripUrl
from gnss.rtk.pool import RtkPool, SessionSpec
from hardware.rtk_stream_pool import RedisRtkPool

log = structlog.get_logger(__name__)


class BasePull(NtripPull):
    """The base stream of one rover session: every byte goes to that session."""

    def __init__(
        self,
        pool: RtkPool | RedisRtkPool,
        session: str,
        source: NtripUrl,
        link: RoverLink,
        gga_every_s: float,
    ):
        super().__init__(
            source.host,
            source.port,
            source.mount,
            source.user,
            source.password,
            version=source.version,
            gga=lambda: link.gga,
            gga_every_s=gga_every_s,
            max_backoff_s=30.0,
        )
        self.pool, self.session = pool, session

    def opened(self) -> None:
        # a new connection may bring another base, even one with the same station id
        self.pool.base_reset(self.session)

    def received(self, data: bytes) -> None:
        self.pool.base(self.session, data)


@dataclass
class CloudRtkStats:
    sessions: int = 0
    epochs_solved: int = 0
    fixes: dict[int, int] = field(default_factory=dict)  # GGA quality -> count
    not_after_previous: int = 0  # fixes not later than their session's previous one (must stay 0)

    def count(self, fixes: list[PositionFix]) -> None:
        for fix in fixes:
            self.fixes[fix.quality] = self.fixes.get(fix.quality, 0) + 1
        self.epochs_solved += len(fixes)


class CloudRtk:
    """The listener's side of cloud RTK: one :class:`RoverLink` per rover connection."""

    def __init__(
        self, pool: RtkPool | RedisRtkPool, source: NtripUrl, spec: SessionSpec, *, gga_every_s: float = 5.0
    ) -> None:
        self.pool, self.source, self.spec = pool, source, spec
        self.gga_every_s = gga_every_s
        self.stats = CloudRtkStats()
        self._ids = itertools.count(1)

    def open(self, name: str) -> RoverLink:
        self.stats.sessions += 1
        return RoverLink(self, f"{name}#{next(self._ids)}")


class RoverLink:
    """One rover's session: its RTCM bytes in, its fixes out; the base pulled once it has a position."""

    def __init__(self, cloud: CloudRtk, session: str) -> None:
        self.cloud = cloud
        self.session = session
        self.gga: str | None = None
        self.base: BasePull | None = None
        self.closing = False
        self.last_time: datetime | None = None
        cloud.pool.open(session, cloud.spec)
        log.info("cloud_rtk_session_open", session=session)

    async def feed(self, data: bytes) -> list[PositionFix]:
        answer = await self.cloud.pool.rover(self.session, data)
        return self._took(answer.fixes, answer.gga)

    async def close(self) -> list[PositionFix]:
        """The rover's stream ended: its last epoch, then the session and the base stream go
        (whatever happens to the last epoch)."""
        self.closing = True
        try:
            answer = await self.cloud.pool.flush(self.session)
            log.info("cloud_rtk_session_closed", session=self.session, stats=answer.stats)
            return self._took(answer.fixes, answer.gga)
        finally:
            if self.base is not None:
                await self.base.stop()
            self.cloud.pool.end(self.session)

    def _took(self, fixes: list[PositionFix], gga: str | None) -> list[PositionFix]:
        if gga:
            self.gga = gga
            if self.base is None and not self.closing:  # the first position: the caster can choose
                self.base = BasePull(
                    self.cloud.pool, self.session, self.cloud.source, self, self.cloud.gga_every_s
                )
                self.base.start()
        for fix in fixes:
            if self.last_time is not None and fix.time is not None and fix.time <= self.last_time:
                self.cloud.stats.not_after_previous += 1
            self.last_time = fix.time
        self.cloud.stats.count(fixes)
        return fixes
