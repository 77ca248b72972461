"""Cloud RTK, one rover: its raw RTCM stream and a base's, solved epoch by epoch as they arrive.

The post-processing path sees a whole file; a live rover is an endless stream, so this module
keeps what a file would have given at once, incrementally:

- **Epochs.** An MSM message with the multiple-message bit clear ends its epoch (RTCM 10403
  DF393, as RTKLIB's ``rtcm3.c`` reads it) - also a message of a system the session does not
  read (receivers often end an epoch with GLONASS or NavIC); a message with another time tag or
  another station id ends it too. Each receiver keeps its last epochs, and an epoch's
  observables are decoded by :func:`gnss.rtk.rtcm_input.observations` over that window, so the
  loss-of-lock rule (lock time decreased, or a gap longer than the lock) sees the history it
  sees in a file. Every epoch a chunk of bytes completes is solved once, with the window and the
  ephemerides as they were when it completed.
- **Time.** The first ephemerides anchor the week (Galileo's and BeiDou's are absolute); each
  epoch is then placed within half a week of the one before, so a session may run for weeks.
- **Navigation.** Ephemerides of both streams accumulate (a day's worth); the navigation data
  are rebuilt when a new record is used (every few minutes, not every epoch).
- **Satellites.** The filter's columns grow as satellites rise (:meth:`EpochSolver.add_satellites`),
  so the states of those already tracked are untouched.
- **The base.** Its position is its own 1005/1006 (or one given). A base stream may change
  station under the rover (the caster's ``NEAREST`` mount hands the rover to a closer base):
  an MSM of another station id, a 1005 of the same id more than 1 cm away, or a reconnection
  (:meth:`LiveRtk.reset_base`) drops the base epochs and the filter, and RTK resumes once the
  new station's ARP has arrived - single-point fixes meanwhile. The double differences of two
  stations are never mixed. The base's history is longer than the rover's window: a base burst
  may run ahead of the rover, and each rover epoch takes the base epoch at or before it.

Everything here is plain computation with no I/O, so a worker process can own many sessions
(:mod:`gnss.rtk.pool`) and tests can feed a recorded stream byte by byte.
"""

from __future__ import annotations

import datetime
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Final, TypeVar

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

from gnss.fixes import PositionFix
from gnss.quality import GGA_QUALITY_OF_SOLUTION, SolutionQuality
from gnss.rinex import Observations
from gnss.rtcm.decode import decode
from gnss.rtcm.ephemeris import KeplerEphemeris
from gnss.rtcm.framing import RtcmFrame, RtcmFramer
from gnss.rtcm.msm import MSM_SYSTEMS, MsmEpoch, is_msm
from gnss.rtcm.station import StationArp
from gnss.rtk.broadcast import BDT_GPST_S, WEEK_S, BroadcastNav, gpst_seconds
from gnss.rtk.obsdata import ReceiverEpochs, build
from gnss.rtk.options import RtkOptions
from gnss.rtk.posfile import gpst_minus_utc_s, nmea_gga_lines
from gnss.rtk.rtcm_input import EPHEMERIS_SYSTEM, RtcmStream, message_times, observations, reference_gpst_s
from gnss.rtk.solve import EpochSolution, EpochSolver, Observed, observed_at, pos_solutions, solution_times

__all__ = ["LiveRtk", "LiveStats", "RtcmEpochs"]

F64 = NDArray[np.float64]
G = TypeVar("G", bound=np.generic)
_MIN_MSM: Final = 4
_STATION_TYPES: Final = frozenset((1005, 1006))
_GPS_EPOCH_UTC: Final = datetime.datetime(1980, 1, 6, tzinfo=datetime.UTC)
ARP_MOVED_M: Final = 0.01  # a station's 1005/1006 that moves by more is another base
NAV_KEEP_S: Final = 86_400.0


def _tag_ms(msg: MsmEpoch) -> int:
    """The message's time tag as GPST milliseconds of the week (BeiDou's BDT + 14 s). Only for
    the week-based systems: GLONASS is never read (its tag is Moscow time of day)."""
    tow = msg.epoch_s + (BDT_GPST_S if msg.system == "C" else 0.0)
    return round((tow % WEEK_S) * 1000.0)


@dataclass
class LiveStats:
    frames: int = 0
    bytes_skipped: int = 0  # noise between frames, CRC failures
    epochs: int = 0  # completed epochs
    skipped_msm: int = 0  # MSM1-3 and systems not solved for


OnEpoch = Callable[[tuple[MsmEpoch, ...]], None]


