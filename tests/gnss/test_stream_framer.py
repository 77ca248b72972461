"""The mixed-stream framer and the NMEA records, on the real captures of tests/data/gnss.

Expected counts come from the two independent libraries run on the same bytes: pynmea2 on every
``$`` of the file, pyrtcm's RTCMReader on the whole file.
"""

from __future__ import annotations

import io
import random
from collections import Counter
from pathlib import Path

import pynmea2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyrtcm import RTCMReader

from gnss.fixes import FixAssembler, PositionFix
from gnss.framer import BadSentence, StreamFramer
from gnss.inspect import inspect_file
from gnss.nmea import Gga, address_of, parse_sentence
from gnss.rtcm.framing import RtcmFrame

DATA = Path(__file__).parents[1] / "data" / "gnss"
CAPTURES = sorted(p for p in DATA.glob("*/*") if p.is_file() and p.name != "README.md")
NMEA_DIR = DATA / "nmea"


def pynmea2_counts(data: bytes) -> Counter[str]:
    """Every '$' of the file, up to its line end, given to pynmea2: what it reads, by address."""
    counts: Counter[str] = Counter()
    i = data.find(b"$")
    while i >= 0:
        end = data.find(b"\n", i)
        line = data[i : end if end >= 0 else len(data)].rstrip(b"\r")
        try:
            text = line.decode("ascii")
            pynmea2.parse(text)
        except Exception:
            pass
        else:
            counts[address_of(text)] += 1
        i = data.find(b"$", i + 1)
    return counts


def pyrtcm_counts(data: bytes) -> Counter[str]:
    reader = RTCMReader(io.BytesIO(data), quitonerror=0)
    return Counter(str(msg.identity) for _, msg in reader if msg is not None)


def frame_all(data: bytes, rng: random.Random | None = None) -> tuple[list[object], StreamFramer]:
    framer, out, pos = StreamFramer(), [], 0
    while pos < len(data):
        size = rng.randint(1, 900) if rng else len(data)
        out += framer.feed(data[pos : pos + size])
        pos += size
    out += framer.flush()
    return out, framer


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_inspect_counts_equal_pynmea2_and_pyrtcm(path: Path) -> None:
    data = path.read_bytes()
    report = inspect_file(str(path), chunk=777)  # odd chunks: frames and lines cut everywhere
    assert report["nmea"] == dict(pynmea2_counts(data))
    assert report["rtcm"] == dict(pyrtcm_counts(data))
    assert report["crc_errors"] == 0 and report["checksum_errors"] == 0
    assert report["bytes"] == len(data)


def test_counts_of_known_captures_match_their_provenance_notes() -> None:
    """The README beside the data (written with pyrtcm 1.2.1 / pynmea2 1.19.0) lists these."""
    rtk = inspect_file(str(NMEA_DIR / "gpsd_nmea-rtk.log"))
    assert rtk["fix_quality"] == {"2": 104, "4": 18} and sum(rtk["nmea"].values()) == 244
    f9p = inspect_file(str(NMEA_DIR / "gpsd_ublox-zed-f9p-nmea.log"))
    assert f9p["nmea"]["GNGGA"] == 29 and f9p["nmea"]["GNGST"] == 29 and f9p["fix_quality"] == {"1": 29}
    unicore = inspect_file(str(NMEA_DIR / "pynmeagps_unicore_nmea.log"))
    assert unicore["nmea"] == {} and sum(unicore["nmea_unparsed"].values()) == 61
    assert unicore["nmea_unparsed"]["GNGGAH"] >= 1
    qzs = inspect_file(str(DATA / "rtcm3" / "qzsl6tool_20221213-010900.rtcm"))
    assert qzs["rtcm"]["1127"] == 180 and qzs["rtcm"]["1005"] == 54 and sum(qzs["rtcm"].values()) == 769
    # "2022-12-13 01:09 UTC, 1 min": a Tuesday, so GPS time of week 2 days + 01:09 (+18 s leap)
    gps, bds = qzs["msm_epochs"]["G"], qzs["msm_epochs"]["C"]
    assert 2 * 86_400 + 3_600 + 9 * 60 + 18 <= gps["first_s"] < 2 * 86_400 + 3_600 + 11 * 60 + 18
    assert 55 <= gps["seconds"] <= 60
    assert bds["last_s"] == gps["last_s"] - 14  # BDT = GPST - 14 s
    mixed = inspect_file(str(DATA / "rtcm3" / "pyrtcm_pygpsdata-MIXED-RTCM3.log"))
    assert mixed["ubx_frames"] >= 1 and sum(mixed["rtcm"].values()) == 7 and mixed["bytes_skipped"] == 0


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.name)
def test_any_chunking_gives_the_same_records(path: Path) -> None:
    data = path.read_bytes()
    whole, _ = frame_all(data)
    for seed in (1, 2):
        pieces, _ = frame_all(data, random.Random(seed))
        assert pieces == whole


