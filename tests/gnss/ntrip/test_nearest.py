"""The virtual NEAREST mountpoint: the pure selection rules alone, then the caster over real
sockets on loopback with two base stations pushing two different real captures.

The bases: ``qzsl6tool_20221213-010900.rtcm`` (NovAtel, its 1005 ARP in Hiroshima, 34.440 N
132.415 E) on mount HIROSHIMA, and RTKLIB's ``rtklib_testglo.rtcm3`` (1004/1012 + 1005, ARP at
35.873 N 138.390 E in central Honshu) on mount CHUBU: 566 km apart, so rover positions near one,
near the other and just past the midpoint are unambiguous. Each base pushes its capture's frames
in a loop (starting at a 1005 so its position is known at once), one frame every 10 ms, and
remembers what it sent: every frame a rover receives must be whole, byte for byte a frame of the
base serving it, and each base's run must be a contiguous piece of what that base sent.
Received streams are cut into frames by pyrtcm (a second library) for the final check.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import io
import itertools
import math
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import numpy as np
import pytest
from pyrtcm import RTCMReader

from gnss.ntrip.caster import NEAREST, Caster
from gnss.ntrip.caster import Client as CasterClient
from gnss.ntrip.nearest import NearestPolicy, choose_base, distance_m, is_live, much_closer
from gnss.ntrip.protocol import ChunkDecoder
from gnss.rtcm.framing import RtcmFramer
from hardware.ntrip_source import SourceRefused, open_source
from parking.identity.access import ADMIN
from parking.ntrip import service as ntrip
from parking.ntrip.accounts import DatabaseAccounts
from parking.unit import transaction
from tests.gnss.ntrip.test_caster import _free_port, basic, get, pyrtcm_frames, read_body, wait_for
from tests.support import Client

RTCM = Path(__file__).parents[2] / "data" / "gnss" / "rtcm3"
HIROSHIMA_ARP = (34.4401, 132.4148)
CHUBU_ARP = (35.8730, 138.3897)
POLICY = NearestPolicy()


# --- the rules alone --------------------------------------------------------------------------


def test_distance_is_the_great_circle() -> None:
    assert distance_m((0.0, 0.0), (1.0, 0.0)) == pytest.approx(111_195, rel=1e-4)  # one degree
    # the same arc by another formula: the central angle of the two ECEF unit vectors (their dot
    # product), on the IUGG mean sphere (R = 6,371,008.8 m, Moritz 2000)
    unit = [
        np.array([math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)])
        for la, lo in (np.radians(HIROSHIMA_ARP), np.radians(CHUBU_ARP))
    ]
    arc = 6_371_008.8 * math.acos(float(np.dot(*unit)))
    assert distance_m(HIROSHIMA_ARP, CHUBU_ARP) == pytest.approx(arc, rel=1e-9)
    assert 500_000 < arc < 600_000  # Hiroshima to the Chubu (Nagano) base: some 570 km
    assert distance_m(CHUBU_ARP, CHUBU_ARP) == 0.0
    assert distance_m((0.0, 179.9), (0.0, -179.9)) == pytest.approx(22_239, rel=1e-3)  # antimeridian


def test_much_closer_needs_both_the_ratio_and_the_gain() -> None:
    assert much_closer(10_000, 7_000, POLICY)  # 0.70 and 3 km
    assert not much_closer(10_000, 8_000, POLICY)  # 2 km closer but 0.80 of the distance
    assert not much_closer(2_000, 500, POLICY)  # 0.25 of the distance but only 1.5 km closer
    assert much_closer(2_000, 0, NearestPolicy(switch_min_gain_m=1_000))


def test_choose_base_with_hysteresis_along_a_drive() -> None:
    # bases 10 km apart on the equator (1 degree = 111.2 km); a rover drives from A to B and back
    bases = {"A": (0.0, 0.0), "B": (0.0, 10_000 / 111_195)}

    def at_km(km: float) -> tuple[float, float]:
        return (0.0, km * 1000 / 111_195)

    assert choose_base(at_km(1), bases, None, POLICY) == "A"  # first choice: the nearest
    served, switched_at = "A", None
    for tenth in range(0, 101):
        choice = choose_base(at_km(tenth / 10), bases, served, POLICY)
        if choice != served and switched_at is None:
            switched_at = tenth / 10
        assert choice is not None
        served = choice
    assert served == "B" and switched_at == pytest.approx(6.0, abs=0.11)  # 1 km past the midpoint
    switched_back = None
    for tenth in range(100, -1, -1):
        choice = choose_base(at_km(tenth / 10), bases, served, POLICY)
        if choice != served and switched_back is None:
            switched_back = tenth / 10
        assert choice is not None
        served = choice
    assert served == "A" and switched_back == pytest.approx(4.0, abs=0.11)  # symmetric on the way back


def test_choose_base_failover_ties_and_emptiness() -> None:
    bases = {"A": (0.0, 0.0), "B": (0.0, 1.0)}
    rover = (0.0, 0.1)
    assert choose_base(rover, {}, "A", POLICY) is None  # nothing live: nothing served
    assert choose_base(rover, {"B": bases["B"]}, "A", POLICY) == "B"  # A gone: fail over at once
    assert choose_base(rover, bases, "B", POLICY) == "A"  # 11 km vs 100 km: much closer
    assert choose_base((0.0, 0.5), bases, None, POLICY) == "A"  # equidistant: by name
    assert choose_base((0.0, 0.5), dict(reversed(bases.items())), None, POLICY) == "A"


def test_liveness_and_policy_validation() -> None:
    assert is_live(True, (1.0, 2.0), 0.5, POLICY)
    assert not is_live(False, (1.0, 2.0), 0.5, POLICY)  # source gone
    assert not is_live(True, None, 0.5, POLICY)  # no ARP yet
    assert not is_live(True, (1.0, 2.0), None, POLICY)  # no frame yet
    assert not is_live(True, (1.0, 2.0), POLICY.silent_after_s + 0.01, POLICY)  # silent
    # a silent base is left at most silent + check after its last frame: within the 2 s promised
    assert POLICY.silent_after_s + POLICY.check_every_s < 2.0
    with pytest.raises(ValueError, match="switch_ratio"):
        NearestPolicy(switch_ratio=1.5)
    with pytest.raises(ValueError, match="positive"):
        NearestPolicy(check_every_s=0)


# --- over sockets -----------------------------------------------------------------------------


def gga(lat: float, lon: float) -> str:
    la, lo = abs(lat), abs(lon)
    body = (
        f"GNGGA,010900.00,{int(la):02d}{(la % 1) * 60:08.5f},{'N' if lat >= 0 else 'S'},"
        f"{int(lo):03d}{(lo % 1) * 60:08.5f},{'E' if lon >= 0 else 'W'},4,12,0.8,50.0,M,0.0,M,,"
    )
    checksum = functools.reduce(lambda acc, c: acc ^ ord(c), body, 0)
    return f"${body}*{checksum:02X}"


def along(fraction: float) -> tuple[float, float]:
    """A point ``fraction`` of the way from the Hiroshima base to the Chubu base."""
    return (
        HIROSHIMA_ARP[0] + fraction * (CHUBU_ARP[0] - HIROSHIMA_ARP[0]),
        HIROSHIMA_ARP[1] + fraction * (CHUBU_ARP[1] - HIROSHIMA_ARP[1]),
    )


class Base:
    """A base station pushing a capture's frames in a loop, one every ``every_s``."""

    def __init__(self, mount: str, capture: Path, password: str) -> None:
        frames = pyrtcm_frames(capture)
        first_arp = next(i for i, f in enumerate(frames) if (f[3] << 4 | f[4] >> 4) == 1005)
        self.mount, self.password = mount, password
        self.frames = frames[first_arp:] + frames[:first_arp]
        self.known = set(self.frames)
        self.sent: list[bytes] = []
        self.writer: asyncio.StreamWriter | None = None
        self.task: asyncio.Task[None] | None = None
        self._cycle = itertools.cycle(self.frames)

    async def connect(self, port: int) -> None:
        _, self.writer = await open_source("127.0.0.1", port, self.mount, self.password)
        self.resume()

    def resume(self) -> None:
        self.task = asyncio.create_task(self._push())

    async def _push(self, every_s: float = 0.01) -> None:
        assert self.writer is not None
        for frame in self._cycle:
            self.writer.write(frame)
            self.sent.append(frame)
            await self.writer.drain()
            await asyncio.sleep(every_s)

    async def fall_silent(self) -> None:
        """Stop sending, connection kept open (a receiver that hangs)."""
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task

    async def disconnect(self) -> None:
        await self.fall_silent()
        assert self.writer is not None
        self.writer.close()


