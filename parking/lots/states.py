"""What state a space is in for a driver, now or at a future instant.

Within ``SENSOR_HORIZON`` a sensor's "occupied" still describes the space; beyond it we only know
bookings (a parked car's departure time is unknown). Gate-counted garages are counted, not sensed.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta

from parking.lots.models import Space
from parking.lots.schemas import LotKind, SpaceState
from parking.lots.sharing import open_at

SENSOR_HORIZON = timedelta(minutes=15)
GATE_COUNTED = LotKind.GARAGE


def space_state(space: Space, booked: bool, at: datetime, now: datetime) -> SpaceState:
    """The state a driver should see: out_of_service > occupied > reserved > free."""
    if space.out_of_service or (space.shared_windows and not open_at(space.shared_windows, at)):
        return SpaceState.OUT_OF_SERVICE
    if space.occupied and at - now <= SENSOR_HORIZON:
        return SpaceState.OCCUPIED
    if booked:
        return SpaceState.RESERVED
    return SpaceState.FREE


def space_states(
    spaces: Sequence[Space], booked: Collection[uuid.UUID | None], at: datetime, now: datetime
) -> dict[uuid.UUID, SpaceState]:
    """``booked``: the spaces a live booking holds at ``at``."""
    return {s.id: space_state(s, s.id in booked, at, now) for s in spaces}
