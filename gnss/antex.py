"""Antenna phase-centre models from ANTEX 1.4 files, and the receiver antenna's range correction.

A receiver measures ranges to its antenna's electrical phase centre, which sits a few centimetres
above the antenna reference point (ARP) and moves with the signal's direction and frequency. ANTEX
gives, per antenna type and frequency, the mean phase-centre offset (north, east, up from the
ARP, millimetres) and the phase-centre variations (PCV) on a zenith grid, without azimuth
(``NOAZI``) and optionally on an azimuth x zenith grid. Two receivers with different antennas
(here a Javad choke ring on the rover, a Trimble Zephyr 2 on the base) see different offsets, and
the difference does not cancel in double differences: on css078 the two L2 offsets differ by 2 mm
up, the L1 by 4 mm, which would otherwise go into the rover's height.

The range model is RTKLIB 2.4.3 b34's, the reference our RTK engine is held to:

- ``readantex`` keeps, for a receiver antenna, only the GPS blocks (``G01``, ``G02``, ``G05``) and
  puts them in frequency slots 1, 2, 3; every system uses those slots' values for its own first,
  second and third frequency (Galileo's E5b and QZSS's L2 take GPS L2's pattern). A slot left
  empty takes slot 2's (L2's) offset and PCV (``readpcv``: "apply L2 to L3 ... if no pcv data").
- ``antmodel``: ``dant[f] = -(offset[f] + delta) . e`` with ``e`` the east/north/up unit vector
  towards the satellite, plus the NOAZI PCV linearly interpolated in zenith angle (clamped at the
  grid's ends) when the receiver PCV option (``pos1-posopt2``) is on. The model is added to the
  computed range of both phase and code.
- ``searchpcv``: the first antenna whose type contains every word of the requested one (model and
  radome), else the first whose type starts with the model: an antenna without its radome's
  calibration falls back to another radome's.

RTKLIB reads the NOAZI values as a 0, 5, ..., 90 degree grid whatever ``ZEN1 / ZEN2 / DZEN`` says;
we use the grid the file declares, which is the same for every receiver antenna of the IGS files
(and both antennas here). The azimuth-dependent grids are read and interpolated
(:func:`pcv_m`), but RTKLIB's receiver model, and so ours in RTK, uses the NOAZI values only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
RTKLIB_RECEIVER_FREQS: Final = ("G01", "G02", "G05")  # RTKLIB 2.4.3's slots 1, 2, 3 (NFREQ = 3)
_SATELLITE_CODE: Final = re.compile(r"[A-Z]\d\d")


class AntexError(ValueError):
    """A malformed ANTEX file."""


@dataclass(frozen=True, slots=True, eq=False)
class FrequencyPattern:
    """One frequency block: offset (m; receiver: north/east/up of the ARP, satellite: x/y/z in
    the body frame) and PCV (m) on the antenna's zenith grid, optionally per azimuth."""

    code: str  # ANTEX frequency code: "G01", "E05", ...
    neu_m: F64  # (3,)
    noazi_m: F64  # (n_zen,)
    grid_m: F64 | None  # (n_azi, n_zen), rows at 0, DAZI, ..., 360 degrees; None when DAZI = 0


@dataclass(frozen=True, slots=True, eq=False)
class Antenna:
    type: str  # the 20 columns: model (16) and radome (4), as written
    serial: str  # serial number, or satellite code ("G01") for a satellite antenna
    dazi_deg: float
    zen_deg: F64  # (n_zen,) ZEN1, ZEN1 + DZEN, ..., ZEN2
    frequencies: dict[str, FrequencyPattern]

    @property
    def model(self) -> str:
        return self.type[:16].strip()

    @property
    def radome(self) -> str:
        return self.type[16:20].strip()

    @property
    def is_satellite(self) -> bool:
        """RTKLIB's test: the serial field is a satellite code alone ("G01", then blanks)."""
        return bool(_SATELLITE_CODE.fullmatch(self.serial))


def _floats(text: str, what: str, line_no: int) -> list[float]:
    try:
        return [float(v) for v in text.split()]
    except ValueError as exc:
        raise AntexError(f"line {line_no}: bad {what}: {text.strip()!r}") from exc


