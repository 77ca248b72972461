"""RTCM 3 streams as the RTK engine's input: the work RTKLIB's ``rtcm3.c`` and ``convbin`` do for it.

The parsing is :mod:`gnss.rtcm`'s (framing, MSM, ephemerides, station); this module only
assembles what it decodes:

- MSM4-7 of the chosen systems (MSM1-3 lack the whole milliseconds of the range; GLONASS is not
  used by the engine) are grouped into epochs by their time tag, so an epoch whose messages
  come in several frames (the multiple-message bit, e.g. BeiDou's 1127 split in three) is one
  epoch. BeiDou's tag is BDT and becomes GPST (+14 s). MSM signal IDs are already RINEX codes
  (``'1C'``, ``'2W'``, ``'2I'``, ``'7I'``), so the result is an :class:`gnss.rinex.Observations`
  as if read from the RINEX file ``convbin`` would write, and :func:`gnss.rtk.obsdata.build`
  applies the same signal priorities and base matching as to RINEX input.
- Loss of lock (LLI bit 0) as ``rtcm3.c`` sets it: the lock time indicator decreased since the
  signal's previous epoch, or is zero twice running; the half-cycle flag sets bits 0 and 1
  (value 3) like RTKLIB. One addition: a signal missing from at least one epoch of the stream
  that comes back with a lock time shorter than its absence was lost meanwhile, which the
  decrease test misses when the previous lock time was short.
- Ephemerides 1019/1042/1044/1045/1046 of both streams feed
  :meth:`gnss.rtk.broadcast.BroadcastNav.from_ephemerides`; the base's ARP comes from 1005/1006.

Time: MSM tags and ephemerides carry a time of week, and only Galileo's and BeiDou's weeks are
absolute (GPS/QZSS send theirs modulo 1024). The first tag is placed within half a week of an
ephemeris's toe, each later tag within half a week of the one before (so a stream may cross a
week boundary), and each ephemeris's toe within half a week of the epoch it arrived after.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
from numpy.typing import NDArray

from gnss.rinex import Observations, ObsHeader
from gnss.rtcm.decode import decode
from gnss.rtcm.ephemeris import KeplerEphemeris
from gnss.rtcm.framing import MAX_FRAME_LEN, RtcmFrame, RtcmFramer
from gnss.rtcm.msm import MSM_SYSTEMS, MsmEpoch, is_msm
from gnss.rtcm.station import ReceiverAntennaInfo, StationArp
from gnss.rtk.broadcast import BDT_GPST_S, BDT_WEEK0, GST_WEEK0, WEEK_S, BroadcastNav
from gnss.rtk.obsdata import ObsSet, build
from gnss.rtk.options import SUPPORTED_SYSTEMS, RtkOptions
from gnss.rtk.posfile import PosSolutions
from gnss.rtk.solve import solve_epochs

__all__ = [
    "RtcmStream",
    "message_times",
    "observations",
    "obsset_from_rtcm",
    "read_stream",
    "reference_gpst_s",
    "solve_rtcm",
]

F64 = NDArray[np.float64]
Source = bytes | bytearray | memoryview | Iterable[RtcmFrame]
Progress = Callable[[int, int], None]

EPHEMERIS_SYSTEM: Final = {1019: "G", 1042: "C", 1044: "J", 1045: "E", 1046: "E"}
_STATION_TYPES: Final = frozenset((1005, 1006, 1033))
_MIN_MSM: Final = 4  # MSM1-3 carry the range modulo one light-millisecond only
_GPS_EPOCH: Final = np.datetime64("1980-01-06T00:00:00", "ns")
_GPS_WEEK_ROLL: Final = 1024.0
_HALF_CYCLE_LLI: Final = 3  # RTKLIB: slip and half-cycle bits together
_EOF_PAD: Final = bytes(MAX_FRAME_LEN)
_GAP_FACTOR: Final = 1.5  # a gap longer than this many stream intervals means the signal was missing


@dataclass(frozen=True, slots=True, eq=False)
class RtcmStream:
    """What one RTCM stream carried for the engine, decoded, in arrival order.

    ``eph_after[i]``: how many MSM messages of ``msm`` arrived before ``ephemerides[i]`` (its
    reception time is the tag of the last of them). ``arp`` is the first 1005/1006 of the
    stream, ``antenna`` the first 1033. ``skipped_msm`` counts MSM frames not used: MSM1-3 and
    systems not asked for (GLONASS, SBAS, NavIC).
    """

    msm: tuple[MsmEpoch, ...]
    ephemerides: tuple[KeplerEphemeris, ...]
    eph_after: NDArray[np.intp]
    arp: StationArp | None
    antenna: ReceiverAntennaInfo | None
    frames: int
    bytes_skipped: int
    skipped_msm: int


def read_stream(source: Source, systems: str = SUPPORTED_SYSTEMS) -> RtcmStream:
    """Frame (raw bytes) and decode a stream; frames of other types are ignored undecoded."""
    framer: RtcmFramer | None = None
    if isinstance(source, bytes | bytearray | memoryview):
        framer = RtcmFramer()
        # End of file: a 0xD3 in noise whose claimed length runs past the end would hold every
        # frame after it pending; zeros (never a preamble) let the framer reject it and go on.
        frames: Iterable[RtcmFrame] = framer.feed(source) + framer.feed(_EOF_PAD)
    else:
        frames = source
    msm: list[MsmEpoch] = []
    ephs: list[KeplerEphemeris] = []
    after: list[int] = []
    arp: StationArp | None = None
    antenna: ReceiverAntennaInfo | None = None
    n_frames = skipped = 0
    for frame in frames:
        n_frames += 1
        t = frame.msg_type
        if is_msm(t):
            if MSM_SYSTEMS[t // 10] not in systems or t % 10 < _MIN_MSM:
                skipped += 1
                continue
            rec = decode(frame)
            if isinstance(rec, MsmEpoch):
                msm.append(rec)
        elif EPHEMERIS_SYSTEM.get(t, "-") in systems:
            rec = decode(frame)
            if isinstance(rec, KeplerEphemeris):
                ephs.append(rec)
                after.append(len(msm))
        elif t in _STATION_TYPES:
            rec = decode(frame)
            if isinstance(rec, StationArp) and arp is None:
                arp = rec
            elif isinstance(rec, ReceiverAntennaInfo) and antenna is None:
                antenna = rec
    return RtcmStream(
        msm=tuple(msm),
        ephemerides=tuple(ephs),
        eph_after=np.asarray(after, dtype=np.intp),
        arp=arp,
        antenna=antenna,
        frames=n_frames,
        bytes_skipped=framer.bytes_skipped - len(_EOF_PAD) if framer is not None else 0,
        skipped_msm=skipped,
    )


def reference_gpst_s(
    ephemerides: Iterable[KeplerEphemeris], approx_time: np.datetime64 | None = None
) -> float:
    """An absolute GPST (s) within hours of the data: the toe of a Galileo or BeiDou ephemeris
    (absolute weeks) if there is one, else a GPS/QZSS toe with its 10-bit week resolved against
    ``approx_time`` (default: today, as RTKLIB does); without ephemerides, ``approx_time`` itself."""
    recs = list(ephemerides)
    absolute = [r for r in recs if r.system in "EC"]
    if absolute:
        r = absolute[0]
        if r.system == "E":
            return (r.week + GST_WEEK0) * WEEK_S + r.toe_s
        return (r.week + BDT_WEEK0) * WEEK_S + r.toe_s + BDT_GPST_S
    approx = _approx_gpst_s(approx_time)
    if not recs:
        return approx
    r = recs[0]
    week = r.week + np.round((approx / WEEK_S - r.week) / _GPS_WEEK_ROLL) * _GPS_WEEK_ROLL
    return float(week * WEEK_S + r.toe_s)


def _approx_gpst_s(approx_time: np.datetime64 | None) -> float:
    if approx_time is None:
        approx_time = np.datetime64(datetime.datetime.now(datetime.UTC).replace(tzinfo=None), "ns")
    return float((approx_time.astype("datetime64[ns]") - _GPS_EPOCH) / np.timedelta64(1, "s"))


def message_times(stream: RtcmStream, t_ref_gpst_s: float) -> F64:
    """Absolute GPST (s) of each MSM message's tag (BDT + 14 s for BeiDou), unwrapped across weeks."""
    if not stream.msm:
        return np.zeros(0)
    tow = np.array([m.epoch_s + (BDT_GPST_S if m.system == "C" else 0.0) for m in stream.msm]) % WEEK_S
    weeks = np.round((t_ref_gpst_s - tow[0]) / WEEK_S) + np.concatenate(
        [[0.0], np.cumsum(np.round(-np.diff(tow) / WEEK_S))]
    )
    return np.asarray(tow + weeks * WEEK_S, dtype=np.float64)


