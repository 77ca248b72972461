"""NMEA 0183 sentences into typed records.

``pynmea2`` validates the sentence (shape, checksum) and splits it into fields. Our records keep
those fields and read them on access, in explicit units: degrees, metres, seconds of the UTC day,
m/s. Reading on access is what pynmea2 does too, and it matters: half of a receiver's sentences are
GSV/GSA that most consumers only count, so building every number eagerly would cost more than
the parse itself (see benchmarks/gnss_ingest.py).

Sentence types we do not type (PSTI, THS, RTE...) come out as ``Other`` so they are counted;
sentences pynmea2 cannot read at all (Unicore's ``$GNGGAH``, ``$SNRSTAT``) are counted by the
framer under their address, never fatal.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from types import MappingProxyType
from typing import Any, Final, Generic, Self, TypeVar, overload

import pynmea2

from gnss.quality import FixQuality

T = TypeVar("T")

TALKERS = frozenset({"GP", "GL", "GA", "GB", "BD", "GQ", "GI", "GN"})
KNOT_M_S = 1852.0 / 3600.0

# GNS mode indicator -> the GGA quality it corresponds to (NMEA 0183 v4.10 table).
GNS_QUALITY: Final[Mapping[str, FixQuality]] = MappingProxyType(
    {
        "N": FixQuality.INVALID,
        "A": FixQuality.SINGLE,
        "D": FixQuality.DGNSS,
        "P": FixQuality.PPS,
        "R": FixQuality.RTK_FIXED,
        "F": FixQuality.RTK_FLOAT,
        "E": FixQuality.ESTIMATED,
        "M": FixQuality.MANUAL,
        "S": FixQuality.SIMULATION,
    }
)
# the best of a GNS sentence's constellations: RTK fixed beats float beats DGNSS...
GNS_PREFERENCE: Final = (
    FixQuality.RTK_FIXED,
    FixQuality.RTK_FLOAT,
    FixQuality.DGNSS,
    FixQuality.PPS,
    FixQuality.SINGLE,
    FixQuality.SIMULATION,
    FixQuality.MANUAL,
    FixQuality.ESTIMATED,
)


def _f(text: str) -> float | None:
    try:
        return float(text) if text else None
    except ValueError:
        return None


def _i(text: str) -> int | None:
    try:
        return int(text) if text else None
    except ValueError:
        return None


def _tod(text: str) -> float | None:
    if len(text) < 6:
        return None
    try:
        return int(text[0:2]) * 3600 + int(text[2:4]) * 60 + float(text[4:])
    except ValueError:
        return None


def _angle(text: str, hemi: str) -> float | None:
    """``ddmm.mmmm`` / ``dddmm.mmmm`` with its hemisphere to signed degrees."""
    dot = text.find(".")
    if dot < 0:
        dot = len(text)
    if dot < 3:
        return None
    try:
        value = int(text[: dot - 2]) + float(text[dot - 2 :]) / 60.0
    except ValueError:
        return None
    return -value if hemi in ("S", "W") else value


def _date(ddmmyy: str) -> date | None:
    if len(ddmmyy) != 6 or not ddmmyy.isdigit():
        return None
    year = int(ddmmyy[4:6])
    try:  # NMEA's two-digit year: receivers of this century
        return date(2000 + year if year < 80 else 1900 + year, int(ddmmyy[2:4]), int(ddmmyy[0:2]))
    except ValueError:
        return None


def _get(data: Sequence[str], i: int) -> str:
    return data[i] if i < len(data) else ""


def _text(text: str) -> str | None:
    return text or None


def _count(text: str) -> int:
    return _i(text) or 0


def _is_a(text: str) -> bool:  # RMC/GLL status: A valid (active), V void
    return text == "A"


def _knots(text: str) -> float | None:
    knots = _f(text)
    return None if knots is None else knots * KNOT_M_S


@dataclass(slots=True)
class Sentence:
    """A talker sentence's fields as sent (after the address, without the checksum)."""

    talker: str
    fields: Sequence[str]

    def field(self, i: int) -> str:
        return _get(self.fields, i)


class Field(Generic[T]):
    """A record attribute that is one field, converted when read (never when the record is
    built): ``hdop = Field(7, _f)``. A missing field reads as the empty string."""

    __slots__ = ("convert", "index")

    def __init__(self, index: int, convert: Callable[[str], T]) -> None:
        self.index = index
        self.convert = convert

    @overload
    def __get__(self, record: None, owner: type[Sentence]) -> Self: ...
    @overload
    def __get__(self, record: Sentence, owner: type[Sentence]) -> T: ...
    def __get__(self, record: Sentence | None, owner: type[Sentence]) -> Self | T:
        if record is None:
            return self
        try:
            text = record.fields[self.index]
        except IndexError:  # a short sentence: its missing fields are empty
            text = ""
        return self.convert(text)