def test_typed_records_agree_with_pynmea2_properties() -> None:
    """Our own field reading against pynmea2's conversions, on every GGA and RMC of the captures."""
    checked = 0
    for path in NMEA_DIR.glob("*.log"):
        for raw in path.read_bytes().split(b"\n"):
            line = raw.strip().decode("ascii", "replace")
            if not (line.startswith("$") and line[3:6] in ("GGA", "RMC")):
                continue
            try:
                ref = pynmea2.parse(line)
            except pynmea2.ParseError:
                continue
            ours = parse_sentence(line)
            if not ref.data[1] or not ref.data[3 if line[3:6] == "GGA" else 2]:
                continue
            assert ours.lat == pytest.approx(ref.latitude, abs=1e-12)  # type: ignore[union-attr]
            assert ours.lon == pytest.approx(ref.longitude, abs=1e-12)  # type: ignore[union-attr]
            if isinstance(ours, Gga):
                assert ours.quality == ref.gps_qual and ours.satellites == int(ref.num_sats)
                assert ours.altitude_msl == pytest.approx(ref.altitude)
            checked += 1
    assert checked > 500


def test_gga_fields_by_hand() -> None:
    line = "$GNGGA,132819.60,4134.49795459,N,09345.03431408,W,2,10,0.9,278.161,M,-31.442,M,6.6,0133*6A"
    gga = parse_sentence(line)
    assert isinstance(gga, Gga)
    assert gga.tod == pytest.approx(13 * 3600 + 28 * 60 + 19.6)
    assert gga.lat == pytest.approx(41 + 34.49795459 / 60)
    assert gga.lon == pytest.approx(-(93 + 45.03431408 / 60))
    assert gga.height == pytest.approx(278.161 - 31.442)
    assert (gga.quality, gga.satellites, gga.hdop, gga.age_diff, gga.station_id) == (2, 10, 0.9, 6.6, "0133")


def test_fixes_carry_date_and_gst_sigmas_of_their_epoch() -> None:
    records, _ = frame_all((NMEA_DIR / "gpsd_ublox-zed-f9p-nmea.log").read_bytes())
    assembler, fixes = FixAssembler(), []
    for r in records:
        fixes += assembler.push(r)
    fixes += assembler.flush()
    assert len(fixes) == 29
    first: PositionFix = fixes[0]
    # $GNRMC,003956.00,...,120419  $GNGGA,003956.00,4552.65403,S,...  $GNGST,003956.00,235111,,,,2.3,3.5,4.0
    assert first.time is not None and first.time.isoformat() == "2019-04-12T00:39:56+00:00"
    assert (first.sigma_lat, first.sigma_lon, first.sigma_height) == (2.3, 3.5, 4.0)
    assert first.lat == pytest.approx(-(45 + 52.65403 / 60)) and first.quality == 1
    assert all(f.sigma_lat is not None for f in fixes)
    assert [f.tod for f in fixes] == sorted(f.tod for f in fixes)


def test_gst_before_gga_and_midnight_rollover() -> None:
    lines = [
        "$GPZDA,235959.00,31,12,2025,00,00",
        "$GPGST,235959.00,1.0,,,,0.02,0.03,0.05",
        "$GPGGA,235959.00,3118.0000,N,12130.0000,E,4,20,0.6,10.0,M,9.0,M,1.0,0001",
        "$GPGGA,000000.00,3118.0000,N,12130.0000,E,4,20,0.6,10.0,M,9.0,M,1.0,0001",
    ]
    assembler, fixes = FixAssembler(), []
    for line in lines:
        fixes += assembler.push(parse_sentence(_with_checksum(line)))
    fixes += assembler.flush()
    assert [f.time.isoformat() for f in fixes if f.time] == [
        "2025-12-31T23:59:59+00:00",
        "2026-01-01T00:00:00+00:00",
    ]
    assert fixes[0].sigma_lat == 0.02 and fixes[1].sigma_lat is None
    assert fixes[0].height == pytest.approx(19.0)


