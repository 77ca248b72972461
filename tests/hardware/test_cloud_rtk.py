"""Cloud RTK end to end, over real sockets: a base station pushes to the caster, a rover uploads
its raw RTCM to the receiver listener, the platform solves it in worker processes against the base
the caster's NEAREST mount chooses, and the fixes land in the rover's track like its own.

Both streams are the NovAtel OEM729 capture (Hiroshima, 2022-12-13), so the truth is the capture's
own 1005 ARP (a zero baseline): fixed positions must sit on it. The base replays the capture a
second or two behind the rover (a base behind a slower link), so the rover's first epochs have no
base and are single-point fixes, and the later ones are solved with the latest base epoch, as
RTKLIB's real-time server does.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from api.cli import app
from gnss.geodesy import ecef_to_enu, ecef_to_geodetic, geodetic_to_ecef
from gnss.ntrip.caster import Caster
from gnss.ntrip.nearest import NearestPolicy
from gnss.ntrip.protocol import chunk
from gnss.ntrip.upstream import NtripUrl
from gnss.rtcm.decode import decode
from gnss.rtcm.framing import RtcmFramer
from gnss.rtcm.station import StationArp
from gnss.rtk.options import RtkOptions
from gnss.rtk.pool import RtkPool, SessionSpec
from hardware.cloud_rtk import CloudRtk
from hardware.gnss_listener import ReceiverListener
from hardware.gnss_replay import paced_chunks
from hardware.ntrip_source import SourceRefused, open_source
from parking.identity.access import ADMIN
from parking.ntrip import service as ntrip
from parking.ntrip.accounts import DatabaseAccounts
from parking.unit import transaction
from tests.gnss.ntrip.test_caster import _free_port, wait_for
from tests.parking.tracks.test_tracks_api import roadside
from tests.support import Client

CAPTURE = Path(__file__).parents[1] / "data" / "gnss" / "rtcm3" / "qzsl6tool_20221213-010900.rtcm"
SPEED = 10.0  # the 60 s capture in 6 s
BASE_LAG_S = 0.15  # the base starts 1.5 s of capture time after the rover


def capture_arp() -> np.ndarray:
    arp = next(r for r in map(decode, RtcmFramer().feed(CAPTURE.read_bytes())) if isinstance(r, StationArp))
    return np.asarray(arp.ecef_m, dtype=np.float64)


async def push(writer: asyncio.StreamWriter, data: bytes, *, chunked: bool = False) -> None:
    async for piece in paced_chunks(data, speed=SPEED):
        writer.write(chunk(piece) if chunked else piece)
        await writer.drain()


@pytest.mark.parametrize("upload", ["token", "ntrip2"])
async def test_rover_raw_rtcm_is_solved_against_the_nearest_base_and_stored(
    client: Client, upload: str
) -> None:
    op, _, rx = await roadside(client)
    state = client.app.state.beidou
    async with transaction(state.sessionmaker, state.settings) as ctx:
        await ntrip.create_mount(ctx, ADMIN, "HIROSHIMA", "base-secret")
        await ntrip.create_user(ctx, ADMIN, "cloud-rtk", "cloud-secret")
    caster = Caster(DatabaseAccounts(state.sessionmaker), head_timeout_s=2.0, nearest=NearestPolicy())
    caster_port, listener_port = _free_port(), _free_port()
    pool = RtkPool(1)
    pool.start()
    cloud = CloudRtk(
        pool,
        NtripUrl("127.0.0.1", caster_port, "NEAREST", "cloud-rtk", "cloud-secret"),
        SessionSpec(RtkOptions(mode="kinematic", systems="GECJ", freqs=2)),
        gga_every_s=0.5,
    )
    listener = ReceiverListener(state.sessionmaker, state.settings, state.live_store, batch_s=0.2, rtk=cloud)
    pool.open("warm-up", SessionSpec(RtkOptions()))  # the worker is up before the rover pushes
    assert (await pool.flush("warm-up")).error is None
    pool.end("warm-up")
    data = CAPTURE.read_bytes()
    tasks: list[asyncio.Task[None]] = []
    try:
        async with (
            await caster.serve("127.0.0.1", caster_port),
            await listener.serve("127.0.0.1", listener_port),
        ):
            if upload == "token":
                reader, rover = await asyncio.open_connection("127.0.0.1", listener_port)
                rover.write(rx.token.encode() + b"\n")
                assert await reader.readline() == b"OK\r\n"
            else:
                with pytest.raises(SourceRefused):  # a wrong token is refused as a caster would
                    await open_source("127.0.0.1", listener_port, "ROVER", "dv_wrong", version=2)
                _, rover = await open_source("127.0.0.1", listener_port, "ROVER", rx.token, version=2)
            tasks.append(asyncio.create_task(push(rover, data, chunked=upload == "ntrip2")))
            await asyncio.sleep(BASE_LAG_S)
            _, base = await open_source("127.0.0.1", caster_port, "HIROSHIMA", "base-secret")
            tasks.append(asyncio.create_task(push(base, data)))
            await asyncio.wait_for(tasks[0], 30)
            if upload == "ntrip2":
                rover.write(b"0\r\n\r\n")  # the end of the chunked body
            rover.close()
            await wait_for(lambda: listener.stats.finished == 1, within_s=20)
            await asyncio.wait_for(tasks[1], 30)
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        await caster.close()
        await pool.close()

    assert pool.errors == 0
    stats = cloud.stats
    assert stats.not_after_previous == 0  # each epoch solved once, in order
    assert stats.sessions == 1 and stats.fixes is not None
    assert stats.fixes.get(1, 0) >= 1  # before the base: the rover's own single-point fixes
    # then fixed against the caster's base; with a base epoch seconds old (nothing interpolates
    # it, as in RTKLIB 2.4.3's real-time server) an epoch may fail validation and stay float
    assert stats.fixes.get(4, 0) >= 30
    assert set(stats.fixes) <= {1, 4, 5}
    # stored as the rover's track, one point per second, readable by its operator
    params = {"from": "2022-12-13T01:00:00+00:00", "to": "2022-12-13T02:00:00+00:00"}
    r = await client.http.get(f"/v1/operator/devices/{rx.id}/track", params=params, headers=op.h)
    assert r.status_code == 200, r.text
    props = r.json()["properties"]
    assert props["count"] == listener.stats.stored
    assert listener.stats.fixes == stats.epochs_solved  # every fix reached the pipeline ...
    quality = np.array(props["quality"])
    raw = np.array(props["raw"])  # lon, lat, height of each stored fix
    arp = capture_arp()
    fixed = raw[quality == 4]
    enu = ecef_to_enu(geodetic_to_ecef(fixed[:, 1], fixed[:, 0], fixed[:, 2]), *_llh(arp))
    assert np.abs(enu[:, :2]).max() < 0.01  # centimetres from the truth (the 1005 ARP)
    assert len(fixed) == stats.fixes[4]  # ... and every fixed one is stored (the smoother may
    # reject a metre-level single-point fix next to centimetre ones as an outlier)


def _llh(ecef: np.ndarray) -> tuple[float, float, float]:
    lat, lon, h = ecef_to_geodetic(ecef)
    return float(lat), float(lon), float(h)


@pytest.mark.parametrize(
    "head",
    [
        "SOURCE {token} /ROVER\r\nSource-Agent: NTRIP test\r\n\r\n",
        "SOURCE {token} /ROVER\r\n\r\n",  # no header lines at all
        "SOURCE {token} /ROVER\nSource-Agent: NTRIP test\n\n",  # LF line ends
    ],
)
async def test_ntrip1_source_upload_logs_a_receiver_in(client: Client, head: str) -> None:
    """A rover that only knows how to push to a caster (``SOURCE <password> /<mount>``) uses its
    device token as the password; a wrong one gets the caster's answer, a garbled head a 400."""
    _, _, rx = await roadside(client)
    state = client.app.state.beidou
    listener = ReceiverListener(
        state.sessionmaker, state.settings, state.live_store, batch_s=0.2, login_timeout_s=2.0
    )
    port = _free_port()
    nmea = (Path(__file__).parents[1] / "data" / "gnss" / "nmea" / "gpsd_nmea-rtk.log").read_bytes()
    async with await listener.serve("127.0.0.1", port):
        with pytest.raises(SourceRefused, match="Bad Password"):
            await open_source("127.0.0.1", port, "ROVER", "dv_nope")
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"POST /ROVER HTTP/1.1\r\nbroken header line\r\n\r\n")
        assert (await reader.readline()).startswith(b"HTTP/1.0 400")
        writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(head.format(token=rx.token).encode())
        assert await reader.readline() == b"ICY 200 OK\r\n"
        writer.write(nmea)
        await writer.drain()
        writer.close()
        await wait_for(lambda: listener.stats.finished == 1, within_s=10)
    assert listener.stats.refused == 2 and listener.stats.stored > 0


def test_cloud_rtk_refuses_glonass_and_bad_caster_urls() -> None:
    runner = CliRunner()
    for args, message in (
        (["--rtk-caster", "ntrip://u:p@127.0.0.1:2101/NEAREST", "--rtk-systems", "G,R"], "GLONASS"),
        (["--rtk-caster", "http://127.0.0.1:2101/NEAREST"], "scheme"),
        (["--rtk-caster", "ntrip://u:p@127.0.0.1:2101/NEAREST", "--rtk-mode", "rtk"], "mode must be"),
    ):
        result = runner.invoke(app, ["gnss", "listen", "--port", "1", *args], terminal_width=300)
        assert result.exit_code == 2 and message in result.output, result.output
