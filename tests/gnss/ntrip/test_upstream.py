"""Mirroring another caster's mount: our caster pulls from a second instance of our caster (two
``Caster`` objects on two loopback ports), over NTRIP 1.0 and 2.0, and re-serves the stream under
a local name, byte for byte; it reconnects with backoff after the upstream restarts.

The upstream caster has its own in-memory accounts (as a provider's caster would); the local one
reads the platform database like production, so the local auth rule (any NTRIP user whose mount
list is unrestricted or names the mirror) is tested against real accounts on both backends.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from gnss.ntrip.caster import Caster
from gnss.ntrip.sourcetable import MountInfo
from gnss.ntrip.upstream import Upstream, backoff_delay, parse_mirror, request_head
from hardware.ntrip_source import SourceRefused, open_source
from parking.identity.access import ADMIN
from parking.ntrip import service as ntrip
from parking.ntrip.accounts import DatabaseAccounts
from parking.unit import transaction
from tests.gnss.ntrip.test_caster import (
    CAPTURE,
    _free_port,
    basic,
    collect,
    get,
    pyrtcm_frames,
    read_body,
    wait_for,
)
from tests.support import Client

# --- pure pieces ------------------------------------------------------------------------------


def test_backoff_doubles_is_capped_and_jittered() -> None:
    top = [backoff_delay(n, 0.5, 30.0, rand=lambda: 0.999999) for n in range(10)]
    assert top[:7] == pytest.approx([0.5, 1, 2, 4, 8, 16, 30], rel=1e-5)
    assert top[7:] == pytest.approx([30, 30, 30], rel=1e-5)
    assert backoff_delay(3, 0.5, 30.0, rand=lambda: 0.0) == 2.0  # jitter: half to all of it
    assert backoff_delay(10_000, 0.5, 30.0) <= 30.0  # no overflow however long it has been failing


def test_parse_mirror() -> None:
    spec = parse_mirror("CORS1=ntrip://me:p%40ss@rtk.example.com:2102/RTCM3_MSM7")
    assert (spec.local_mount, spec.host, spec.port, spec.remote_mount) == (
        "CORS1",
        "rtk.example.com",
        2102,
        "RTCM3_MSM7",
    )
    assert (spec.user, spec.password, spec.version) == ("me", "p@ss", 2)
    spec = parse_mirror("OLD=ntrip1://caster.example.org/MOUNT")
    assert (spec.port, spec.version, spec.user, spec.password) == (2101, 1, None, None)
    for bad in ("nolocal", "=ntrip://h/M", "X=http://h/M", "X=ntrip://h:2101/", "X=ntrip://h/a/b"):
        with pytest.raises(ValueError, match=r"expected|scheme|mountpoint"):
            parse_mirror(bad)


def test_request_heads() -> None:
    v2 = request_head("h", 2101, "M", "u", "p", 2, "$GPGGA,x*00").decode()
    assert v2.startswith("GET /M HTTP/1.1\r\n") and "Ntrip-Version: Ntrip/2.0" in v2
    assert basic("u", "p") in v2 and "Ntrip-GGA: $GPGGA,x*00" in v2 and v2.endswith("\r\n\r\n")
    v1 = request_head("h", 2101, "M", None, None, 1, None).decode()
    assert v1.startswith("GET /M HTTP/1.0\r\n") and "Authorization" not in v1 and "Ntrip-" not in v1


# --- two casters over sockets -----------------------------------------------------------------


@dataclass
class StaticAccounts:
    """The upstream provider's accounts: one mount, one mirror user."""

    async def source_allowed(self, mount: str, user: str | None, password: str | None) -> bool:
        return mount == "REMOTE" and password == "remote-source"

    async def client_allowed(self, mount: str, user: str | None, password: str | None) -> bool:
        return (user, password) == ("mirror", "mirror-secret")

    async def mounts(self) -> list[MountInfo]:
        return [MountInfo("REMOTE", identifier="Provider base")]