class Angle:
    """A latitude or longitude: ``ddmm.mmmm`` at ``index``, its hemisphere at ``index + 1``, read
    as signed degrees on access."""

    __slots__ = ("index",)

    def __init__(self, index: int) -> None:
        self.index = index

    @overload
    def __get__(self, record: None, owner: type[Sentence]) -> Self: ...
    @overload
    def __get__(self, record: Sentence, owner: type[Sentence]) -> float | None: ...
    def __get__(self, record: Sentence | None, owner: type[Sentence]) -> Self | float | None:
        if record is None:
            return self
        fields = record.fields
        return _angle(_get(fields, self.index), _get(fields, self.index + 1))


# --- the sentence types: one attribute per field, by index (NMEA 0183 v4.10 field order) -------


class _Fix(Sentence):
    """What GGA and GNS share: time, position (fields 0-4) and the height they both make from
    altitude and geoid separation."""

    __slots__ = ()
    tod = Field(0, _tod)  # seconds of the UTC day
    lat = Angle(1)
    lon = Angle(3)

    @property
    def altitude_msl(self) -> float | None:
        raise NotImplementedError

    @property
    def geoid_sep(self) -> float | None:
        raise NotImplementedError

    @property
    def height(self) -> float | None:
        """Ellipsoidal height: altitude above mean sea level + geoid separation."""
        alt = self.altitude_msl
        return None if alt is None else alt + (self.geoid_sep or 0.0)


class Gga(_Fix):
    """Position fix with the GGA quality indicator (0-8, :class:`gnss.quality.FixQuality`)."""

    __slots__ = ()
    quality = Field(5, _count)
    satellites = Field(6, _i)
    hdop = Field(7, _f)
    altitude_msl = Field(8, _f)
    geoid_sep = Field(10, _f)
    age_diff = Field(12, _f)
    station_id = Field(13, _text)


class Gns(_Fix):
    """Position fix with a mode indicator per constellation."""

    __slots__ = ()
    mode = Field(5, str)  # one indicator per constellation (GPS, GLONASS, Galileo, BeiDou...)
    satellites = Field(6, _i)
    hdop = Field(7, _f)
    altitude_msl = Field(8, _f)
    geoid_sep = Field(9, _f)
    age_diff = Field(10, _f)
    station_id = Field(11, _text)

    @property
    def quality(self) -> int:
        """The best constellation's mode as a GGA quality."""
        ranked = {GNS_QUALITY.get(c, FixQuality.INVALID) for c in self.mode}
        return next((int(q) for q in GNS_PREFERENCE if q in ranked), 0)


class Rmc(Sentence):
    __slots__ = ()
    tod = Field(0, _tod)
    valid = Field(1, _is_a)
    lat = Angle(2)
    lon = Angle(4)
    speed_m_s = Field(6, _knots)
    course_deg = Field(7, _f)
    day = Field(8, _date)
    mode = Field(11, _text)


class Gsa(Sentence):
    __slots__ = ()
    fix_type = Field(1, _i)  # 1 none, 2 2D, 3 3D
    pdop = Field(14, _f)
    hdop = Field(15, _f)
    vdop = Field(16, _f)
    system_id = Field(17, _i)  # NMEA 4.10: 1 GPS, 2 GLONASS, 3 Galileo, 4 BeiDou, 5 QZSS

    @property
    def prns(self) -> tuple[int, ...]:
        return tuple(p for p in (_i(x) for x in self.fields[2:14]) if p is not None)


@dataclass(frozen=True, slots=True)
class SatInView:
    prn: int
    elevation: int | None
    azimuth: int | None
    snr: int | None


class Gsv(Sentence):
    __slots__ = ()
    messages = Field(0, _count)
    number = Field(1, _count)
    in_view = Field(2, _count)

    @property
    def signal_id(self) -> str | None:
        """NMEA 4.10 appends the signal id: an odd field after the groups of four."""
        body = self.fields[3:]
        return (body[-1] or None) if len(body) % 4 == 1 else None

    @property
    def satellites(self) -> tuple[SatInView, ...]:
        body = self.fields[3:]
        sats = []
        for k in range(0, len(body) - len(body) % 4, 4):
            prn = _i(body[k])
            if prn is not None:
                sats.append(SatInView(prn, _i(body[k + 1]), _i(body[k + 2]), _i(body[k + 3])))
        return tuple(sats)


