"""Which base a rover of the virtual ``NEAREST`` mountpoint is served: pure geometry and rules.

The rules are pure functions (no I/O, no clock). :class:`NearestRoll` applies them for the caster
(``gnss.ntrip.caster``, which owns the sockets): it keeps which base serves each rover and moves
rovers between the bases' fan-out sets when a rover's GGA arrives, when a source goes away and
on a periodic check; its clock is the caster's.

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

import asyncio
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

import structlog

from gnss.ntrip.mounts import StreamStats

log = structlog.get_logger(__name__)

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


# --- the caster's bookkeeping ------------------------------------------------------------------


class Rover(Protocol):
    """What the roll reads and sets on a rover's connection (the caster's ``Client``)."""

    position: LatLon | None  # from its latest GGA
    serving: str | None  # the base whose fan-out it is in
    switches: int
    closed: bool
    user: str | None


R = TypeVar("R", bound=Rover)


class Base(Protocol[R]):
    """A mount as the roll sees it (the caster's ``Mount``): its stream and its fan-out set."""

    @property
    def name(self) -> str: ...
    @property
    def stats(self) -> StreamStats: ...
    @property
    def live(self) -> Callable[[], bool] | None: ...  # set on virtual mounts, never candidates
    @property
    def online(self) -> bool: ...
    @property
    def clients(self) -> set[R]: ...


class NearestRoll(Generic[R]):
    """The rovers of ``NEAREST`` and the base each one is served, re-chosen by the rules above.

    ``bases`` is the caster's live mapping of mounts (read on every decision, so mounts that come
    and go are seen at once) and ``rovers`` the ``NEAREST`` mount's own client set. A rover sits in
    its base's fan-out set, and fan-out is synchronous, so a move happens between two frames of
    either base. While rovers are on, :meth:`start` keeps a periodic check every
    ``policy.check_every_s``: it leaves silent bases and re-chooses for every rover when the set of
    live bases changed; GGA-driven choices happen as GGA arrive (:meth:`place`).
    """

    def __init__(
        self,
        policy: NearestPolicy,
        bases: Mapping[str, Base[R]],
        rovers: set[R],
        clock: Callable[[], float],
    ) -> None:
        self.policy = policy
        self.rovers = rovers
        self._bases = bases
        self._clock = clock
        self._live_names: frozenset[str] = frozenset()
        self._task: asyncio.Task[None] | None = None

    def live_bases(self) -> dict[str, LatLon]:
        """Name -> ARP lat/lon of every mount that may serve NEAREST rovers now."""
        now = self._clock()
        out = {}
        for name, m in self._bases.items():
            s = m.stats
            position = (s.lat, s.lon) if s.lat is not None and s.lon is not None else None
            if m.live is None and is_live(m.online, position, s.age_s(now), self.policy):
                assert position is not None
                out[name] = position
        return out

    def any_live(self) -> bool:
        """Is NEAREST online (some base may serve it)?"""
        return bool(self.live_bases())

    def place(self, rover: R, live: dict[str, LatLon] | None = None) -> None:
        """(Re)choose a rover's base from its latest position; move it if the rule says so."""
        if rover.closed or rover.position is None:
            return
        live = self.live_bases() if live is None else live
        choice = choose_base(rover.position, live, rover.serving, self.policy)
        if choice != rover.serving:
            self.move(rover, choice)

    def move(self, rover: R, to: str | None) -> None:
        """Take the rover out of one base's fan-out and into another's (None: out of all)."""
        before = rover.serving
        if before is not None and before in self._bases:
            self._bases[before].clients.discard(rover)
        rover.serving = to
        if to is not None:
            self._bases[to].clients.add(rover)
            if before is not None:
                rover.switches += 1
        if not rover.closed:
            log.info("ntrip_nearest_base", user=rover.user, base=to, previous=before)

    def source_gone(self, base: Base[R]) -> None:
        """A base's source disconnected: its rovers fail over now, not at the next check."""
        live = self.live_bases()
        for rover in list(base.clients):
            if rover.serving == base.name:
                self.place(rover, live)

    def check(self) -> None:
        """The periodic re-evaluation (also callable at any time)."""
        live = self.live_bases()
        changed = frozenset(live) != self._live_names
        self._live_names = frozenset(live)
        for rover in list(self.rovers):
            if changed or rover.serving not in live:
                self.place(rover, live)

    def start(self) -> None:
        """Run the periodic check until no rover is left (a rover just joined)."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._checks())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _checks(self) -> None:
        while True:
            await asyncio.sleep(self.policy.check_every_s)
            if not self.rovers:
                break
            self.check()
        self._task = None