class UpstreamCaster:
    """The other caster: stoppable and restartable on the same port."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.caster: Caster | None = None
        self.server: asyncio.Server | None = None

    async def start(self) -> Caster:
        self.caster = Caster(StaticAccounts(), head_timeout_s=1.0)
        self.server = await self.caster.serve("127.0.0.1", self.port)
        return self.caster

    async def stop(self) -> None:
        assert self.caster is not None and self.server is not None
        self.server.close()
        await self.caster.close()
        await self.server.wait_closed()


@pytest.fixture
async def local(client: Client) -> AsyncIterator[tuple[Caster, int]]:
    sessionmaker = client.app.state.beidou.sessionmaker
    async with transaction(sessionmaker, client.app.state.beidou.settings) as ctx:
        await ntrip.create_mount(ctx, ADMIN, "YANGPU1", "base-secret")
        await ntrip.create_user(ctx, ADMIN, "rover", "rover-secret")
        await ntrip.create_user(ctx, ADMIN, "limited", "limited-secret", ["YANGPU1"])
        await ntrip.create_user(ctx, ADMIN, "mirrored", "mirrored-secret", ["MIRROR"])
    caster = Caster(DatabaseAccounts(sessionmaker), head_timeout_s=1.0)
    port = _free_port()
    server = await caster.serve("127.0.0.1", port)
    async with server:
        yield caster, port
        await caster.close()


@pytest.fixture
async def remote() -> AsyncIterator[UpstreamCaster]:
    upstream = UpstreamCaster()
    await upstream.start()
    yield upstream
    if upstream.server is not None and upstream.server.is_serving():
        await upstream.stop()


def mirror(caster: Caster, remote: UpstreamCaster, version: int, password: str = "mirror-secret") -> Upstream:
    return Upstream(
        caster,
        "MIRROR",
        "127.0.0.1",
        remote.port,
        "REMOTE",
        "mirror",
        password,
        version=version,
        initial_backoff_s=0.05,
        max_backoff_s=0.4,
        read_timeout_s=5.0,
    )


async def sourcetable_records(port: int) -> dict[str, list[str]]:
    reader, _, head = await get(port, "/")
    body = (await read_body(reader, head)).decode()
    return {line.split(";")[1]: line.split(";") for line in body.splitlines() if line.startswith("STR;")}


@pytest.mark.parametrize(("up_v", "push_v", "pull_v"), [(1, 1, 1), (2, 2, 2), (1, 2, 2), (2, 1, 1)])
async def test_a_mirror_relays_the_upstream_byte_for_byte_and_survives_its_restart(
    local: tuple[Caster, int], remote: UpstreamCaster, up_v: int, push_v: int, pull_v: int
) -> None:
    cast, port = local
    upstream = mirror(cast, remote, up_v)
    assert "MIRROR" in await sourcetable_records(port)  # declared, before it ever connected
    upstream.start()
    try:
        await wait_for(lambda: cast.mounts["MIRROR"].online)
        reader, writer, head = await get(port, "/MIRROR", version=pull_v, auth=basic("rover", "rover-secret"))
        assert b" 200 " in head + b" " or head.startswith(b"ICY 200 OK")
        await wait_for(lambda: len(cast.mounts["MIRROR"].clients) == 1)

        frames = pyrtcm_frames(CAPTURE)
        stream = b"".join(frames)
        _, source = await open_source("127.0.0.1", remote.port, "REMOTE", "remote-source", version=push_v)
        for i in range(0, len(stream), 1000):  # pieces that cut frames anywhere
            piece = stream[i : i + 1000]
            source.write(b"%x\r\n%s\r\n" % (len(piece), piece) if push_v == 2 else piece)
        await source.drain()
        assert await collect(reader, len(stream), chunked=pull_v == 2) == stream

        records = await sourcetable_records(port)
        assert records["MIRROR"][18] == "online" and records["MIRROR"][2] == "REMOTE via 127.0.0.1"
        assert (float(records["MIRROR"][9]), float(records["MIRROR"][10])) == pytest.approx(
            (34.44, 132.41), abs=0.01
        )  # the upstream base's ARP, learnt from the relayed 1005s

        # the upstream caster goes away: the mirror shows offline, the local rover stays connected
        source.close()
        await remote.stop()
        await wait_for(lambda: not cast.mounts["MIRROR"].online)
        assert (await sourcetable_records(port))["MIRROR"][18] == "offline"
        await wait_for(lambda: upstream.failures >= 2)  # it keeps trying, backing off
        assert upstream.connects == 1 and upstream.last_error is not None
        assert len(cast.mounts["MIRROR"].clients) == 1

        await remote.start()  # back on the same port: the mirror reconnects by itself
        await wait_for(lambda: upstream.connects == 2 and cast.mounts["MIRROR"].online)
        _, source = await open_source("127.0.0.1", remote.port, "REMOTE", "remote-source", version=push_v)
        second = b"".join(frames[:100])
        source.write(b"%x\r\n%s\r\n" % (len(second), second) if push_v == 2 else second)
        await source.drain()
        assert await collect(reader, len(second), chunked=pull_v == 2) == second
        source.close()
        writer.close()
    finally:
        await upstream.stop()
    assert not cast.mounts["MIRROR"].online


async def test_local_rule_for_the_mirror_and_no_pushing_to_it(
    local: tuple[Caster, int], remote: UpstreamCaster
) -> None:
    cast, port = local
    upstream = mirror(cast, remote, 2)
    upstream.start()
    try:
        await wait_for(lambda: cast.mounts["MIRROR"].online)
        for version in (1, 2):
            _, _, head = await get(port, "/MIRROR", version=version)
            assert b" 401 " in head
            _, _, head = await get(port, "/MIRROR", version=version, auth=basic("rover", "wrong"))
            assert b" 401 " in head
            _, _, head = await get(port, "/MIRROR", version=version, auth=basic("limited", "limited-secret"))
            assert b" 401 " in head  # restricted to YANGPU1
            _, w, head = await get(
                port, "/MIRROR", version=version, auth=basic("mirrored", "mirrored-secret")
            )
            assert b"200 OK" in head  # restricted to the mirror itself
            w.close()
            _, w, head = await get(port, "/MIRROR", version=version, auth=basic("rover", "rover-secret"))
            assert b"200 OK" in head  # unrestricted
            w.close()
        with pytest.raises(SourceRefused, match="Taken"):
            await open_source("127.0.0.1", port, "MIRROR", "anything")
        with pytest.raises(SourceRefused, match="409"):
            await open_source("127.0.0.1", port, "MIRROR", "anything", version=2)
        assert set(await sourcetable_records(port)) == {"YANGPU1", "MIRROR"}
    finally:
        await upstream.stop()


@pytest.mark.parametrize("version", [1, 2])
async def test_a_refused_mirror_keeps_retrying_with_backoff(
    local: tuple[Caster, int], remote: UpstreamCaster, version: int
) -> None:
    cast, _ = local
    upstream = mirror(cast, remote, version, password="wrong")
    upstream.start()
    try:
        await wait_for(lambda: upstream.failures >= 4)
        assert "401" in (upstream.last_error or "")
        assert upstream.connects == 0 and not cast.mounts["MIRROR"].online
    finally:
        await upstream.stop()
    unknown = Upstream(
        cast, "MIRROR", "127.0.0.1", remote.port, "NOSUCH", "mirror", "mirror-secret", version=version
    )
    unknown.initial_backoff_s = 0.05
    unknown.start()
    try:
        await wait_for(lambda: unknown.failures >= 1)
        # NTRIP 2.0 answers 404; NTRIP 1.0 answers an unknown mount with the sourcetable
        assert ("404" if version == 2 else "SOURCETABLE") in (unknown.last_error or "")
    finally:
        await unknown.stop()