def observations(stream: RtcmStream, t_msg_gpst_s: F64) -> Observations:
    """The stream's MSM messages as RINEX 3 observations (codes ``C1C``/``L1C``/``D1C``/``S1C``),
    one epoch per distinct tag. A cell sent twice in one epoch (e.g. by both MSM4 and MSM7)
    keeps the higher MSM level's value."""
    keys_ms = np.round(t_msg_gpst_s * 1000.0).astype(np.int64)
    epochs_ms, msg_epoch = np.unique(keys_ms, return_inverse=True)
    cells = _cells(stream.msm, msg_epoch)
    sats = np.unique(cells["sat"])
    codes = np.unique(cells["code"])
    n_ep, n_sat = epochs_ms.size, sats.size
    ep = cells["epoch"]
    col = np.searchsorted(sats, cells["sat"])
    code_ix = np.searchsorted(codes, cells["code"])
    # last of each (epoch, sat, code) group once sorted by level then arrival: the best cell
    order = np.lexsort((cells["arrival"], cells["level"], code_ix, col, ep))
    key = (ep[order] * n_sat + col[order]) * max(codes.size, 1) + code_ix[order]
    last = np.append(key[1:] != key[:-1], True) if key.size else np.zeros(0, bool)
    pick = order[last]

    t_s = epochs_ms / 1000.0
    interval = float(np.median(np.diff(t_s))) if n_ep > 1 else np.inf
    data: dict[str, F64] = {}
    lli: dict[str, NDArray[np.int8]] = {}
    ssi: dict[str, NDArray[np.int8]] = {}
    obs_types: dict[str, list[str]] = {}
    sat_system = sats.astype("<U1")
    for k, code in enumerate(codes.tolist()):
        sel = pick[code_ix[pick] == k]
        e, c = ep[sel], col[sel]
        arrays = {}
        for kind, field in (*_OBSERVABLES, ("T", "lock_s")):
            a = np.full((n_ep, n_sat), np.nan)
            a[e, c] = cells[field][sel]
            arrays[kind] = a
        present = np.zeros((n_ep, n_sat), bool)
        present[e, c] = True
        half = np.zeros((n_ep, n_sat), bool)
        half[e, c] = cells["half"][sel]
        flags = _loss_of_lock(arrays["T"], present, t_s, interval)
        flags[half] |= _HALF_CYCLE_LLI
        cn0 = arrays["S"]
        for kind in "CLDS":
            data[kind + code] = arrays[kind]
        lli["L" + code] = flags
        ssi_digit = np.clip(np.nan_to_num(cn0, nan=0.0) // 6, 1, 9).astype(np.int8)
        ssi["C" + code] = ssi["L" + code] = np.where(np.isnan(cn0), 0, ssi_digit).astype(np.int8)
        for system in np.unique(sat_system[c]).tolist():
            obs_types.setdefault(system, []).extend(kind + code for kind in "CLDS")
    time = _GPS_EPOCH + epochs_ms.astype("timedelta64[ms]").astype("timedelta64[ns]")
    arp = stream.arp
    info = stream.antenna
    header = ObsHeader(
        version=3.04,
        system="M",
        marker_name=f"RTCM station {arp.station_id}" if arp is not None else "",
        approx_xyz_m=arp.ecef_m.copy() if arp is not None else np.full(3, np.nan),
        antenna_delta_hen_m=np.zeros(3),  # the position is the ARP itself
        obs_types=obs_types,
        interval_s=interval if np.isfinite(interval) else None,
        time_first_obs=time[0] if n_ep else None,
        time_system="GPS",
        glonass_slots={},
        leap_seconds=None,
        receiver=info.receiver_type.strip() if info is not None else "",
        antenna=info.antenna_descriptor.strip() if info is not None else "",
    )
    return Observations(
        header=header,
        time=time,
        flags=np.zeros(n_ep, np.int8),
        clock_offset_s=np.full(n_ep, np.nan),
        sats=sats,
        data=data,
        lli=lli,
        ssi=ssi,
    )


_CELL_FIELDS: Final[dict[str, np.dtype]] = {
    "epoch": np.dtype(np.intp), "arrival": np.dtype(np.intp), "level": np.dtype(np.intp),
    "sat": np.dtype("<U3"), "code": np.dtype("<U2"), "pr_m": np.dtype(np.float64),
    "cp_cyc": np.dtype(np.float64), "dop_hz": np.dtype(np.float64), "cn0_dbhz": np.dtype(np.float64),
    "lock_s": np.dtype(np.float64), "half": np.dtype(np.bool_),
}  # fmt: skip
_OBSERVABLES: Final = (("C", "pr_m"), ("L", "cp_cyc"), ("D", "dop_hz"), ("S", "cn0_dbhz"))


def _cells(msm: tuple[MsmEpoch, ...], msg_epoch: NDArray[np.intp]) -> dict[str, np.ndarray]:
    """Every cell of every message as flat arrays (cells of unknown signal IDs dropped)."""
    parts: dict[str, list[np.ndarray]] = {k: [np.zeros(0, dtype)] for k, dtype in _CELL_FIELDS.items()}
    for i, m in enumerate(msm):
        keep = m.code != ""
        n = int(keep.sum())
        if n == 0:
            continue
        parts["epoch"].append(np.full(n, msg_epoch[i], np.intp))
        parts["arrival"].append(np.full(n, i, np.intp))
        parts["level"].append(np.full(n, m.msm, np.intp))
        parts["sat"].append(np.char.add(m.system, np.char.zfill(m.prn[keep].astype("<U2"), 2)))
        parts["code"].append(m.code[keep])
        parts["pr_m"].append(m.pr_m[keep])
        parts["cp_cyc"].append(m.cp_cyc[keep])
        parts["dop_hz"].append(m.doppler_hz[keep])
        parts["cn0_dbhz"].append(m.cn0_dbhz[keep])
        parts["lock_s"].append(m.lock_s[keep])
        parts["half"].append(m.half_cycle[keep])
    return {k: np.concatenate(v).astype(_CELL_FIELDS[k], copy=False) for k, v in parts.items()}


def _loss_of_lock(lock_s: F64, present: NDArray[np.bool_], t_s: F64, interval_s: float) -> NDArray[np.int8]:
    """LLI bit 0 per (epoch, satellite) of one signal from its MSM lock times (NaN: reserved
    indicator, taken as zero). RTKLIB's ``lossoflock``: the lock time went down since the signal's
    previous epoch, or was zero then and now (a never-seen signal counts as zero). Added: a
    signal absent for at least one stream epoch is lost if its lock time is shorter than the gap."""
    n_ep, n_sat = lock_s.shape
    lock = np.where(np.isnan(lock_s), 0.0, lock_s)
    idx = np.where(present, np.arange(n_ep)[:, None], -1)
    last = np.maximum.accumulate(idx, axis=0)
    prev = np.vstack([np.full((1, n_sat), -1), last[:-1]])
    seen = prev >= 0
    cols = np.broadcast_to(np.arange(n_sat), (n_ep, n_sat))
    prev_lock = np.where(seen, lock[prev.clip(0), cols], 0.0)
    gap = np.where(seen, t_s[:, None] - t_s[prev.clip(0)], 0.0)
    slip = (lock < prev_lock) | ((lock == 0.0) & (prev_lock == 0.0))
    slip |= seen & (gap > _GAP_FACTOR * interval_s) & (lock < gap)
    out: NDArray[np.int8] = (present & slip).astype(np.int8)
    return out


def obsset_from_rtcm(
    rover: Source,
    base: Source | None = None,
    systems: str = SUPPORTED_SYSTEMS,
    n_freqs: int = 2,
    *,
    max_base_age_s: float = 30.0,
    approx_time: np.datetime64 | None = None,
) -> tuple[ObsSet, BroadcastNav, F64 | None]:
    """Rover (and base) RTCM streams -> the engine's observations, the navigation data of both
    streams' ephemerides, and the base's ARP (ECEF m; None without a base or its 1005/1006).

    ``approx_time`` is only needed for a stream without Galileo or BeiDou ephemerides recorded
    long ago (see :func:`reference_gpst_s`)."""
    streams = [read_stream(rover, systems)]
    if base is not None:
        streams.append(read_stream(base, systems))
    t_ref = reference_gpst_s((r for s in streams for r in s.ephemerides), approx_time)
    obs: list[Observations] = []
    received: dict[KeplerEphemeris, float] = {}
    for s in streams:
        t_msg = message_times(s, t_ref)
        obs.append(observations(s, t_msg))
        for rec, n_before in zip(s.ephemerides, s.eph_after.tolist(), strict=True):
            t_rx = float(t_msg[max(n_before - 1, 0)]) if t_msg.size else t_ref
            received.setdefault(rec, t_rx)  # a record repeated, or sent by both, counts once
    nav = BroadcastNav.from_ephemerides(
        list(received), systems, near_gpst_s=np.fromiter(received.values(), np.float64, len(received))
    )
    data = build(obs[0], obs[1] if base is not None else None, systems, n_freqs, max_base_age_s)
    base_arp = streams[1].arp if base is not None else None
    return data, nav, None if base_arp is None else np.asarray(base_arp.ecef_m, dtype=np.float64)


def solve_rtcm(
    rover_rtcm: Path,
    base_rtcm: Path | None,
    options: RtkOptions,
    *,
    base_ecef_m: F64 | None = None,
    progress: Progress | None = None,
    approx_time: np.datetime64 | None = None,
) -> PosSolutions:
    """Solve a rover RTCM file (raw bytes, as logged by str2str or a caster) against a base one
    (not needed in ``single`` mode). The base position defaults to the base stream's ARP."""
    use_base = options.mode != "single"
    if use_base and base_rtcm is None:
        raise ValueError(f"mode {options.mode!r} needs a base RTCM stream")
    base_bytes = base_rtcm.read_bytes() if use_base and base_rtcm is not None else None
    data, nav, arp = obsset_from_rtcm(
        rover_rtcm.read_bytes(),
        base_bytes,
        options.systems,
        options.freqs,
        max_base_age_s=options.max_base_age_s,
        approx_time=approx_time,
    )
    if base_ecef_m is None:
        base_ecef_m = arp
    if use_base and base_ecef_m is None:
        raise ValueError("the base stream carries no 1005/1006 station position: give base_ecef_m")
    return solve_epochs(data, nav, options, base_ecef_m, progress)