def _with_checksum(body: str) -> str:
    calc = 0
    for ch in body[1:]:
        calc ^= ord(ch)
    return f"{body}*{calc:02X}"


def test_bad_checksum_and_unknown_sentences_are_counted_not_fatal() -> None:
    good = _with_checksum("$GPGGA,120000.00,3118.0000,N,12130.0000,E,1,08,1.0,5.0,M,9.0,M,,")
    bad = good[:-2] + ("00" if good[-2:] != "00" else "01")
    unicore = _with_checksum("$GNGGAH,073346.00,4004.7,N,11614.1,E,1,28,0.6,64.2,M,8.4,M,,")
    data = f"{good}\r\n{bad}\r\n{unicore}\n{good}\n".encode()
    records, framer = frame_all(data)
    assert framer.stats.nmea == {"GPGGA": 2}
    assert framer.stats.checksum_errors == 1 and framer.stats.nmea_unparsed["GPGGA"] == 1
    assert framer.stats.nmea_unparsed["GNGGAH"] == 1
    assert [type(r).__name__ for r in records] == ["Gga", "BadSentence", "BadSentence", "Gga"]


def test_a_dollar_inside_binary_never_swallows_the_next_sentence() -> None:
    good = _with_checksum("$GPGGA,120000.00,3118.0000,N,12130.0000,E,1,08,1.0,5.0,M,9.0,M,,")
    for noise in (b"\x00$\x01\x02", b"$GPG", b"$GPGGA,1,2", b"\xd3\x00\x13abc", b"\xb5\x62\x01\x07\xff\x00"):
        records, framer = frame_all(noise + good.encode() + b"\r\n")
        assert [r for r in records if isinstance(r, Gga)] == [parse_sentence(good)], noise
        assert framer.stats.bytes_skipped == len(noise)


def test_comment_lines_only_at_line_start() -> None:
    good = _with_checksum("$GPGGA,120000.00,3118.0000,N,12130.0000,E,1,08,1.0,5.0,M,9.0,M,,")
    records, framer = frame_all(f"# header line\n{good}\n# another\n".encode())
    assert framer.stats.comment_lines == 2 and framer.stats.bytes_skipped == 0 and len(records) == 1


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000), st.integers(min_value=1, max_value=64))
def test_random_bytes_never_raise(data: bytes, chunk: int) -> None:
    framer = StreamFramer()
    for i in range(0, len(data), chunk):
        framer.feed(data[i : i + chunk])
    framer.flush()
    s = framer.stats
    assert s.bytes_in == len(data) and s.bytes_skipped <= len(data)


@pytest.mark.parametrize("seed", range(12))
def test_corrupted_real_captures_keep_every_intact_sentence_and_frame(seed: int) -> None:
    """Real NMEA lines and RTCM frames, some damaged, with random noise between them: every
    untouched sentence and frame is still found, in order, identical."""
    rng = random.Random(seed)
    nmea_lines = [
        ln.strip() for ln in (NMEA_DIR / "gpsd_nmea-rtk.log").read_bytes().split(b"\n") if ln.startswith(b"$")
    ]
    frames, _ = frame_all((DATA / "rtcm3" / "pygnssutils_pygpsdata-rtcm3.log").read_bytes())
    rtcm = [f.raw for f in frames if isinstance(f, RtcmFrame)][:200]
    units = [(b"n", ln + b"\r\n") for ln in nmea_lines] + [(b"r", raw) for raw in rtcm]
    rng.shuffle(units)
    stream, intact = bytearray(), []
    for kind, unit in units:
        if rng.random() < 0.3:
            stream += bytes(rng.randrange(256) for _ in range(rng.randint(1, 40)))
        if rng.random() < 0.1:  # damage one byte inside (not the line end)
            body = bytearray(unit)
            k = rng.randrange(1, len(body) - 2)
            body[k] ^= rng.randrange(1, 256)
            stream += body
            continue
        stream += unit
        intact.append(parse_sentence(unit.strip().decode()) if kind == b"n" else RtcmFrame.from_raw(unit))
    records, _ = frame_all(bytes(stream), rng)
    found = [r for r in records if not isinstance(r, BadSentence)]
    it = iter(found)
    assert all(any(x == want for x in it) for want in intact)  # intact is a subsequence of found
    assert len(intact) <= len(found) <= len(units)  # noise adds nothing that passes a checksum
