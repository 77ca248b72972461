"""Rover and base observations as aligned arrays: satellites x frequency slots, per epoch.

Each system's frequency slot 1/2/3 takes, per receiver, the first signal of the band it tracked, in
RTKLIB 2.4.3's code priority (GPS L2: the semi-codeless P(Y) before L2C; Galileo's second slot is
E5b, BeiDou's B2I), so our double differences pair the same signals RTKLIB's do and the two
engines' outputs compare like for like. Satellites are the union of both files' columns (same order
for both receivers); a receiver that lacks one has NaN there. Base epochs are matched to each rover
epoch: the latest at or before it within the age limit.

GLONASS (FDMA) wavelengths differ per satellite: they come from the frequency channels of the
observation file's header, or of the broadcast records (``glonass_channels``) when the header has
none (RINEX 2, or a satellite it omits). RTKLIB 2.4.3's priority there is the P code first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from gnss import glonass
from gnss.rinex import Observations
from gnss.rtk.broadcast import gpst_seconds

F64 = NDArray[np.float64]
I8 = NDArray[np.int8]
CLIGHT: Final = 299_792_458.0
SIGNAL_PRIORITY: Final[dict[str, tuple[tuple[str, ...], ...]]] = {
    "G": (
        ("1C", "1P", "1W", "1Y", "1X", "1S", "1L"),
        ("2W", "2P", "2Y", "2C", "2D", "2S", "2L", "2X"),
        ("5I", "5Q", "5X"),
    ),
    "E": (("1C", "1A", "1B", "1X", "1Z"), ("7Q", "7I", "7X"), ("5Q", "5I", "5X")),
    "J": (("1C", "1S", "1L", "1X"), ("2S", "2L", "2X"), ("5Q", "5I", "5X")),
    "C": (("2I", "2Q", "2X", "1I"), ("7I", "7Q", "7X"), ("6I", "6Q", "6X")),
    "R": (("1P", "1C"), ("2P", "2C"), ()),  # no third FDMA band (G3 is CDMA)
}  # fmt: skip


@dataclass(frozen=True, slots=True, eq=False)
class ReceiverEpochs:
    """One receiver's observables, ``(n_epochs, n_sats, n_freqs)``; phase in cycles."""

    t_gpst_s: F64
    time: NDArray[np.datetime64]  # the epochs as the file states them (GPST)
    pr_m: F64
    cp_cyc: F64
    dop_hz: F64
    cn0_dbhz: F64
    lli: I8


@dataclass(frozen=True, slots=True, eq=False)
class ObsSet:
    sats: NDArray[np.str_]
    systems: NDArray[np.str_]
    wavelength_m: F64  # (n_sats, n_freqs), NaN where the slot has no signal
    signals: dict[str, tuple[str | None, ...]]  # per system, the rover's signal of each slot
    rover: ReceiverEpochs
    base: ReceiverEpochs | None
    base_index: NDArray[np.intp]  # per rover epoch: base epoch, -1 when none is recent enough

    @property
    def n_freqs(self) -> int:
        return int(self.wavelength_m.shape[1])


def _has(obs: Observations, system: str, sig: str) -> bool:
    cols = obs.columns(system)
    if cols.size == 0:
        return False
    s = obs.signal(sig)
    return bool(np.isfinite(s.cp_cyc[:, cols]).any() or np.isfinite(s.pr_m[:, cols]).any())


def choose_signals(
    receivers: list[Observations], systems: str, n_freqs: int
) -> list[dict[str, tuple[str | None, ...]]]:
    """Per receiver and system, the signal of each frequency slot. Each receiver takes its own
    best-priority tracking mode of the band (a Septentrio's E1C pairs with a Trimble's E1X: same
    carrier), as RTKLIB does; a slot some receiver lacks is None for all."""
    plans: list[dict[str, tuple[str | None, ...]]] = [{} for _ in receivers]
    for system in systems:
        per_slot = [
            [next((c for c in candidates if _has(o, system, c)), None) for o in receivers]
            for candidates in SIGNAL_PRIORITY[system][:n_freqs]
        ]
        for r in range(len(receivers)):
            plans[r][system] = tuple(None if None in slot else slot[r] for slot in per_slot)
    return plans


