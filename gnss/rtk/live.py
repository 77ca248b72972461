"""Cloud RTK, one rover: its raw RTCM stream and a base's, solved epoch by epoch as they arrive.

The post-processing path sees a whole file; a live rover is an endless stream, so this module
keeps what a file would have given at once, incrementally:

- **Epochs.** An MSM message with the multiple-message bit clear ends its epoch (RTCM 10403
  DF393, as RTKLIB's ``rtcm3.c`` reads it); a message with another time tag ends it too, for
  receivers that never clear the bit. Each receiver keeps its last ``window`` epochs, and an
  epoch's observables are decoded by :func:`gnss.rtk.rtcm_input.observations` over that window,
  so the loss-of-lock rule (lock time decreased, or a gap longer than the lock) sees the same
  history it sees in a file.
- **Navigation.** Ephemerides of both streams accumulate; the navigation data are rebuilt when
  a new record arrives (every few minutes, not every epoch).
- **Satellites.** The filter's columns grow as satellites rise (:meth:`EpochSolver.add_satellites`),
  so the states of those already tracked are untouched.
- **The base.** Its position is its own 1005/1006 (or one given). A base stream may change
  station under the rover (the caster's ``NEAREST`` mount hands the rover to a closer base): an
  MSM of another station id drops the base epochs and the filter, and RTK resumes once that
  station's ARP has arrived - single-point fixes meanwhile. The double differences of two
  stations are never mixed.

Everything here is plain computation with no I/O, so a worker process can own many sessions
(:mod:`gnss.rtk.pool`) and tests can feed a recorded stream byte by byte.
"""

from __future__ import annotations

import datetime
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Final, TypeVar

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from gnss.fixes import PositionFix
from gnss.rinex import Observations
from gnss.rtcm.decode import decode
from gnss.rtcm.ephemeris import KeplerEphemeris
from gnss.rtcm.framing import RtcmFrame, RtcmFramer
from gnss.rtcm.msm import MSM_SYSTEMS, MsmEpoch, is_msm
from gnss.rtcm.station import StationArp
from gnss.rtk.broadcast import BDT_GPST_S, WEEK_S, BroadcastNav
from gnss.rtk.filter import Q_DGNSS, Q_FIX, Q_FLOAT, Q_SINGLE
from gnss.rtk.obsdata import ReceiverEpochs, build
from gnss.rtk.options import RtkOptions
from gnss.rtk.posfile import gpst_minus_utc_s, nmea_gga_lines
from gnss.rtk.rtcm_input import EPHEMERIS_SYSTEM, RtcmStream, message_times, observations, reference_gpst_s
from gnss.rtk.solve import EpochSolution, EpochSolver, Observed, observed_at, pos_solutions, solution_times

__all__ = ["GGA_QUALITY", "LiveRtk", "LiveStats", "RtcmEpochs"]

F64 = NDArray[np.float64]
G = TypeVar("G", bound=np.generic)
GGA_QUALITY: Final = {Q_FIX: 4, Q_FLOAT: 5, Q_DGNSS: 2, Q_SINGLE: 1}
_MIN_MSM: Final = 4
_STATION_TYPES: Final = frozenset((1005, 1006))
_GPS_EPOCH_UTC: Final = datetime.datetime(1980, 1, 6, tzinfo=datetime.UTC)


def _tag_ms(msg: MsmEpoch) -> int:
    """The message's time tag as GPST milliseconds of the week (BeiDou's BDT + 14 s)."""
    tow = msg.epoch_s + (BDT_GPST_S if msg.system == "C" else 0.0)
    return round((tow % WEEK_S) * 1000.0)


@dataclass
class LiveStats:
    frames: int = 0
    bytes_skipped: int = 0  # noise between frames, CRC failures
    epochs: int = 0  # completed epochs
    skipped_msm: int = 0  # MSM1-3 and systems not solved for