class _AntennaBuilder:
    """The fields of one ``START OF ANTENNA`` ... ``END OF ANTENNA`` block as they are read."""

    def __init__(self) -> None:
        self.type = ""
        self.serial = ""
        self.dazi = 0.0
        self.zen: F64 | None = None
        self.freqs: dict[str, FrequencyPattern] = {}
        self.code: str | None = None  # the open frequency block
        self.neu: F64 | None = None
        self.noazi: F64 | None = None
        self.rows: list[list[float]] = []

    def close_frequency(self, line_no: int) -> None:
        if self.code is None or self.zen is None:
            raise AntexError(f"line {line_no}: END OF FREQUENCY outside a frequency block")
        if self.neu is None or self.noazi is None:
            raise AntexError(f"line {line_no}: frequency {self.code} lacks NORTH / EAST / UP or NOAZI")
        grid = None
        if self.dazi > 0.0:
            azimuths = np.array([r[0] for r in self.rows])
            expected = np.arange(0.0, 360.0 + self.dazi / 2, self.dazi)
            values = np.array([r[1:] for r in self.rows]) * 1e-3 if self.rows else np.zeros((0, 0))
            if azimuths.shape != expected.shape or not np.allclose(azimuths, expected):
                raise AntexError(f"line {line_no}: frequency {self.code}: azimuth rows are not 0:DAZI:360")
            if values.shape[1] != self.zen.size:
                raise AntexError(
                    f"line {line_no}: frequency {self.code}: azimuth rows do not fit the zenith grid"
                )
            grid = values
        self.freqs[self.code] = FrequencyPattern(self.code, self.neu, self.noazi, grid)
        self.code, self.neu, self.noazi, self.rows = None, None, None, []

    def build(self, line_no: int) -> Antenna:
        if self.zen is None:
            raise AntexError(f"line {line_no}: antenna {self.type!r} has no ZEN1 / ZEN2 / DZEN")
        return Antenna(self.type, self.serial, self.dazi, self.zen, self.freqs)


def read_antex(source: str | Path | bytes) -> list[Antenna]:
    """Every antenna of an ANTEX 1.4 file (a path, or the file's bytes), in file order (the order
    :func:`find_receiver` searches). Offsets and PCV come out in metres. ``START OF FREQ RMS``
    blocks (the calibrations' standard deviations) are skipped."""
    raw = source if isinstance(source, bytes) else Path(source).read_bytes()
    antennas: list[Antenna] = []
    ant: _AntennaBuilder | None = None
    in_rms = False
    for line_no, line in enumerate(raw.decode("ascii", errors="replace").splitlines(), start=1):
        label = line[60:].strip()
        if label == "COMMENT":
            continue
        if label == "START OF ANTENNA":
            ant = _AntennaBuilder()
            continue
        if ant is None:
            continue  # the header
        if label == "END OF ANTENNA":
            antennas.append(ant.build(line_no))
            ant = None
        elif label == "START OF FREQ RMS":
            in_rms = True
        elif label == "END OF FREQ RMS":
            in_rms = False
        elif in_rms:
            continue
        elif label == "TYPE / SERIAL NO":
            ant.type, ant.serial = line[:20].ljust(20), line[20:40].strip()
        elif label == "DAZI":
            ant.dazi = _floats(line[2:8], "DAZI", line_no)[0]
        elif label == "ZEN1 / ZEN2 / DZEN":
            zen1, zen2, dzen = _floats(line[2:20], "ZEN1 / ZEN2 / DZEN", line_no)
            if dzen <= 0.0 or zen2 < zen1:
                raise AntexError(f"line {line_no}: bad zenith grid {zen1} {zen2} {dzen}")
            ant.zen = zen1 + dzen * np.arange(round((zen2 - zen1) / dzen) + 1, dtype=np.float64)
        elif label == "START OF FREQUENCY":
            ant.code = line[3:6]
        elif label == "NORTH / EAST / UP":
            ant.neu = np.array(_floats(line[:30], "NORTH / EAST / UP", line_no)) * 1e-3
        elif label == "END OF FREQUENCY":
            ant.close_frequency(line_no)
        elif ant.code is not None and line[3:8] == "NOAZI":
            values = _floats(line[8:], "NOAZI", line_no)
            if ant.zen is None or len(values) != ant.zen.size:
                raise AntexError(f"line {line_no}: NOAZI does not fit the zenith grid")
            ant.noazi = np.array(values) * 1e-3
        elif ant.code is not None and line.strip():
            ant.rows.append(_floats(line, "azimuth row", line_no))
    if ant is not None:
        raise AntexError("the file ends inside an antenna block")
    return antennas


def find_receiver(antennas: list[Antenna], antenna_type: str) -> Antenna | None:
    """The receiver antenna RTKLIB's ``searchpcv`` picks for ``antenna_type`` ("model radome"):
    the first whose type contains both words, else the first whose type starts with the model
    (a radome without calibration falls back to the bare antenna's). Satellite antennas are left
    out (RTKLIB would also match them on a substring)."""
    words = antenna_type.split()[:2]
    if not words:
        return None
    receivers = [a for a in antennas if not a.is_satellite]
    for a in receivers:
        if all(w in a.type for w in words):
            return a
    return next((a for a in receivers if a.type.startswith(words[0])), None)