def _receiver(
    obs: Observations, sats: NDArray[np.str_], plan: dict[str, tuple[str | None, ...]], nf: int
) -> ReceiverEpochs:
    n_ep = obs.time.size
    shape = (n_ep, len(sats), nf)
    pr, cp, dop, cn0 = (np.full(shape, np.nan) for _ in range(4))
    lli = np.zeros(shape, np.int8)
    col_of = {s: i for i, s in enumerate(obs.sats.tolist())}
    for system, slots in plan.items():
        ours = np.flatnonzero(np.char.startswith(sats, system))
        theirs = np.array([col_of.get(str(s), -1) for s in sats[ours]], dtype=np.intp)
        have = theirs >= 0
        dst, src = ours[have], theirs[have]
        for f, sig in enumerate(slots):
            if sig is None:
                continue
            s = obs.signal(sig)
            pr[:, dst, f] = s.pr_m[:, src]
            cp[:, dst, f] = s.cp_cyc[:, src]
            dop[:, dst, f] = s.dop_hz[:, src]
            cn0[:, dst, f] = s.cn0_dbhz[:, src]
            lli[:, dst, f] = s.lli[:, src]
    # a zero pseudorange or phase is "not observed" in RINEX practice
    pr[pr == 0.0] = np.nan
    cp[cp == 0.0] = np.nan
    return ReceiverEpochs(gpst_seconds(obs.time), obs.time.astype("datetime64[ns]"), pr, cp, dop, cn0, lli)


def _glonass_wavelengths(
    wl: F64, sats: NDArray[np.str_], slots: tuple[str | None, ...], channels: dict[str, int]
) -> None:
    """Fill GLONASS wavelengths the observation headers left unknown from broadcast channels."""
    rows = np.flatnonzero(np.char.startswith(sats, "R"))
    k = np.array([channels.get(str(s), 99) for s in sats[rows]])
    known = k != 99
    for f, sig in enumerate(slots):
        if sig is None:
            continue
        need = known & np.isnan(wl[rows, f])
        wl[rows[need], f] = CLIGHT / glonass.carrier_hz(k[need], int(sig[0]))


def build(
    rover: Observations,
    base: Observations | None,
    systems: str,
    n_freqs: int,
    max_base_age_s: float = 30.0,
    glonass_channels: dict[str, int] | None = None,
) -> ObsSet:
    receivers = [rover] if base is None else [rover, base]
    plans = choose_signals(receivers, systems, n_freqs)
    plan = plans[0]
    names = set(rover.sats.tolist()) | (set(base.sats.tolist()) if base is not None else set())
    sats = np.array(sorted(s for s in names if s[0] in systems), dtype="<U3")
    wl = np.full((len(sats), n_freqs), np.nan)
    for system, slots in plan.items():
        rows = np.flatnonzero(np.char.startswith(sats, system))
        for f, sig in enumerate(slots):
            if sig is not None and rows.size:
                per_sat = dict(zip(rover.sats.tolist(), rover.wavelength_m(sig).tolist(), strict=True))
                wl[rows, f] = [per_sat.get(str(s), np.nan) for s in sats[rows]]
                missing = rows[np.isnan(wl[rows, f])]
                base_sig = plans[-1][system][f]
                if missing.size and base is not None and base_sig is not None:
                    per_base = dict(
                        zip(base.sats.tolist(), base.wavelength_m(base_sig).tolist(), strict=True)
                    )
                    wl[missing, f] = [per_base.get(str(s), np.nan) for s in sats[missing]]
    if glonass_channels and "R" in plan:
        _glonass_wavelengths(wl, sats, plan["R"], glonass_channels)
    rv = _receiver(rover, sats, plan, n_freqs)
    if base is None:
        return ObsSet(sats, sats.astype("<U1"), wl, plan, rv, None, np.full(rv.t_gpst_s.size, -1, np.intp))
    bs = _receiver(base, sats, plans[1], n_freqs)
    idx = np.searchsorted(bs.t_gpst_s, rv.t_gpst_s + 1e-3, side="right") - 1
    ok = idx >= 0
    age = np.where(ok, rv.t_gpst_s - bs.t_gpst_s[np.clip(idx, 0, None)], np.inf)
    idx = np.where(ok & (age <= max_base_age_s), idx, -1)
    return ObsSet(sats, sats.astype("<U1"), wl, plan, rv, bs, idx)
