"""MSM signal-ID tables: RTCM 10403.3 signal mask index (1..32) -> RINEX observation code and carrier.

Sources: RTCM 10403.3 Tables 3.5-91 (GPS), 3.5-96 (GLONASS), 3.5-99 (Galileo), 3.5-102 (SBAS),
3.5-105 (QZSS), 3.5-108 (BeiDou, with Amendment 2's B2b IDs 25-27), 3.5-108.3 (NavIC),
cross-checked against RTKLIB's ``msm_sig_*`` arrays and pyrtcm's ``*_SIG_MAP``. BeiDou codes
follow RINEX 3.04 (B1I is ``2I``).
Carrier frequencies come from the systems' ICDs. GLONASS G1/G2 are FDMA: the table holds the
channel-0 frequency and the per-channel step, and :func:`carrier_hz` applies the channel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "CLIGHT",
    "SIGNALS",
    "Signal",
    "carrier_hz",
    "code_table",
    "freq_tables",
    "signal",
]

CLIGHT: Final = 299_792_458.0

_L1 = 1575.42e6
_L2 = 1227.60e6
_L5 = 1176.45e6
_E5B = 1207.14e6
_E5AB = 1191.795e6
_E6 = 1278.75e6
_G1, _G1_STEP = 1602.0e6, 0.5625e6
_G2, _G2_STEP = 1246.0e6, 0.4375e6
_B1I = 1561.098e6
_B3I = 1268.52e6


@dataclass(frozen=True, slots=True)
class Signal:
    """One MSM signal: RINEX code (``'1C'``), band name, carrier (channel 0 for GLONASS FDMA)."""

    code: str
    band: str
    freq_hz: float
    fdma_step_hz: float = 0.0


def _sigs(rows: dict[int, tuple[str, str, float]], step: dict[str, float] | None = None) -> dict[int, Signal]:
    steps = step or {}
    return {i: Signal(code, band, f, steps.get(band, 0.0)) for i, (code, band, f) in rows.items()}


SIGNALS: Final[dict[str, dict[int, Signal]]] = {
    "G": _sigs(
        {
            2: ("1C", "L1", _L1),
            3: ("1P", "L1", _L1),
            4: ("1W", "L1", _L1),
            8: ("2C", "L2", _L2),
            9: ("2P", "L2", _L2),
            10: ("2W", "L2", _L2),
            15: ("2S", "L2", _L2),
            16: ("2L", "L2", _L2),
            17: ("2X", "L2", _L2),
            22: ("5I", "L5", _L5),
            23: ("5Q", "L5", _L5),
            24: ("5X", "L5", _L5),
            30: ("1S", "L1", _L1),
            31: ("1L", "L1", _L1),
            32: ("1X", "L1", _L1),
        }
    ),
    "R": _sigs(
        {2: ("1C", "G1", _G1), 3: ("1P", "G1", _G1), 8: ("2C", "G2", _G2), 9: ("2P", "G2", _G2)},
        {"G1": _G1_STEP, "G2": _G2_STEP},
    ),
    "E": _sigs(
        {
            2: ("1C", "E1", _L1),
            3: ("1A", "E1", _L1),
            4: ("1B", "E1", _L1),
            5: ("1X", "E1", _L1),
            6: ("1Z", "E1", _L1),
            8: ("6C", "E6", _E6),
            9: ("6A", "E6", _E6),
            10: ("6B", "E6", _E6),
            11: ("6X", "E6", _E6),
            12: ("6Z", "E6", _E6),
            14: ("7I", "E5b", _E5B),
            15: ("7Q", "E5b", _E5B),
            16: ("7X", "E5b", _E5B),
            18: ("8I", "E5ab", _E5AB),
            19: ("8Q", "E5ab", _E5AB),
            20: ("8X", "E5ab", _E5AB),
            22: ("5I", "E5a", _L5),
            23: ("5Q", "E5a", _L5),
            24: ("5X", "E5a", _L5),
        }
    ),
    "S": _sigs({2: ("1C", "L1", _L1), 22: ("5I", "L5", _L5), 23: ("5Q", "L5", _L5), 24: ("5X", "L5", _L5)}),
    "I": _sigs({22: ("5A", "L5", _L5)}),
    "J": _sigs(
        {
            2: ("1C", "L1", _L1),
            9: ("6S", "L6", _E6),
            10: ("6L", "L6", _E6),
            11: ("6X", "L6", _E6),
            15: ("2S", "L2", _L2),
            16: ("2L", "L2", _L2),
            17: ("2X", "L2", _L2),
            22: ("5I", "L5", _L5),
            23: ("5Q", "L5", _L5),
            24: ("5X", "L5", _L5),
            30: ("1S", "L1", _L1),
            31: ("1L", "L1", _L1),
            32: ("1X", "L1", _L1),
        }
    ),
    "C": _sigs(
        {
            2: ("2I", "B1I", _B1I),
            3: ("2Q", "B1I", _B1I),
            4: ("2X", "B1I", _B1I),
            8: ("6I", "B3I", _B3I),
            9: ("6Q", "B3I", _B3I),
            10: ("6X", "B3I", _B3I),
            14: ("7I", "B2I", _E5B),
            15: ("7Q", "B2I", _E5B),
            16: ("7X", "B2I", _E5B),
            22: ("5D", "B2a", _L5),
            23: ("5P", "B2a", _L5),
            24: ("5X", "B2a", _L5),
            25: ("7D", "B2b", _E5B),
            26: ("7P", "B2b", _E5B),
            27: ("7Z", "B2b", _E5B),
            30: ("1D", "B1C", _L1),
            31: ("1P", "B1C", _L1),
            32: ("1X", "B1C", _L1),
        }
    ),
}


def signal(system: str, sig_id: int) -> Signal | None:
    return SIGNALS.get(system, {}).get(sig_id)


def carrier_hz(system: str, sig_id: int, channel: int | None = None) -> float:
    """Carrier of ``sig_id``; NaN for an unknown signal, or a GLONASS FDMA signal without channel."""
    sig = signal(system, sig_id)
    if sig is None:
        return float("nan")
    if sig.fdma_step_hz:
        return float("nan") if channel is None else sig.freq_hz + channel * sig.fdma_step_hz
    return sig.freq_hz


def _code_table(system: str) -> NDArray[np.str_]:
    table = np.full(33, "", dtype="<U2")
    for i, sig in SIGNALS[system].items():
        table[i] = sig.code
    return table


def _freq_tables(system: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    base = np.full(33, np.nan)
    step = np.zeros(33)
    for i, sig in SIGNALS[system].items():
        base[i] = sig.freq_hz
        step[i] = sig.fdma_step_hz
    return base, step


_CODES = {s: _code_table(s) for s in SIGNALS}
_FREQS = {s: _freq_tables(s) for s in SIGNALS}


def code_table(system: str) -> NDArray[np.str_]:
    """Array indexed by signal ID (0..32) holding RINEX codes ('' where the ID is unassigned)."""
    return _CODES[system]


def freq_tables(system: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(channel-0 carrier Hz, FDMA step Hz) arrays indexed by signal ID; NaN carrier where unassigned."""
    return _FREQS[system]
