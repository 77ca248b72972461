"""What the transit router answers (journeys of legs), and the labels it traces them back from.

Why typed labels: RAPTOR remembers, per round and stop, how the stop was reached, and reads it
back only to unpack the journeys found. ``maas.raptor`` builds a record for every stop a ride
improves in its scan loop (transfer records once per router), so they are NamedTuples: the
cheapest typed record to build, each field with a name and a type, and the kinds told apart by
their class (``match``) rather than by a string tag.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple

from maas.gtfs import Feed


class Access(NamedTuple):
    """A source stop, reached at the query time plus its delay (the walk to it, say)."""

    delay_s: int


class Transfer(NamedTuple):
    """Walked from ``from_stop`` in ``seconds``: transfers.txt or a footpath on the streets."""

    from_stop: int
    seconds: int


class Ride(NamedTuple):
    """Rode row ``row`` of the day's pattern ``pattern`` from stop position ``board`` to
    ``alight`` (positions along the pattern, not stop indices)."""

    pattern: int
    row: int
    board: int
    alight: int


Parent = Access | Transfer | Ride
Parents = dict[int, Parent]  # stop -> how one round's label there was reached


class LegMode(StrEnum):
    """The kind of a journey leg; the value is what the JSON says."""

    TRANSIT = "transit"  # riding one trip between two of its stops
    WALK = "walk"  # between two stops, along a transfer or footpath


@dataclass
class Leg:
    mode: LegMode
    from_stop: int
    to_stop: int
    departure: dt.datetime
    arrival: dt.datetime
    trip: int = -1  # feed trip index for transit legs

    def as_json(self, feed: Feed) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mode": self.mode.value,
            "from_stop": feed.stop_ids[self.from_stop],
            "to_stop": feed.stop_ids[self.to_stop],
            "departure": self.departure.isoformat(),
            "arrival": self.arrival.isoformat(),
            "duration_s": int((self.arrival - self.departure).total_seconds()),
        }
        if self.mode is LegMode.TRANSIT:
            route = int(feed.trip_route[self.trip])
            out["trip_id"] = feed.trip_ids[self.trip]
            out["route_id"] = feed.route_ids[route]
            out["route"] = feed.route_names[route]
        return out


@dataclass
class Journey:
    departure: dt.datetime  # leaving the origin (the first leg's departure, or the query time)
    arrival: dt.datetime  # at the destination, target delay included
    transfers: int
    legs: list[Leg] = field(default_factory=list)

    def as_json(self, feed: Feed) -> dict[str, Any]:
        return {
            "arrival": self.arrival.isoformat(),
            "departure": self.departure.isoformat(),
            "transfers": self.transfers,
            "legs": [leg.as_json(feed) for leg in self.legs],
        }
