"""RTCM 3 framing against real captures, with pyrtcm as the independent second opinion.

pyrtcm's reader gives the frame list we must reproduce byte for byte; then chunking, noise,
corruption and false preambles check the resynchronisation rule (resume at preamble + 1).
"""

from __future__ import annotations

import io
import random
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyrtcm import RTCMReader
from pyrtcm.rtcmhelpers import calc_crc24q

from gnss.rtcm import RtcmFrame, RtcmFramer, crc24q, frame_at
from gnss.rtcm.framing import MAX_FRAME_LEN

DATA = Path(__file__).parents[1] / "data" / "gnss" / "rtcm3"
FILES = sorted(p for p in DATA.iterdir() if p.suffix in {".log", ".rtcm", ".rtcm3"})
BEST = DATA / "qzsl6tool_20221213-010900.rtcm"


@cache
def pyrtcm_frames(path: Path) -> tuple[bytes, ...]:
    """Frames pyrtcm accepts (CRC validated by its full parse); stream errors are ignored."""
    errors: list[Exception] = []
    reader = RTCMReader(io.BytesIO(path.read_bytes()), quitonerror=1, errorhandler=errors.append)
    return tuple(raw for raw, parsed in reader if parsed is not None)


@cache
def our_frames(path: Path) -> tuple[RtcmFrame, ...]:
    return tuple(RtcmFramer().feed(path.read_bytes()))


def msg_type(raw: bytes) -> int:
    return (raw[3] << 4) | (raw[4] >> 4)


def test_fixtures_present() -> None:
    assert len(FILES) == 10


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_same_frames_as_pyrtcm(path: Path) -> None:
    framer = RtcmFramer()
    frames = framer.feed(path.read_bytes())
    theirs = pyrtcm_frames(path)
    assert Counter(f.msg_type for f in frames) == Counter(msg_type(r) for r in theirs)
    assert [f.raw for f in frames] == list(theirs)
    assert framer.crc_errors == 0
    assert framer.frames == len(frames) > 0
    assert all(f.raw[0] == 0xD3 and f.payload == f.raw[3:-3] for f in frames)
    assert framer.pending < MAX_FRAME_LEN


def test_mixed_stream_skips_exactly_the_nmea_and_ubx_bytes() -> None:
    framer = RtcmFramer()
    frames = framer.feed((DATA / "pyrtcm_pygpsdata-MIXED-RTCM3.log").read_bytes())
    assert [f.msg_type for f in frames] == [1005, 4072, 1077, 1087, 1097, 1127, 1230]
    assert framer.bytes_skipped == 222  # README: 222 non-RTCM bytes
    assert framer.crc_errors == 0 and framer.pending == 0


def test_gpsd_comment_header_is_skipped() -> None:
    data = (DATA / "gpsd_rtcm3.bndm.log").read_bytes()
    assert data.startswith(b"#")
    framer = RtcmFramer()
    frames = framer.feed(data)
    first = data.index(frames[0].raw)
    assert framer.bytes_skipped >= first > 0
    assert len(frames) == 100


def test_truncated_last_frame_stays_pending() -> None:
    data = (DATA / "qzsl6tool_20190529hiroshima.rtcm").read_bytes()
    framer = RtcmFramer()
    frames = framer.feed(data)
    assert len(frames) == 191
    assert framer.pending == 34  # the capture ends 151 bytes into a 185-byte frame
    assert data.endswith(bytes(framer._buf))
    assert framer.crc_errors == 0


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_random_chunking_gives_the_same_frames(path: Path) -> None:
    data = path.read_bytes()
    rng = random.Random(path.name)
    expected = list(our_frames(path))
    for _ in range(3):
        framer = RtcmFramer()
        got: list[RtcmFrame] = []
        pos = 0
        while pos < len(data):
            n = rng.randint(1, 4096)
            got += framer.feed(data[pos : pos + n])
            pos += n
        assert got == expected
        assert framer.crc_errors == 0


def test_byte_by_byte() -> None:
    path = DATA / "pyrtcm_pygpsdata-NTRIP-USCL00CHL0.log"
    framer = RtcmFramer()
    got = [f for b in path.read_bytes() for f in framer.feed(bytes([b]))]
    assert got == list(our_frames(path))


def test_crc_known_answers() -> None:
    assert crc24q(b"") == 0
    assert crc24q(b"123456789") == 0xCDE703  # CRC-24/LTE-A catalogue check value (same polynomial)
    for raw in our_frames(BEST):
        assert crc24q(raw.raw[:-3]) == int.from_bytes(raw.raw[-3:], "big")
        assert crc24q(raw.raw) == 0
        assert crc24q(memoryview(raw.raw)) == 0
        assert crc24q(bytearray(raw.raw)) == 0


@given(st.binary(max_size=3000))
def test_crc_matches_pyrtcm_implementation(data: bytes) -> None:
    assert crc24q(data) == calc_crc24q(data)