class Rover:
    """A NEAREST client's received stream, cut into frames as it arrives."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, chunked: bool) -> None:
        self.reader, self.writer = reader, writer
        self.decoder = ChunkDecoder() if chunked else None
        self.raw = bytearray()
        self.frames: list[bytes] = []
        self._framer = RtcmFramer()

    async def read_until(self, done: Callable[[Rover], bool], within_s: float = 5.0) -> None:
        async def loop() -> None:
            while not done(self):
                data = await self.reader.read(65536)
                if not data:
                    raise AssertionError("the caster closed the rover's stream")
                data = self.decoder.feed(data) if self.decoder else data
                self.raw += data
                self.frames.extend(f.raw for f in self._framer.feed(data))

        await asyncio.wait_for(loop(), within_s)

    async def more_frames(self, n: int, *, within_s: float = 5.0) -> None:
        target = len(self.frames) + n
        await self.read_until(lambda r: len(r.frames) >= target, within_s)

    def send(self, sentence: str) -> None:
        self.writer.write(sentence.encode() + b"\r\n")

    def runs(self, *bases: Base) -> list[tuple[str, int]]:
        """(mount, frame count) of each stretch from one base; checks each stretch is whole frames
        the base sent, contiguous and in order, and the stream is nothing but those frames."""
        whole = b"".join(self.frames)
        assert bytes(self.raw[: len(whole)]) == whole  # nothing between the frames
        assert [raw for raw, _ in RTCMReader(io.BytesIO(whole), quitonerror=0)] == self.frames
        out: list[tuple[str, list[bytes]]] = []
        for frame in self.frames:
            base = next(b for b in bases if frame in b.known)
            if out and out[-1][0] == base.mount:
                out[-1][1].append(frame)
            else:
                out.append((base.mount, [frame]))
        for mount, run in out:
            sent = next(b for b in bases if b.mount == mount).sent
            assert any(sent[k : k + len(run)] == run for k, f in enumerate(sent) if f == run[0]), mount
        return [(mount, len(run)) for mount, run in out]


@pytest.fixture
async def nearest(client: Client) -> AsyncIterator[tuple[Caster, int, Base, Base]]:
    sessionmaker = client.app.state.beidou.sessionmaker
    async with transaction(sessionmaker, client.app.state.beidou.settings) as ctx:
        await ntrip.create_mount(ctx, ADMIN, "HIROSHIMA", "hiroshima-secret")
        await ntrip.create_mount(ctx, ADMIN, "CHUBU", "chubu-secret")
        await ntrip.create_user(ctx, ADMIN, "rover", "rover-secret")
        await ntrip.create_user(ctx, ADMIN, "limited", "limited-secret", ["CHUBU"])
    caster = Caster(DatabaseAccounts(sessionmaker), head_timeout_s=1.0, nearest=POLICY)
    port = _free_port()
    server = await caster.serve("127.0.0.1", port)
    hiroshima = Base("HIROSHIMA", RTCM / "qzsl6tool_20221213-010900.rtcm", "hiroshima-secret")
    chubu = Base("CHUBU", RTCM / "rtklib_testglo.rtcm3", "chubu-secret")
    assert not hiroshima.known & chubu.known
    async with server:
        await hiroshima.connect(port)
        await chubu.connect(port)
        await wait_for(lambda: all(caster.mounts[m].stats.lat is not None for m in ("HIROSHIMA", "CHUBU")))
        yield caster, port, hiroshima, chubu
        for base in (hiroshima, chubu):
            if base.task is not None and not base.task.done():
                await base.disconnect()
        await caster.close()


def the_rover(caster: Caster) -> CasterClient:
    (client,) = caster.mounts[NEAREST].clients
    return client


async def test_nearest_is_listed_with_nmea_and_refuses_sources(
    nearest: tuple[Caster, int, Base, Base],
) -> None:
    _, port, _, _ = nearest
    reader, _, head = await get(port, "/")
    records = {
        line.split(";")[1]: line.split(";")
        for line in (await read_body(reader, head)).decode().splitlines()
        if line.startswith("STR;")
    }
    assert set(records) == {"HIROSHIMA", "CHUBU", NEAREST}
    assert len(records[NEAREST]) == 19 and records[NEAREST][11] == "1"  # nmea: send us your GGA
    assert records[NEAREST][18] == "online"  # some base is live
    assert (float(records["CHUBU"][9]), float(records["CHUBU"][10])) == pytest.approx(CHUBU_ARP, abs=0.01)
    with pytest.raises(SourceRefused, match="Taken"):
        await open_source("127.0.0.1", port, NEAREST, "anything")


async def test_v1_in_band_gga_selects_and_switches_with_hysteresis(
    nearest: tuple[Caster, int, Base, Base],
) -> None:
    caster, port, hiroshima, chubu = nearest
    reader, writer, head = await get(port, "/NEAREST", auth=basic("rover", "rover-secret"))
    assert head.startswith(b"ICY 200 OK")
    rover = Rover(reader, writer, chunked=False)
    await wait_for(lambda: len(caster.mounts[NEAREST].clients) == 1)
    with pytest.raises(TimeoutError):  # both bases are pushing, but no GGA yet: nothing
        await asyncio.wait_for(reader.read(1), 0.5)

    rover.send(gga(34.45, 132.40))  # in Hiroshima
    await rover.more_frames(30)
    assert rover.runs(hiroshima, chubu) == [("HIROSHIMA", len(rover.frames))]

    past_midpoint = along(0.55)  # nearer Chubu, but not much nearer: stay
    assert distance_m(past_midpoint, CHUBU_ARP) < distance_m(past_midpoint, HIROSHIMA_ARP)
    rover.send(gga(*past_midpoint))
    await wait_for(lambda: the_rover(caster).position == pytest.approx(past_midpoint, abs=1e-5))
    await rover.more_frames(30)
    assert rover.runs(hiroshima, chubu) == [("HIROSHIMA", len(rover.frames))]

    rover.send(gga(35.85, 138.40))  # at the Chubu base: much nearer, switch
    await rover.read_until(lambda r: sum(f in chubu.known for f in r.frames) >= 30)
    runs = rover.runs(hiroshima, chubu)
    assert [mount for mount, _ in runs] == ["HIROSHIMA", "CHUBU"]  # one switch, at a frame boundary
    assert the_rover(caster).switches == 1
    writer.close()


async def test_v2_ntrip_gga_header_and_failover_when_the_base_goes_silent_or_away(
    nearest: tuple[Caster, int, Base, Base],
) -> None:
    caster, port, hiroshima, chubu = nearest
    reader, writer, head = await get(
        port, "/NEAREST", version=2, auth=basic("rover", "rover-secret"), gga=gga(34.40, 132.45)
    )
    assert head.startswith(b"HTTP/1.1 200 OK") and b"Transfer-Encoding: chunked" in head
    rover = Rover(reader, writer, chunked=True)
    await rover.more_frames(30)  # the header's GGA is enough: no in-band sentence sent
    assert rover.runs(hiroshima, chubu) == [("HIROSHIMA", len(rover.frames))]

    loop = asyncio.get_running_loop()
    await hiroshima.fall_silent()  # connection open, no frames
    silent_at = loop.time()
    await rover.read_until(lambda r: r.frames[-1] in chubu.known, within_s=2.0)  # the contract: < 2 s
    assert loop.time() - silent_at < 2.0
    assert hiroshima.mount in caster.mounts and caster.mounts["HIROSHIMA"].online  # not dropped, silent

    hiroshima.resume()  # back, and much nearer: the rover returns to it
    await rover.read_until(lambda r: r.frames[-1] in hiroshima.known, within_s=2.0)

    await hiroshima.disconnect()  # a source that goes away: failover at once
    gone_at = loop.time()
    await rover.read_until(lambda r: r.frames[-1] in chubu.known, within_s=2.0)
    assert loop.time() - gone_at < 2.0
    await rover.more_frames(10)
    runs = rover.runs(hiroshima, chubu)
    assert [mount for mount, _ in runs] == ["HIROSHIMA", "CHUBU", "HIROSHIMA", "CHUBU"]
    writer.close()


async def test_with_no_live_base_the_rover_waits_connected(nearest: tuple[Caster, int, Base, Base]) -> None:
    caster, port, hiroshima, chubu = nearest
    await hiroshima.disconnect()
    await chubu.fall_silent()
    reader, writer, _ = await get(port, "/NEAREST", auth=basic("rover", "rover-secret"))
    rover = Rover(reader, writer, chunked=False)
    rover.send(gga(34.45, 132.40))
    await wait_for(lambda: caster.mounts[NEAREST].clients and the_rover(caster).position is not None)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(reader.read(1), 0.5)
    chubu.resume()  # the periodic check sees a base come back
    await rover.more_frames(10)
    assert rover.runs(hiroshima, chubu) == [("CHUBU", len(rover.frames))]
    writer.close()


async def test_driver_token_opens_nearest_only(
    client: Client, nearest: tuple[Caster, int, Base, Base]
) -> None:
    caster, port, hiroshima, chubu = nearest
    driver = await client.driver()
    assert driver.token.startswith("dr_")
    for version in (1, 2):
        _, _, head = await get(port, "/HIROSHIMA", version=version, auth=basic("app", driver.token))
        assert b" 401 " in head  # an ordinary mount: NTRIP users only
        _, _, head = await get(port, "/NEAREST", version=version, auth=basic("app", "dr_not-a-token"))
        assert b" 401 " in head
    op = await client.operator()
    _, _, head = await get(port, "/NEAREST", auth=basic("app", op.token))  # not a driver's
    assert b" 401 " in head
    _, _, head = await get(port, "/NEAREST", auth=basic("limited", "limited-secret"))  # CHUBU only
    assert b" 401 " in head
    reader, writer, head = await get(port, "/NEAREST", auth=basic(driver.id, driver.token), gga=None)
    assert head.startswith(b"ICY 200 OK")
    rover = Rover(reader, writer, chunked=False)
    rover.send(gga(*CHUBU_ARP))
    await rover.more_frames(10)
    assert rover.runs(hiroshima, chubu) == [("CHUBU", len(rover.frames))]
    writer.close()
    assert caster.mounts["CHUBU"].stats.bytes_out > 0