@dataclass(frozen=True, slots=True, eq=False)
class ReceiverModel:
    """What the range model needs of one receiver antenna, per frequency slot of the engine."""

    offset_enu_m: F64  # (n_slots, 3) phase-centre offset plus the antenna delta (ARP - marker)
    zen_deg: F64  # (n_zen,)
    pcv_m: F64  # (n_slots, n_zen), NOAZI
    apply_pcv: bool


def receiver_model(
    antenna: Antenna | None,
    n_slots: int,
    delta_enu_m: tuple[float, float, float] = (0.0, 0.0, 0.0),
    apply_pcv: bool = False,
) -> ReceiverModel:
    """RTKLIB 2.4.3's view of a receiver antenna: slot ``k`` takes the GPS block
    ``RTKLIB_RECEIVER_FREQS[k]``, a missing third slot L2's values, a missing antenna (or block)
    zeros, so that only the delta (the marker to ARP vector, east/north/up) remains."""
    delta = np.asarray(delta_enu_m, dtype=np.float64)
    zen = antenna.zen_deg if antenna is not None else np.array([0.0, 90.0])
    off = np.zeros((n_slots, 3))
    pcv = np.zeros((n_slots, zen.size))
    if antenna is not None:
        for k, code in enumerate(RTKLIB_RECEIVER_FREQS[:n_slots]):
            block = antenna.frequencies.get(code)
            if block is not None:
                off[k] = block.neu_m[[1, 0, 2]]  # north, east, up -> east, north, up
                pcv[k] = block.noazi_m
        for k in range(2, n_slots):
            if not off[k].any():
                off[k], pcv[k] = off[1], pcv[1]
    return ReceiverModel(off + delta, zen, pcv, apply_pcv)


def _enu_unit(az_rad: F64, el_rad: F64) -> F64:
    cos_el = np.cos(el_rad)
    return np.stack([np.sin(az_rad) * cos_el, np.cos(az_rad) * cos_el, np.sin(el_rad)], axis=-1)


def _zenith_weights(zen_grid: F64, zen_deg: F64) -> tuple[NDArray[np.intp], F64]:
    """Lower grid index and linear weight of each zenith angle, clamped at the grid's ends."""
    z = np.clip(zen_deg, zen_grid[0], zen_grid[-1])
    j = np.clip(np.searchsorted(zen_grid, z, side="right") - 1, 0, zen_grid.size - 2)
    w = (z - zen_grid[j]) / (zen_grid[j + 1] - zen_grid[j])
    return j, w


def range_correction_m(model: ReceiverModel, az_rad: F64, el_rad: F64) -> F64:
    """Receiver antenna range correction (m), ``(n_sats, n_slots)``, RTKLIB's ``antmodel``: added
    to the computed range of phase and code. NaN angles give NaN rows."""
    az = np.asarray(az_rad, dtype=np.float64)
    el = np.asarray(el_rad, dtype=np.float64)
    dant = -(_enu_unit(az, el) @ model.offset_enu_m.T)
    if model.apply_pcv:
        j, w = _zenith_weights(model.zen_deg, 90.0 - np.degrees(el))
        pcv = model.pcv_m[:, j] * (1.0 - w) + model.pcv_m[:, j + 1] * w  # (n_slots, n)
        dant = dant + pcv.T
    return np.asarray(dant, dtype=np.float64)


def pcv_m(antenna: Antenna, code: str, az_rad: F64, el_rad: F64) -> F64:
    """Phase-centre variation (m) of one frequency block towards each direction: bilinear in
    azimuth and zenith on the azimuth grid when the block has one, else the NOAZI values
    interpolated in zenith. Not RTKLIB 2.4.3's receiver model (NOAZI only): for other engines
    and for checking how much the azimuth terms matter."""
    block = antenna.frequencies[code]
    j, w = _zenith_weights(antenna.zen_deg, 90.0 - np.degrees(np.asarray(el_rad, dtype=np.float64)))
    if block.grid_m is None:
        return np.asarray(block.noazi_m[j] * (1.0 - w) + block.noazi_m[j + 1] * w, dtype=np.float64)
    az = np.degrees(np.asarray(az_rad, dtype=np.float64)) % 360.0
    i = np.minimum((az // antenna.dazi_deg).astype(np.intp), block.grid_m.shape[0] - 2)
    v = (az - i * antenna.dazi_deg) / antenna.dazi_deg
    g = block.grid_m
    lo = g[i, j] * (1.0 - w) + g[i, j + 1] * w
    hi = g[i + 1, j] * (1.0 - w) + g[i + 1, j + 1] * w
    return np.asarray(lo * (1.0 - v) + hi * v, dtype=np.float64)