class Gst(Sentence):
    """Pseudorange error statistics: 1-sigma errors in metres, the receiver's own estimate."""

    __slots__ = ()
    tod = Field(0, _tod)
    rms = Field(1, _f)
    sigma_major = Field(2, _f)
    sigma_minor = Field(3, _f)
    orientation_deg = Field(4, _f)
    sigma_lat = Field(5, _f)
    sigma_lon = Field(6, _f)
    sigma_height = Field(7, _f)


class Vtg(Sentence):
    __slots__ = ()
    course_true = Field(0, _f)
    course_magnetic = Field(2, _f)
    mode = Field(8, _text)

    @property
    def speed_m_s(self) -> float | None:
        kmh = _f(self.field(6))
        if kmh is not None:
            return kmh / 3.6
        return _knots(self.field(4))


class Zda(Sentence):
    __slots__ = ()
    tod = Field(0, _tod)

    @property
    def day(self) -> date | None:
        dd, mm, yyyy = _i(self.field(1)), _i(self.field(2)), _i(self.field(3))
        if not (dd and mm and yyyy):
            return None
        try:
            return date(yyyy, mm, dd)
        except ValueError:
            return None


class Gll(Sentence):
    __slots__ = ()
    lat = Angle(0)
    lon = Angle(2)
    tod = Field(4, _tod)
    valid = Field(5, _is_a)
    mode = Field(6, _text)


@dataclass(slots=True)
class Other:
    """A sentence pynmea2 reads but we do not type (proprietary ones included)."""

    address: str
    fields: Sequence[str]


NmeaRecord = Gga | Gns | Rmc | Gsa | Gsv | Gst | Vtg | Zda | Gll | Other

TYPED: dict[str, type[Sentence]] = {
    "GGA": Gga,
    "GNS": Gns,
    "RMC": Rmc,
    "GSA": Gsa,
    "GSV": Gsv,
    "GST": Gst,
    "VTG": Vtg,
    "ZDA": Zda,
    "GLL": Gll,
}
# pynmea2's sentence class -> ours: one dict lookup per sentence
BY_CLASS: dict[type, type[Sentence]] = {
    pynmea2.TalkerSentence.sentence_types[name]: ours for name, ours in TYPED.items()
}


def address_of(line: str) -> str:
    """The sentence's address field (``GNGGA``, ``PSTI``...): how counts are keyed."""
    end = len(line)
    for sep in (",", "*"):
        k = line.find(sep, 1)
        if 0 < k < end:
            end = k
    return line[1:end]


def record_of(msg: Any, line: str) -> NmeaRecord:
    """pynmea2's parse of ``line`` to our record."""
    cls = BY_CLASS.get(type(msg))
    if cls is not None and msg.talker in TALKERS:
        return cls(msg.talker, msg.data)  # type: ignore[return-value]
    return Other(address_of(line), msg.data)


def parse_sentence(line: str) -> NmeaRecord:
    """One sentence (``$`` to checksum, no line end) to a record; raises ``ValueError`` when pynmea2
    cannot read it or its checksum is wrong (``pynmea2.ChecksumError`` is a ValueError)."""
    return record_of(pynmea2.parse(line), line)


# --- writing ---------------------------------------------------------------------------------


def nmea_angle(deg: float, deg_digits: int) -> str:
    """``dddmm.mmmmmmm``: rounded once in integer units so minutes never print as 60."""
    units = round(abs(deg) * 60 * 10**7)
    whole, frac = divmod(units, 60 * 10**7)
    minutes, rest = divmod(frac, 10**7)
    return f"{whole:0{deg_digits}d}{minutes:02d}.{rest:07d}"


def with_checksum(body: str) -> str:
    """``$body*CS`` (no line end): the XOR of the body's bytes, as NMEA 0183 defines it."""
    check = 0
    for byte in body.encode("ascii"):
        check ^= byte
    return f"${body}*{check:02X}"


def gga_sentence(
    lat: float,
    lon: float,
    height_m: float,
    *,
    tod_s: float = 0.0,
    quality: int = 1,
    satellites: int = 10,
    hdop: float = 1.0,
    talker: str = "GN",
) -> str:
    """A GGA sentence for a position (ellipsoidal height, geoid separation 0): what a rover sends
    an NTRIP caster so that ``NEAREST`` or a VRS can place it."""
    hours, rest = divmod(tod_s % 86_400.0, 3600.0)
    minutes, seconds = divmod(rest, 60.0)
    hms = f"{int(hours):02d}{int(minutes):02d}{seconds:05.2f}"
    return with_checksum(
        f"{talker}GGA,{hms},{nmea_angle(lat, 2)},{'N' if lat >= 0 else 'S'},"
        f"{nmea_angle(lon, 3)},{'E' if lon >= 0 else 'W'},{quality},{satellites:02d},"
        f"{hdop:.1f},{height_m:.3f},M,0.000,M,,"
    )
