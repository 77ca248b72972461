"""Retention: plates are personal data, kept in clear only as long as the operation needs them.

Past the retention period a closed session, its plate reads, finished bookings and receivables keep only the
keyed hash of the plate, which still lets statistics count returning vehicles without naming them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import timedelta

import structlog

from parking.bookings import repository as bookings_repo
from parking.events import repository as events_repo
from parking.sessions import repository as sessions_repo
from parking.unit import Ctx

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class PurgeReport:
    sessions: int
    anpr_events: int
    bookings: int
    receivables: int


async def purge(ctx: Ctx, retention_days: int | None = None) -> PurgeReport:
    days = retention_days if retention_days is not None else ctx.settings.retention_days
    before = ctx.now - timedelta(days=days)
    sessions = await sessions_repo.purgeable_sessions(ctx.db, before)
    for s in sessions:
        s.plate = None
    events = await events_repo.purgeable_anpr_events(ctx.db, before)
    for e in events:
        e.plate = None
    bookings = await bookings_repo.purgeable_bookings(ctx.db, before)
    for b in bookings:
        b.plate = None
    receivables = await sessions_repo.purgeable_receivables(ctx.db, before)
    for r in receivables:  # a debt stays collectable: the driver's plates match its keyed hash
        r.plate = None
    await ctx.flush()
    report = PurgeReport(len(sessions), len(events), len(bookings), len(receivables))
    log.info("privacy_purge", retention_days=days, **asdict(report))
    return report