def test_frame_at_contract() -> None:
    raw = our_frames(BEST)[0].raw
    n = len(raw)
    buf = b"xx" + raw + b"yy"
    assert frame_at(buf, 2) == n
    assert frame_at(memoryview(buf), 2) == n
    assert frame_at(bytearray(buf), 2) == n
    assert frame_at(buf, 0) == -1
    assert all(frame_at(raw[:k], 0) == 0 for k in range(n))
    assert frame_at(raw, n) == 0
    assert frame_at(raw[:1] + bytes([raw[1] | 0x04]) + raw[2:], 0) == -1  # reserved bits
    assert frame_at(b"\xd3\x00\x00\x00\x00\x00", 0) == -1  # zero length
    bad = bytearray(raw)
    bad[10] ^= 0x01
    assert frame_at(bad, 0) == -1


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=5000), st.integers(1, 4096))
def test_random_bytes_never_raise(data: bytes, chunk: int) -> None:
    framer = RtcmFramer()
    frames = [f for i in range(0, len(data), chunk) for f in framer.feed(data[i : i + chunk])]
    assert all(frame_at(f.raw, 0) == len(f.raw) for f in frames)
    assert framer.pending < MAX_FRAME_LEN
    assert framer.bytes_skipped + sum(len(f.raw) for f in frames) + framer.pending == len(data)
    for pos in range(0, len(data), 97):
        assert frame_at(data, pos) in (-1, 0) or frame_at(data, pos) > 6


def _is_subsequence(needles: list[bytes], hay: list[bytes]) -> bool:
    it = iter(hay)
    return all(any(n == h for h in it) for n in needles)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.binary(max_size=300), st.integers(0, len(our_frames(BEST)) - 1)), min_size=1, max_size=12
    ),
    st.binary(max_size=300),
    st.integers(1, 4096),
)
def test_real_frames_in_noise_are_all_found(pieces: list[tuple[bytes, int]], tail: bytes, chunk: int) -> None:
    pool = our_frames(BEST)
    real = [pool[i].raw for _, i in pieces]
    stream = b"".join(noise + pool[i].raw for noise, i in pieces) + tail
    framer = RtcmFramer()
    found = [f.raw for i in range(0, len(stream), chunk) for f in framer.feed(stream[i : i + chunk])]
    assert _is_subsequence(real, found)
    assert all(frame_at(f, 0) == len(f) for f in found)


@pytest.mark.parametrize("seed", range(8))
def test_corrupted_frames_are_lost_and_counted_the_rest_survive(seed: int) -> None:
    data = bytearray(BEST.read_bytes())
    frames = our_frames(BEST)
    offsets = []
    pos = 0
    for f in frames:
        pos = data.index(f.raw, pos)
        offsets.append(pos)
        pos += len(f.raw)
    rng = random.Random(seed)
    hit = set(rng.sample(range(len(frames)), 40))
    for i in hit:
        k = rng.randrange(3, len(frames[i].raw))  # payload or CRC: the header stays plausible
        data[offsets[i] + k] ^= rng.randrange(1, 256)
    framer = RtcmFramer()
    got = []
    for i in range(0, len(data), 777):
        got += framer.feed(bytes(data[i : i + 777]))
    assert [f.raw for f in got] == [f.raw for i, f in enumerate(frames) if i not in hit]
    assert framer.crc_errors >= len(hit)


def test_broken_header_loses_only_that_frame() -> None:
    frames = our_frames(BEST)[:6]
    stream = bytearray(b"".join(f.raw for f in frames))
    stream[len(frames[0].raw) + 1] |= 0x80  # reserved bits of frame 1
    framer = RtcmFramer()
    got = framer.feed(bytes(stream))
    assert got == [frames[0], *frames[2:]]
    assert framer.bytes_skipped >= len(frames[1].raw)


@pytest.mark.parametrize("claimed", [1, 64, 200, 1023])
def test_false_preamble_does_not_swallow_the_next_frame(claimed: int) -> None:
    frames = our_frames(BEST)[:5]
    fake = bytes([0xD3, claimed >> 8, claimed & 0xFF, 0x3E, 0xD0])
    framer = RtcmFramer()
    got = framer.feed(b"\x00\x55" + fake + b"".join(f.raw for f in frames) + bytes(MAX_FRAME_LEN))
    assert got == list(frames)
    assert framer.crc_errors == 1


def test_false_preamble_at_end_of_input_waits_then_releases() -> None:
    frames = our_frames(BEST)[:3]
    framer = RtcmFramer()
    assert framer.feed(bytes([0xD3, 0x03, 0xFF])) == []
    assert framer.pending == 3
    got = framer.feed(b"".join(f.raw for f in frames))
    got += framer.feed(bytes(MAX_FRAME_LEN))
    assert got == list(frames)
    assert framer.crc_errors == 1


def test_buffer_stays_bounded_under_plausible_noise() -> None:
    framer = RtcmFramer()
    noise = bytes([0xD3, 0x03, 0xFF, 0x00]) * 5000
    for i in range(0, len(noise), 1000):
        assert framer.feed(noise[i : i + 1000]) == []
        assert framer.pending < MAX_FRAME_LEN
    assert framer.crc_errors > 0
