"""The receiver listener (token line or NTRIP upload), the receiver agent and the capture
replayer: raw receiver bytes over TCP into the tracks."""

from __future__ import annotations

import asyncio
import socket

import pytest

from hardware.gnss_agent import forward
from hardware.gnss_listener import ReceiverListener
from hardware.gnss_replay import pace_marks, paced_chunks
from tests.parking.tracks.test_tracks_api import RTK_LOG, roadside, rtk_capture_facts
from tests.support import Client


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _listener(c: Client) -> tuple[ReceiverListener, asyncio.Server, int]:
    state = c.app.state.beidou
    listener = ReceiverListener(state.sessionmaker, state.settings, state.live_store, batch_s=0.2)
    port = _free_port()
    return listener, await listener.serve("127.0.0.1", port), port


async def _finished(listener: ReceiverListener, connections: int = 1) -> None:
    """Wait until the listener has committed the last batch of every connection."""
    for _ in range(200):
        if listener.stats.finished >= connections:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"listener still busy: {listener.stats}")


async def test_tcp_listener_takes_a_raw_stream_and_refuses_bad_tokens(client: Client) -> None:
    op, _, rx = await roadside(client)
    _, _, seconds = rtk_capture_facts()
    listener, server, port = await _listener(client)
    async with server:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"dv_not-a-token\r\n")
        assert (await reader.readline()).startswith(b"ERROR")
        writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(rx.token.encode() + b"\n")
        assert await reader.readline() == b"OK\r\n"
        data = RTK_LOG.read_bytes()
        for i in range(0, len(data), 1000):  # noise between pieces: skipped, counted, harmless
            writer.write(data[i : i + 1000] + b"\x00\xd3\xff garbage")
            await writer.drain()
        writer.close()
        await writer.wait_closed()
        await _finished(listener)
    assert listener.stats.refused == 1 and listener.stats.connections == 1
    assert 0.9 * len(seconds) <= listener.stats.stored <= len(seconds)
    params = {"from": "2020-03-18T13:00:00+00:00", "to": "2020-03-18T14:00:00+00:00"}
    track = (await client.http.get(f"/v1/operator/devices/{rx.id}/track", params=params, headers=op.h)).json()
    assert track["properties"]["count"] == listener.stats.stored


async def test_replay_keeps_the_recorded_pace_and_the_agent_forwards_it(client: Client) -> None:
    data = RTK_LOG.read_bytes()
    marks = pace_marks(data)
    # the capture's own first and last GGA/RMC times: 13:28:19.60 -> 13:39:01.50
    assert marks[0] == (marks[0][0], 0.0) and marks[-1][1] == pytest.approx(641.9, abs=1e-6)
    assert [m[0] for m in marks] == sorted(m[0] for m in marks)
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    pieces = [p async for p in paced_chunks(data, speed=10.0, sleep=sleep)]
    assert b"".join(pieces) == data
    assert sum(slept) == pytest.approx(64.19, abs=1e-6)

    op, _, rx = await roadside(client)
    listener, server, port = await _listener(client)
    async with server:
        stats = await forward(paced_chunks(data, speed=1e6), "127.0.0.1", port, rx.token)
        await _finished(listener)
    assert stats.bytes_sent == len(data) and stats.bytes_dropped == 0
    _, _, seconds = rtk_capture_facts()
    assert listener.stats.stored == len(seconds)


async def test_agent_reads_a_serial_receiver(client: Client) -> None:
    """A pseudo-terminal stands in for the USB serial port: the receiver's side writes the capture,
    the agent reads the port with pyserial and forwards it to the listener."""
    import os
    import time
    import tty

    from hardware.gnss_agent import Forwarder, listener_login, serial_source

    op, _, rx = await roadside(client)
    receiver_side, port_side = os.openpty()
    tty.setraw(port_side)
    listener, server, port = await _listener(client)
    data = RTK_LOG.read_bytes()
    async with server:
        forwarder = Forwarder(lambda: listener_login("127.0.0.1", port, rx.token))
        sender = asyncio.create_task(forwarder.run())
        opened = asyncio.Event()
        source = serial_source(os.ttyname(port_side), 115200, opened)

        async def read_all() -> None:
            async for chunk in source:
                forwarder.put(chunk)
                if forwarder.stats.bytes_read >= len(data):
                    break

        reading = asyncio.create_task(read_all())

        def receiver_talks() -> None:  # a UART's pace (115200 baud is ~11 kB/s), in a thread
            for i in range(0, len(data), 1024):
                os.write(receiver_side, data[i : i + 1024])
                time.sleep(0.02)

        await asyncio.wait_for(opened.wait(), 10)
        await asyncio.to_thread(receiver_talks)
        await asyncio.wait_for(reading, 20)
        await source.aclose()
        forwarder.close()
        await asyncio.wait_for(sender, 20)
        await _finished(listener)
    os.close(receiver_side)
    os.close(port_side)
    _, _, seconds = rtk_capture_facts()
    assert forwarder.stats.bytes_sent == len(data)
    assert listener.stats.stored == len(seconds)