class RtcmEpochs:
    """One receiver's RTCM 3 byte stream -> completed MSM epochs, ephemerides, station ARP."""

    def __init__(self, systems: str, window: int = 4) -> None:
        self.systems = systems
        self.framer = RtcmFramer()
        self.window: deque[tuple[MsmEpoch, ...]] = deque(maxlen=window)
        self._current: list[MsmEpoch] = []
        self._current_tag: int | None = None
        self.ephemerides: list[KeplerEphemeris] = []
        self.arps: dict[int, StationArp] = {}  # station id -> its latest 1005/1006
        self.stats = LiveStats()

    def feed(self, data: bytes) -> list[tuple[MsmEpoch, ...]]:
        """Bytes in; the epochs they completed out (each also enters :attr:`window`)."""
        done: list[tuple[MsmEpoch, ...]] = []
        frames = self.framer.feed(data)
        self.stats.frames += len(frames)
        self.stats.bytes_skipped = self.framer.bytes_skipped
        for frame in frames:
            self._frame(frame, done)
        return done

    def _frame(self, frame: RtcmFrame, done: list[tuple[MsmEpoch, ...]]) -> None:
        t = frame.msg_type
        if is_msm(t):
            if MSM_SYSTEMS[t // 10] not in self.systems or t % 10 < _MIN_MSM:
                self.stats.skipped_msm += 1
                return
            msg = decode(frame)
            if not isinstance(msg, MsmEpoch):
                return
            tag = _tag_ms(msg)
            if self._current and tag != self._current_tag:
                self._close(done)
            self._current.append(msg)
            self._current_tag = tag
            if not msg.multiple_message:
                self._close(done)
        elif EPHEMERIS_SYSTEM.get(t, "-") in self.systems:
            rec = decode(frame)
            if isinstance(rec, KeplerEphemeris):
                self.ephemerides.append(rec)
        elif t in _STATION_TYPES:
            arp = decode(frame)
            if isinstance(arp, StationArp):
                self.arps[arp.station_id] = arp

    def _close(self, done: list[tuple[MsmEpoch, ...]]) -> None:
        epoch = tuple(self._current)
        self._current, self._current_tag = [], None
        self.window.append(epoch)
        self.stats.epochs += 1
        done.append(epoch)

    def close_pending(self) -> bool:
        """Close the epoch being received, if any (end of stream)."""
        if not self._current:
            return False
        self._close([])
        return True

    def take_ephemerides(self) -> list[KeplerEphemeris]:
        out, self.ephemerides = self.ephemerides, []
        return out

    def observations(self, t_ref_gpst_s: float) -> Observations:
        """The window's epochs as observations (the last row is the newest epoch)."""
        msgs = tuple(m for epoch in self.window for m in epoch)
        stream = RtcmStream(
            msm=msgs,
            ephemerides=(),
            eph_after=np.zeros(0, np.intp),
            arp=None,
            antenna=None,
            frames=0,
            bytes_skipped=0,
            skipped_msm=0,
        )
        return observations(stream, message_times(stream, t_ref_gpst_s))


@dataclass
class _Nav:
    records: dict[KeplerEphemeris, float] = field(default_factory=dict)  # record -> GPST received
    nav: BroadcastNav | None = None
    stale: bool = False


class LiveRtk:
    """A rover's session: ``feed_base`` with the base stream's bytes, ``feed_rover`` with the
    rover's; every completed rover epoch with a solution comes back as a :class:`PositionFix`
    (GGA quality 4 fixed, 5 float, 2 DGNSS, 1 single point).

    ``base_ecef_m`` replaces the base stream's ARP (a base whose 1005 is not its true position).
    ``approx_time`` resolves GPS's 10-bit week for streams recorded long ago (default: now).
    """

    def __init__(
        self,
        options: RtkOptions,
        *,
        base_ecef_m: F64 | None = None,
        approx_time: np.datetime64 | None = None,
        window: int | None = None,
    ) -> None:
        self.options = options
        # long enough to see a signal's gap that the filter's outage rule would not reset
        window = options.max_outage_epochs + 3 if window is None else window
        self.rover = RtcmEpochs(options.systems, window)
        self.base = RtcmEpochs(options.systems, window)
        self.base_ecef_override = None if base_ecef_m is None else np.asarray(base_ecef_m, np.float64)
        self.approx_time = approx_time
        self._nav = _Nav()
        self._t_ref: float | None = None
        self._station: int | None = None  # the base station the filter's double differences use
        self._solver: EpochSolver | None = None
        self._column: dict[str, int] = {}
        self.base_switches = 0
        self.last_gga: str | None = None  # of the latest fix: what the caster's NEAREST needs
        self.solved = 0
        self.unsolved = 0  # rover epochs without a solution (no navigation data yet, too few satellites)

    # --- input -----------------------------------------------------------------------------

    def feed_base(self, data: bytes) -> None:
        for epoch in self.base.feed(data):
            station = epoch[0].station_id
            if self._station is not None and station != self._station:
                self._switch_base(epoch)
            self._station = station
        self._take_ephemerides(self.base)

    def feed_rover(self, data: bytes) -> list[PositionFix]:
        epochs = self.rover.feed(data)
        self._take_ephemerides(self.rover)
        out: list[PositionFix] = []
        with threadpool_limits(limits=1, user_api="blas"):
            for _ in epochs:
                fix = self._solve_latest()
                if fix is None:
                    self.unsolved += 1
                else:
                    self.solved += 1
                    out.append(fix)
        return out

    def flush_rover(self) -> list[PositionFix]:
        """The rover's stream ended: its unfinished epoch (no message closed it) is solved as is."""
        if not self.rover.close_pending():
            return []
        fix = self._solve_latest()
        self.solved += fix is not None
        self.unsolved += fix is None
        return [] if fix is None else [fix]

    def _switch_base(self, first_epoch: tuple[MsmEpoch, ...]) -> None:
        """Another station's epochs on the base stream: start over with that base."""
        self.base.window.clear()
        self.base.window.append(first_epoch)
        self._solver = None
        self._column = {}
        self.base_switches += 1

    def _take_ephemerides(self, receiver: RtcmEpochs) -> None:
        new = receiver.take_ephemerides()
        if not new:
            return
        if self._t_ref is None:
            self._t_ref = reference_gpst_s(new, self.approx_time)
        t_rx = self._latest_time(receiver)
        for rec in new:
            if rec not in self._nav.records:
                self._nav.records[rec] = t_rx
                self._nav.stale = True

    def _latest_time(self, receiver: RtcmEpochs) -> float:
        assert self._t_ref is not None
        if not receiver.window:
            return self._t_ref
        last = receiver.window[-1][:1]
        stream = RtcmStream(last, (), np.zeros(0, np.intp), None, None, 0, 0, 0)
        return float(message_times(stream, self._t_ref)[0])

    def navigation(self) -> BroadcastNav | None:
        if self._nav.stale:
            recs = list(self._nav.records)
            near = np.fromiter(self._nav.records.values(), np.float64, len(recs))
            self._nav.nav = BroadcastNav.from_ephemerides(recs, self.options.systems, near_gpst_s=near)
            self._nav.stale = False
        return self._nav.nav

    def base_position(self) -> F64 | None:
        if self.base_ecef_override is not None:
            return self.base_ecef_override
        arp = self.base.arps.get(self._station) if self._station is not None else None
        return None if arp is None else np.asarray(arp.ecef_m, dtype=np.float64)

    # --- one epoch -------------------------------------------------------------------------

    def _solve_latest(self) -> PositionFix | None:
        nav = self.navigation()
        if nav is None or self._t_ref is None:
            return None
        rover_obs = self.rover.observations(self._t_ref)
        wants_base = self.options.mode != "single"
        base_ecef = self.base_position() if wants_base else None
        base_obs = self.base.observations(self._t_ref) if base_ecef is not None and self.base.window else None
        data = build(
            rover_obs, base_obs, self.options.systems, self.options.freqs, self.options.max_base_age_s
        )
        cols = self._columns(data.sats, data.wavelength_m, base_ecef)
        n, nf = len(self._column), self.options.freqs
        rv = data.rover

        def scatter(a: NDArray[G], fill: float) -> NDArray[G]:
            out: NDArray[G] = np.full((n, nf), fill, dtype=a.dtype)
            out[cols] = a
            return out

        def observed(epochs: ReceiverEpochs, k: int) -> Observed:
            o = observed_at(epochs, k)
            return Observed(
                scatter(o.pr_m, np.nan),
                scatter(o.cp_cyc, np.nan),
                scatter(o.lli, 0),
                scatter(o.dop_hz, np.nan),
                scatter(o.cn0_dbhz, np.nan),
            )

        base = None
        j = int(data.base_index[-1])
        if data.base is not None and j >= 0:
            base = (float(data.base.t_gpst_s[j]), observed(data.base, j))
        assert self._solver is not None
        sol = self._solver.step(nav, float(rv.t_gpst_s[-1]), observed(rv, -1), base)
        if sol is None:
            return None
        return self._fix(rv.time[-1], sol)

    def _columns(self, sats: NDArray[np.str_], wavelength_m: F64, base_ecef: F64 | None) -> NDArray[np.intp]:
        """The session's column of each of this epoch's satellites, adding the new ones; a slot
        whose wavelength changes (another band's signal took it) gets the new one."""
        if self._solver is None:
            mode_ok = base_ecef is not None or self.options.mode == "single"
            options = self.options if mode_ok else _single(self.options)
            self._solver = EpochSolver(
                np.zeros(0, "<U3"), np.zeros((0, self.options.freqs)), options, base_ecef
            )
            self._column = {}
        elif self._solver.rtk is None and base_ecef is not None and self.options.mode != "single":
            # the base's ARP has arrived: from single point to the mode asked for
            self._solver = EpochSolver(self._solver.sats, self._solver.wavelength_m, self.options, base_ecef)
        new = [i for i, s in enumerate(sats.tolist()) if s not in self._column]
        if new:
            for i in new:
                self._column[str(sats[i])] = len(self._column)
            self._solver.add_satellites(sats[new], wavelength_m[new])
        cols = np.fromiter((self._column[s] for s in sats.tolist()), np.intp, len(sats))
        self._solver.update_wavelengths(cols, wavelength_m)
        return cols

    def _fix(self, tag: np.datetime64, sol: EpochSolution) -> PositionFix:
        t_gpst = solution_times(np.array([tag]), np.array([sol.clock_s]))
        pos = pos_solutions(t_gpst, sol.ecef_m[None], sol.cov_m2[None], *_row(sol), np.array([sol.dop]))
        self.last_gga = nmea_gga_lines(pos)[0]
        leap = int(gpst_minus_utc_s(t_gpst)[0])
        ns = int((t_gpst[0] - np.datetime64("1980-01-06", "ns")) / np.timedelta64(1, "ns"))
        utc = _GPS_EPOCH_UTC + datetime.timedelta(microseconds=ns // 1000) - datetime.timedelta(seconds=leap)
        lat, lon, h = (float(v) for v in pos.llh[0])
        sdn, sde, sdu = (float(v) for v in pos.sd[0, :3])
        tod = utc.hour * 3600 + utc.minute * 60 + utc.second + utc.microsecond / 1e6
        return PositionFix(
            tod=tod,
            time=utc,
            lat=lat,
            lon=lon,
            height=h,
            quality=GGA_QUALITY[sol.q],
            satellites=sol.ns,
            hdop=round(sol.dop[2], 2) if np.isfinite(sol.dop[2]) else None,
            age_diff=sol.age_s if sol.q != Q_SINGLE else None,
            station_id=str(self._station) if sol.q != Q_SINGLE and self._station is not None else None,
            sigma_lat=sdn if sol.q != Q_SINGLE else None,
            sigma_lon=sde if sol.q != Q_SINGLE else None,
            sigma_height=sdu if sol.q != Q_SINGLE else None,
        )


def _row(sol: EpochSolution) -> tuple[NDArray[np.int64], NDArray[np.int64], F64, F64]:
    return (np.array([sol.q]), np.array([sol.ns]), np.array([sol.age_s]), np.array([sol.ratio]))


def _single(options: RtkOptions) -> RtkOptions:
    return replace(options, mode="single")
