"""gnss.ntrip.nearest.NearestRoll: the NEAREST bookkeeping and timing without sockets.

Bases and rovers are small stand-ins for the caster's ``Mount`` and ``Client`` (an ARP and a
last-frame time set by hand), and the clock is a variable the test moves."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from gnss.ntrip.mounts import StreamStats
from gnss.ntrip.nearest import NearestPolicy, NearestRoll

POLICY = NearestPolicy(check_every_s=0.01)
WEST, MIDDLE, EAST = (31.0, 121.0), (31.0, 121.5), (31.0, 122.0)  # ~48 km apart


@dataclass(eq=False)
class Rover:
    position: tuple[float, float] | None = None
    serving: str | None = None
    switches: int = 0
    closed: bool = False
    user: str | None = "rover"


@dataclass
class Mount:
    name: str
    stats: StreamStats = field(default_factory=StreamStats)
    clients: set[Rover] = field(default_factory=set)
    claimed: bool = True  # the source is connected
    live: Callable[[], bool] | None = None

    @property
    def online(self) -> bool:
        return self.live() if self.live is not None else self.claimed


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def base(name: str, arp: tuple[float, float] | None, last_frame_at: float | None = 100.0) -> Mount:
    mount = Mount(name)
    if arp is not None:
        mount.stats.lat, mount.stats.lon = arp
    mount.stats.last_frame_at = last_frame_at
    return mount


def district(clock: Clock) -> tuple[dict[str, Mount], set[Rover], NearestRoll[Rover]]:
    mounts = {"W": base("W", WEST), "E": base("E", EAST)}
    rovers: set[Rover] = set()
    roll = NearestRoll(POLICY, mounts, rovers, clock)
    mounts["NEAREST"] = Mount("NEAREST", clients=rovers, live=roll.any_live)
    return mounts, rovers, roll


def test_live_bases_are_online_placed_recent_and_not_virtual() -> None:
    clock = Clock()
    mounts, _, roll = district(clock)
    mounts["NOARP"] = base("NOARP", None)
    mounts["OFF"] = base("OFF", MIDDLE)
    mounts["OFF"].claimed = False
    mounts["SILENT"] = base("SILENT", MIDDLE, last_frame_at=100.0 - POLICY.silent_after_s - 0.01)
    mounts["NEVER"] = base("NEVER", MIDDLE, last_frame_at=None)
    assert roll.live_bases() == {"W": WEST, "E": EAST}
    assert roll.any_live() and mounts["NEAREST"].online
    clock.now += POLICY.silent_after_s + 0.01
    assert roll.live_bases() == {} and not mounts["NEAREST"].online


def test_place_moves_a_rover_between_fan_out_sets_with_hysteresis() -> None:
    mounts, _, roll = district(Clock())
    rover = Rover()
    roll.place(rover)  # no GGA yet: nothing
    assert rover.serving is None
    rover.position = (31.0, 121.2)
    roll.place(rover)
    assert rover.serving == "W" and rover in mounts["W"].clients and rover.switches == 0
    rover.position = (31.0, 121.55)  # past the midpoint, but not much closer to E
    roll.place(rover)
    assert rover.serving == "W"
    rover.position = (31.0, 121.9)
    roll.place(rover)
    assert rover.serving == "E" and rover.switches == 1
    assert rover in mounts["E"].clients and rover not in mounts["W"].clients
    roll.move(rover, None)
    assert rover.serving is None and not any(rover in m.clients for m in mounts.values())


def test_a_gone_source_fails_its_rovers_over_at_once() -> None:
    mounts, _, roll = district(Clock())
    rover = Rover(position=(31.0, 121.1))
    roll.place(rover)
    assert rover.serving == "W"
    mounts["W"].claimed = False
    roll.source_gone(mounts["W"])
    assert rover.serving == "E" and rover.switches == 1


def test_check_leaves_silent_bases_and_recomputes_when_the_live_set_changes() -> None:
    clock = Clock()
    mounts, rovers, roll = district(clock)
    rover = Rover(position=(31.0, 121.45))
    rovers.add(rover)
    roll.check()
    assert rover.serving == "W"
    clock.now += 2.0
    mounts["E"].stats.last_frame_at = clock.now  # W falls silent, E keeps sending
    roll.check()
    assert rover.serving == "E"
    mounts["W"].stats.last_frame_at = clock.now  # W is back: a changed set, but E is not much farther
    roll.check()
    assert rover.serving == "E"


async def test_periodic_checks_run_while_rovers_are_on() -> None:
    clock = Clock()
    mounts, rovers, roll = district(clock)
    rover = Rover(position=(31.0, 121.1))
    rovers.add(rover)
    roll.place(rover)
    roll.start()
    roll.start()  # one task however many rovers join
    clock.now += 2.0
    mounts["E"].stats.last_frame_at = clock.now  # W silent: the next check moves the rover
    for _ in range(100):
        await asyncio.sleep(POLICY.check_every_s)
        if rover.serving == "E":
            break
    assert rover.serving == "E"
    rovers.clear()  # the last rover left: the checks end by themselves
    for _ in range(100):
        await asyncio.sleep(POLICY.check_every_s)
        if roll._task is None:
            break
    assert roll._task is None


async def test_stop_cancels_the_checks() -> None:
    _, rovers, roll = district(Clock())
    rovers.add(Rover(position=WEST))
    roll.start()
    task = roll._task
    assert task is not None
    roll.stop()
    await asyncio.sleep(0)
    assert roll._task is None and task.cancelled()
