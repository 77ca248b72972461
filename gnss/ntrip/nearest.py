"""Which base a rover of the virtual ``NEAREST`` mountpoint is served: pure geometry and rules.

The caster (``gnss.ntrip.caster``) owns the sockets and calls these functions when a rover's GGA
arrives, when a source goes away and on a periodic check; nothing here does I/O or reads a clock.

**Candidates.** A base is a candidate while it is *live*: its source is connected, it has sent an
ARP (1005/1006, so its position is known) and its last frame is at most ``silent_after_s`` old.

**Hysteresis.** A rover on a live base moves to another one only when that one is *much* closer:
at most ``switch_ratio`` times the current distance **and** at least ``switch_min_gain_m`` closer.
The ratio keeps a rover crossing the midpoint between two bases from flapping (each switch costs
it an RTK ambiguity re-fix); the absolute gain keeps small distances (a rover 300 m from one base
and 150 m from another) from counting as "much closer". With the defaults (0.75, 2 km), a rover
driving from base A to base B 10 km away switches 6 km out of A, 1 km past the midpoint, and
does not switch back until it is 6 km from B on the way back.

**Failover.** A rover whose base is not live any more (silent, disconnected, or its ARP unknown)
takes the nearest live base at once, without hysteresis. The caster re-evaluates on a source's
disconnection immediately and otherwise every ``check_every_s``, so a base that falls silent is
left at most ``silent_after_s + check_every_s`` (1.5 s by default) after its last frame. The
default silence of 1.25 s leaves a base sending one epoch a second (the usual rate) 250 ms of
network jitter before it counts as silent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

EARTH_RADIUS_M = 6_371_008.8  # IUGG mean radius: haversine error < 0.5 %, plenty to rank bases

LatLon = tuple[float, float]  # degrees


@dataclass(frozen=True, slots=True)
class NearestPolicy:
    switch_ratio: float = 0.75  # the other base is at most this fraction of the current distance ...
    switch_min_gain_m: float = 2_000.0  # ... and at least this much closer
    silent_after_s: float = 1.25  # no frame for longer than this: the base is not live
    check_every_s: float = 0.25  # the caster's periodic re-evaluation

    def __post_init__(self) -> None:
        if not 0.0 < self.switch_ratio <= 1.0:
            raise ValueError("switch_ratio is in (0, 1]")
        if self.switch_min_gain_m < 0 or self.silent_after_s <= 0 or self.check_every_s <= 0:
            raise ValueError("distances and times are positive")


def distance_m(a: LatLon, b: LatLon) -> float:
    """Great-circle (haversine) distance between two lat/lon points, in metres."""
    lat1, lon1 = math.radians(a[0]), math.radians(a[1])
    lat2, lon2 = math.radians(b[0]), math.radians(b[1])
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def is_live(online: bool, position: LatLon | None, age_s: float | None, policy: NearestPolicy) -> bool:
    """May a base serve ``NEAREST`` rovers now? (connected, ARP known, a frame recently)."""
    return online and position is not None and age_s is not None and age_s <= policy.silent_after_s


def much_closer(current_m: float, candidate_m: float, policy: NearestPolicy) -> bool:
    """The hysteresis rule: is the candidate worth leaving the current base for?"""
    return (
        candidate_m <= policy.switch_ratio * current_m and current_m - candidate_m >= policy.switch_min_gain_m
    )


def choose_base(
    rover: LatLon, bases: Mapping[str, LatLon], current: str | None, policy: NearestPolicy
) -> str | None:
    """The base the rover should be served now: ``bases`` are the live ones (name -> ARP lat/lon),
    ``current`` the base serving it (None, or a base not in ``bases``, when it has none that is
    live). None when there is no live base. Equal distances go to the first name, so the answer
    does not depend on the mapping's order."""
    if not bases:
        return None
    distances = {name: distance_m(rover, pos) for name, pos in bases.items()}
    best = min(distances, key=lambda name: (distances[name], name))
    if current is None or current not in distances or current == best:
        return best
    return best if much_closer(distances[current], distances[best], policy) else current