class RtcmEpochs:
    """One receiver's RTCM 3 byte stream -> completed MSM epochs, ephemerides, station ARPs.

    ``on_epoch`` is called as each epoch completes, when :attr:`window` ends with it: a chunk of
    bytes holding several epochs gives each its turn, in order. An epoch also ends when the
    station id changes (two stations' messages are never one epoch) and after ``MAX_MESSAGES``
    messages (a stream that never clears the multiple-message bit cannot grow one without end).
    """

    MAX_MESSAGES: Final = 64

    def __init__(self, systems: str, window: int, on_epoch: OnEpoch) -> None:
        self.systems = systems.replace("R", "")
        self.on_epoch = on_epoch
        self.framer = RtcmFramer()
        self.window: deque[tuple[MsmEpoch, ...]] = deque(maxlen=window)
        self._current: list[MsmEpoch] = []
        self._current_key: tuple[int, int] | None = None  # (station id, tag ms)
        self.ephemerides: list[KeplerEphemeris] = []
        self.arps: dict[int, StationArp] = {}  # station id -> its latest 1005/1006
        self.moved: set[int] = set()  # stations whose 1005/1006 changed position (not yet handled)
        self.stats = LiveStats()

    def feed(self, data: bytes) -> None:
        frames = self.framer.feed(data)
        self.stats.frames += len(frames)
        self.stats.bytes_skipped = self.framer.bytes_skipped
        for frame in frames:
            self._frame(frame)

    def reset(self) -> None:
        """A new connection: nothing of the old one (partial frame, epochs, positions) carries over."""
        skipped = self.stats.bytes_skipped
        self.framer = RtcmFramer()
        self.framer.bytes_skipped = skipped
        self.window.clear()
        self._current, self._current_key = [], None
        self.arps.clear()
        self.moved.clear()

    def _frame(self, frame: RtcmFrame) -> None:
        t = frame.msg_type
        if is_msm(t):
            if MSM_SYSTEMS[t // 10] not in self.systems or t % 10 < _MIN_MSM:
                self.stats.skipped_msm += 1
                # not read, but it may be the epoch's last message (receivers often end with
                # GLONASS or NavIC): waiting for the next epoch instead would delay every fix
                station, more = _msm_station_and_more(frame.raw)
                if (
                    self._current
                    and self._current_key is not None
                    and station == self._current_key[0]
                    and not more
                ):
                    self._close()
                return
            msg = decode(frame)
            if not isinstance(msg, MsmEpoch):
                return
            key = (msg.station_id, _tag_ms(msg))
            if self._current and key != self._current_key:
                self._close()
            self._current.append(msg)
            self._current_key = key
            if not msg.multiple_message or len(self._current) >= self.MAX_MESSAGES:
                self._close()
        elif EPHEMERIS_SYSTEM.get(t, "-") in self.systems:
            rec = decode(frame)
            if isinstance(rec, KeplerEphemeris):
                self.ephemerides.append(rec)
        elif t in _STATION_TYPES:
            arp = decode(frame)
            if isinstance(arp, StationArp):
                before = self.arps.get(arp.station_id)
                if (
                    before is not None
                    and np.linalg.norm(np.subtract(arp.ecef_m, before.ecef_m)) > ARP_MOVED_M
                ):
                    self.moved.add(arp.station_id)
                self.arps[arp.station_id] = arp

    def _close(self) -> None:
        epoch = tuple(self._current)
        self._current, self._current_key = [], None
        self.window.append(epoch)
        self.stats.epochs += 1
        self.on_epoch(epoch)

    def close_pending(self) -> bool:
        """Close the epoch being received, if any (end of stream)."""
        if not self._current:
            return False
        self._close()
        return True

    def take_ephemerides(self) -> list[KeplerEphemeris]:
        out, self.ephemerides = self.ephemerides, []
        return out

    def observations_until(self, t_ref_gpst_s: float, t_max_gpst_s: float, n: int) -> Observations | None:
        """The ``n`` epochs up to the last one at or before ``t_max_gpst_s`` (a rover epoch's time:
        the base's burst may already hold later ones), or None if there is none."""
        epochs = list(self.window)
        if not epochs:
            return None
        _, t = _stream_times(tuple(e[0] for e in epochs), t_ref_gpst_s)
        last = int(np.searchsorted(t, t_max_gpst_s + 1e-3, side="right")) - 1
        if last < 0:
            return None
        msgs = tuple(m for e in epochs[max(0, last - n + 1) : last + 1] for m in e)
        return observations(*_stream_times(msgs, t_ref_gpst_s))


def _msm_station_and_more(raw: bytes) -> tuple[int, bool]:
    """An MSM frame's station id (DF003, payload bits 12-23) and multiple-message bit (DF393,
    bit 54), read off the bytes without decoding the message."""
    return ((raw[4] & 0x0F) << 8) | raw[5], bool((raw[9] >> 1) & 1)


def _stream_times(msgs: tuple[MsmEpoch, ...], t_ref_gpst_s: float) -> tuple[RtcmStream, F64]:
    stream = RtcmStream(msgs, (), np.zeros(0, np.intp), None, None, 0, 0, 0)
    return stream, message_times(stream, t_ref_gpst_s)


@dataclass
class _Nav:
    """Ephemerides in arrival order; the navigation data built from the first ``built`` of them."""

    records: dict[KeplerEphemeris, float] = field(default_factory=dict)  # record -> GPST received
    nav: BroadcastNav | None = None
    built: int = 0


class LiveRtk:
    """A rover's session: ``feed_base`` with the base stream's bytes, ``feed_rover`` with the
    rover's; every completed rover epoch with a solution comes back as a :class:`PositionFix`
    (GGA quality 4 fixed, 5 float, 2 DGNSS, 1 single point).

    ``base_ecef_m`` replaces the base stream's ARP (a base whose 1005 is not its true position).
    ``approx_time`` resolves GPS's 10-bit week for streams recorded long ago (default: now).
    Time: the first ephemerides anchor the week (Galileo's and BeiDou's are absolute), then every
    epoch's time is placed within half a week of the epoch before it, so a session may run for
    weeks. At most ``max_epochs_per_feed`` epochs of one rover chunk are solved (a rover that
    uploads a backlog all at once must not hold its worker's other sessions); the older ones
    are skipped and counted.
    """

    def __init__(
        self,
        options: RtkOptions,
        *,
        base_ecef_m: F64 | None = None,
        approx_time: np.datetime64 | None = None,
        window: int | None = None,
        max_epochs_per_feed: int = 10,
    ) -> None:
        # RTCM brings no GLONASS to the engine (its MSM and 1020 are not read here)
        self.options = replace(options, systems=options.systems_used.replace("R", "") or "G")
        # long enough to see a signal's gap that the filter's outage rule would not reset
        window = options.max_outage_epochs + 3 if window is None else window
        self.window = window
        self.rover = RtcmEpochs(self.options.systems, window, self._rover_epoch)
        # the base's bursts may run ahead of the rover: its history reaches back further
        self.base = RtcmEpochs(self.options.systems, 4 * window, self._base_epoch)
        self.base_ecef_override = None if base_ecef_m is None else np.asarray(base_ecef_m, np.float64)
        self.approx_time = approx_time
        self.max_epochs_per_feed = max_epochs_per_feed
        self._nav = _Nav()
        self._t_ref: float | None = None  # GPST of the latest epoch (after the first ephemerides)
        self._station: int | None = None  # the base station the filter's double differences use
        self._solver: EpochSolver | None = None
        self._column: dict[str, int] = {}
        # this chunk's epochs: (window, time, ephemerides known then)
        self._pending: list[tuple[tuple[MsmEpoch, ...], float, int]] = []
        self.base_switches = 0
        self.last_gga: str | None = None  # of the latest fix: what the caster's NEAREST needs
        self.solved = 0
        self.unsolved = 0  # rover epochs without a solution (no navigation data yet, too few satellites)
        self.skipped = 0  # rover epochs not solved: a backlog beyond max_epochs_per_feed

    # --- input -----------------------------------------------------------------------------

    def feed_base(self, data: bytes) -> None:
        self.base.feed(data)
        self._take_ephemerides(self.base)

    def reset_base(self) -> None:
        """The base stream was reconnected (perhaps to another station, perhaps with the same
        id): forget it, and the filter built on it."""
        self.base.reset()
        self._drop_filter()
        self._station = None

    def feed_rover(self, data: bytes) -> list[PositionFix]:
        """Every epoch this chunk completes is solved in turn, with the window as it was when
        the epoch ended (the newest ``max_epochs_per_feed`` of them)."""
        self.rover.feed(data)
        return self._solve_pending()

    def flush_rover(self) -> list[PositionFix]:
        """The rover's stream ended: its unfinished epoch (no message closed it) is solved as is."""
        self.rover.close_pending()
        return self._solve_pending()

    def _rover_epoch(self, epoch: tuple[MsmEpoch, ...]) -> None:
        self._take_ephemerides(self.rover)
        self._advance_time(epoch)
        if self._t_ref is None:
            self.unsolved += 1  # no ephemeris yet
            return
        window = tuple(m for e in self.rover.window for m in e)
        self._pending.append((window, self._t_ref, len(self._nav.records)))

    def _solve_pending(self) -> list[PositionFix]:
        pending, self._pending = self._pending, []
        if not pending:
            return []
        if len(pending) > self.max_epochs_per_feed:
            self.skipped += len(pending) - self.max_epochs_per_feed
            pending = pending[-self.max_epochs_per_feed :]
        out: list[PositionFix] = []
        with threadpool_limits(limits=1, user_api="blas"):
            for msgs, t_ref, known in pending:
                fix = self._solve(observations(*_stream_times(msgs, t_ref)), t_ref, known)
                if fix is None:
                    self.unsolved += 1
                else:
                    self.solved += 1
                    out.append(fix)
        self._forget_old_ephemerides()
        return out

    def _base_epoch(self, epoch: tuple[MsmEpoch, ...]) -> None:
        station = epoch[0].station_id
        switched = self._station is not None and station != self._station
        if switched or station in self.base.moved:  # another station, or one that moved
            self.base.moved.discard(station)
            self.base.window.clear()
            self.base.window.append(epoch)
            self._drop_filter()
        self._station = station
        self._take_ephemerides(self.base)
        self._advance_time(epoch)

    def _drop_filter(self) -> None:
        if self._solver is not None:
            self.base_switches += 1
        self._solver = None
        self._column = {}

    def _advance_time(self, epoch: tuple[MsmEpoch, ...]) -> None:
        if self._t_ref is not None:
            self._t_ref = float(_stream_times(epoch[:1], self._t_ref)[1][0])

    def _take_ephemerides(self, receiver: RtcmEpochs) -> None:
        new = receiver.take_ephemerides()
        if not new:
            return
        if self._t_ref is None:
            self._t_ref = reference_gpst_s(new, self.approx_time)
        for rec in new:
            if rec not in self._nav.records:
                self._nav.records[rec] = self._t_ref

    def navigation(self, known: int | None = None) -> BroadcastNav | None:
        """The navigation data of the first ``known`` ephemerides received (default: all): an
        epoch is solved with what had arrived when it ended, however late it is solved."""
        known = len(self._nav.records) if known is None else known
        if known == 0:
            return None
        if known != self._nav.built:
            recs = list(self._nav.records)[:known]
            near = np.fromiter((self._nav.records[r] for r in recs), np.float64, len(recs))
            self._nav.nav = BroadcastNav.from_ephemerides(recs, self.options.systems, near_gpst_s=near)
            self._nav.built = known
        return self._nav.nav

    def _forget_old_ephemerides(self) -> None:
        """Records received more than a day before the session's time are of no use any more."""
        if self._t_ref is None:
            return
        old = [r for r, t in self._nav.records.items() if self._t_ref - t > NAV_KEEP_S]
        for r in old:
            del self._nav.records[r]
        if old:
            self._nav.built = -1  # indices moved: rebuild on next use

    def base_position(self) -> F64 | None:
        if self.base_ecef_override is not None:
            return self.base_ecef_override
        arp = self.base.arps.get(self._station) if self._station is not None else None
        return None if arp is None else np.asarray(arp.ecef_m, dtype=np.float64)

    # --- one epoch -------------------------------------------------------------------------

    def _solve(self, rover_obs: Observations, t_ref: float, known: int) -> PositionFix | None:
        """The newest epoch of ``rover_obs`` (a window ending at it), with the base's window."""
        nav = self.navigation(known)
        if nav is None:
            return None
        wants_base = self.options.mode != "single"
        base_ecef = self.base_position() if wants_base else None
        base_obs = None
        if base_ecef is not None:
            t_rover = float(gpst_seconds(rover_obs.time[-1:])[0])
            base_obs = self.base.observations_until(t_ref, t_rover, self.window)
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
        differential = sol.q != SolutionQuality.SINGLE
        return PositionFix(
            tod=tod,
            time=utc,
            lat=lat,
            lon=lon,
            height=h,
            quality=int(GGA_QUALITY_OF_SOLUTION[sol.q]),
            satellites=sol.ns,
            hdop=round(sol.dop[2], 2) if np.isfinite(sol.dop[2]) else None,
            age_diff=sol.age_s if differential else None,
            station_id=str(self._station) if differential and self._station is not None else None,
            sigma_lat=sdn if differential else None,
            sigma_lon=sde if differential else None,
            sigma_height=sdu if differential else None,
        )


def _row(sol: EpochSolution) -> tuple[NDArray[np.int64], NDArray[np.int64], F64, F64]:
    return (np.array([sol.q]), np.array([sol.ns]), np.array([sol.age_s]), np.array([sol.ratio]))


def _single(options: RtkOptions) -> RtkOptions:
    return replace(options, mode="single")
