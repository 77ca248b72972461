"""The RTK Kalman filter: rover position (and velocity) and single-difference carrier
ambiguities, updated with double-differenced phase and code, in the shape of RTKLIB's ``relpos``
(rtkpos.c). The algebra is the pure kernel of :mod:`gnss.kalman` (predict, Joseph-form update).

State, in named blocks (:class:`gnss.kalman.Layout`): ``pos`` (ECEF, m), ``vel`` (ECEF, m/s;
empty unless kinematic with ``dynamics``), ``amb`` (cycles: ``N(sat 0, f 0), N(sat 0, f 1), ...,
N(sat n-1, f nf-1)``); an ambiguity is live while its satellite is tracked without a slip. Per
epoch:

0. zero-difference residuals with the hydrostatic zenith delay (Saastamoinen) mapped by Niell's
   function, RTKLIB's tropospheric model in relative mode (the wet part cancels over short
   baselines and is left to the ambiguities' noise), and each receiver's antenna phase-centre
   offset (and PCV) when it has an antenna model (:mod:`gnss.antex`);
1. time update. Position: without ``dynamics`` (RTKLIB's ``pos1-dynamics=off``) kinematic
   re-seeds it from the epoch's single-point solution with a 30 m sigma and static keeps it;
   with ``dynamics`` (kinematic) a constant-velocity model driven by white acceleration noise
   (``accel_h_mps2``/``accel_v_mps2``) predicts position and velocity, restarting from the
   single point when it loses it (RTKLIB's ``udpos``). Ambiguities random-walk with
   ``prn_bias_cyc``; they are reset on a loss-of-lock flag at either receiver, a jump of the
   single-differenced geometry-free phase, a Doppler-phase disagreement, an outage, or every
   epoch in ``instantaneous`` mode; a new ambiguity starts at phase minus code (30-cycle sigma).
2. measurement update with double differences against the highest satellite of each system
   and frequency (its covariance is exact: the reference's noise is shared), innovations
   beyond ``max_innovation_m`` rejected;
3. ambiguity resolution (:mod:`gnss.rtk.ambiguity`), the fix validated by its residuals
   (4 sigma), and in ``fix-and-hold`` the fixed double differences fed back as tight
   pseudo-measurements once ``min_fix_to_hold`` epochs in a row have fixed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from gnss.antex import ReceiverModel, range_correction_m
from gnss.atmosphere import niell_hydrostatic, saastamoinen_m
from gnss.geodesy import ecef_to_geodetic, enu_rotation
from gnss.kalman import Layout, predict, reset, update
from gnss.orbits import C_MPS
from gnss.quality import SolutionQuality
from gnss.rtk.ambiguity import Fix, WarmStart, resolve
from gnss.rtk.antennas import NO_ANTENNAS, Antennas
from gnss.rtk.options import RtkOptions
from gnss.rtk.satellites import SatStates
from gnss.rtk.slips import DopplerTracker
from gnss.spp import az_el, geometry

F64 = NDArray[np.float64]
I8 = NDArray[np.int8]
VAR_POS_M2: Final = 30.0**2
VAR_VEL_M2S2: Final = 10.0**2
MOTION_RESET_M: Final = 30.0  # predicted position farther from the single point (and 3 sigma): start over
MOTION_MAX_GAP_S: Final = 60.0
VALIDATION_SIGMAS: Final = 4.0
SYSTEM_INDEX: Final = {"G": 0, "E": 1, "C": 2, "J": 3, "R": 4}
# GLONASS (FDMA) enters the code double differences (DGNSS), not the carrier-phase modes': between
# satellites on different carriers the two receivers' inter-channel biases do not cancel, so its
# ambiguities are not integers without a model of those biases (RTKLIB's glomodear), which we do
# not have. (solve_rinex reads no GLONASS in those modes, RtkOptions.systems_used; this keeps it
# out of the double differences for callers that pass it anyway.)
CODE_ONLY_SYSTEM: Final = SYSTEM_INDEX["R"]


@dataclass(frozen=True, slots=True)
class EpochObs:
    """One epoch of both receivers, ``(n_sats, n_freqs)`` arrays."""

    t_gpst_s: float
    rover_pr: F64
    rover_cp: F64
    rover_lli: I8
    base_pr: F64
    base_cp: F64
    base_lli: I8
    rover_sats: SatStates
    base_sats: SatStates
    spp_ecef_m: F64
    age_s: float
    rover_dop: F64 | None = None  # Doppler (Hz), for the Doppler slip detector
    base_dop: F64 | None = None


@dataclass(frozen=True, slots=True)
class EpochResult:
    ecef_m: F64
    cov_m2: F64
    q: int
    ns: int
    ratio: float


@dataclass(frozen=True, slots=True, eq=False)
class _Residuals:
    phase: F64  # (n_sats, nf) single-differenced zero-difference residuals, metres
    code: F64
    los: F64  # rover line of sight (n_sats, 3)
    el: F64  # rover elevation, rad


def _day_of_year(t_gpst_s: float) -> float:
    """Fractional day of year (1.0 = 1 January 00:00) of a GPST time, for seasonal models."""
    t = np.datetime64("1980-01-06", "s") + np.timedelta64(int(t_gpst_s), "s")
    year_start = t.astype("datetime64[Y]").astype("datetime64[s]")
    return 1.0 + float((t - year_start) / np.timedelta64(1, "s") + t_gpst_s % 1.0) / 86400.0


@dataclass(slots=True, eq=False)
class _Signals:
    """Per satellite and frequency slot: what the filter tracks besides its state. Columns grow
    at the end as satellites rise, so existing indices stay valid."""

    wl: F64  # (n_sats, nf) wavelength, m
    system: NDArray[np.int64]  # (n_sats,) SYSTEM_INDEX
    live: NDArray[np.bool_]  # (n_sats * nf,) ambiguity state in use
    outage: NDArray[np.int64]  # (n_sats * nf,) epochs since the phase was last usable
    gf_prev: F64  # (n_sats,) last single-differenced geometry-free phase, m
    hatch_n: F64  # (n_sats, nf) carrier-smoothing window so far (DGNSS)
    hatch_pr: F64  # (n_sats, nf) last smoothed single-differenced code, m
    hatch_cp: F64  # (n_sats, nf) last single-differenced carrier, m
    doppler: tuple[DopplerTracker, DopplerTracker]  # rover, base

    @classmethod
    def empty(cls, nf: int) -> _Signals:
        z = np.zeros((0, nf))
        trackers = (DopplerTracker(0, nf), DopplerTracker(0, nf))
        none = np.zeros(0, dtype=np.int64)
        return cls(z, none, np.zeros(0, bool), none, np.zeros(0), z, z, z, trackers)

    @property
    def n_sats(self) -> int:
        return int(self.wl.shape[0])

    @property
    def nf(self) -> int:
        return int(self.wl.shape[1])

    def grow(self, sats: NDArray[np.str_], wavelength_m: F64) -> None:
        n_new, nf = len(sats), self.nf
        self.wl = np.vstack([self.wl, wavelength_m])
        self.system = np.concatenate([self.system, [SYSTEM_INDEX[s[0]] for s in sats.tolist()]])
        self.live = np.concatenate([self.live, np.zeros(n_new * nf, dtype=bool)])
        self.outage = np.concatenate([self.outage, np.zeros(n_new * nf, dtype=np.int64)])
        self.gf_prev = np.concatenate([self.gf_prev, np.full(n_new, np.nan)])
        self.hatch_n = np.vstack([self.hatch_n, np.zeros((n_new, nf))])
        self.hatch_pr = np.vstack([self.hatch_pr, np.full((n_new, nf), np.nan)])
        self.hatch_cp = np.vstack([self.hatch_cp, np.full((n_new, nf), np.nan)])
        for tracker in self.doppler:
            tracker.grow(n_new)


class RtkFilter:
    def __init__(
        self,
        sats: NDArray[np.str_],
        wavelength_m: F64,
        base_ecef_m: F64,
        options: RtkOptions,
        antennas: Antennas = NO_ANTENNAS,
    ) -> None:
        self.opt = options
        self.rover_ant, self.base_ant = antennas
        self.base = np.asarray(base_ecef_m, dtype=np.float64)
        self.sig = _Signals.empty(wavelength_m.shape[1])
        # position (and in kinematic mode with dynamics, velocity) before the ambiguities
        self.dynamics = options.dynamics and options.mode == "kinematic"
        self.layout = Layout({"pos": 3, "vel": 3 if self.dynamics else 0, "amb": 0})
        self.x = np.zeros(self.layout.size)
        self.p = np.zeros((self.layout.size, self.layout.size))
        self.pos_ready = False
        self.t_prev: float | None = None
        self._doy = 1.0
        self.fix_run = 0
        self.warm = WarmStart()
        self.use_phase = options.mode in ("kinematic", "static")
        self.add_satellites(sats, wavelength_m)

    @property
    def n_sats(self) -> int:
        return self.sig.n_sats

    @property
    def nf(self) -> int:
        return self.sig.nf

    @property
    def wl(self) -> F64:
        return self.sig.wl

    @property
    def system(self) -> NDArray[np.int64]:
        return self.sig.system

    @property
    def amb0(self) -> int:
        """State index of the first ambiguity: ambiguity ``k`` (satellite ``k // nf``, slot
        ``k % nf``) is state ``amb0 + k``."""
        return self.layout.start("amb")

    def add_satellites(self, sats: NDArray[np.str_], wavelength_m: F64) -> None:
        """Append satellite columns (a live stream meets satellites as they rise). Their states
        go at the end of the state vector, so every existing index - and the warm-started
        decorrelation keyed by them - stays valid; the new ambiguities start dead."""
        n_new = len(sats)
        if n_new == 0:
            return
        self.sig.grow(sats, wavelength_m)
        grow = n_new * self.nf
        self.layout = self.layout.resized("amb", self.n_sats * self.nf)
        self.x = np.concatenate([self.x, np.zeros(grow)])
        self.p = np.pad(self.p, ((0, grow), (0, grow)))

    def restart_signals(self, sats: NDArray[np.intp], slots: NDArray[np.intp], wavelength_m: F64) -> None:
        """Signals now on another carrier: their ambiguities, geometry-free history and carrier
        smoothing start over."""
        self.sig.wl[sats, slots] = wavelength_m
        self.sig.live[sats * self.nf + slots] = False
        self.sig.gf_prev[sats] = np.nan
        self.sig.hatch_n[sats, slots] = 0.0

    # -- residuals ------------------------------------------------------------------------

    def _zero_diff(
        self, rx: F64, sats: SatStates, pr: F64, cp: F64, ant: ReceiverModel | None
    ) -> tuple[F64, F64, F64, F64]:
        rng, los = geometry(rx, sats.pos_m)
        az, el = az_el(rx, los)
        lat, _, h = ecef_to_geodetic(rx)
        lat_rad = np.radians(float(lat))
        zenith = saastamoinen_m(lat_rad, float(h), np.array([np.pi / 2]), humidity=0.0)
        tropo = zenith * niell_hydrostatic(lat_rad, float(h), el, self._doy)
        model = (rng - C_MPS * sats.clock_s + tropo)[:, None]
        if ant is not None:  # receiver antenna phase centre, per frequency slot (RTKLIB's antmodel)
            model = model + range_correction_m(ant, az, el)[:, : self.nf]
        return self.wl * cp - model, pr - model, los, el

    def _residuals(self, rx: F64, ep: EpochObs, base_zd: tuple[F64, F64]) -> _Residuals:
        ph_r, co_r, los, el = self._zero_diff(rx, ep.rover_sats, ep.rover_pr, ep.rover_cp, self.rover_ant)
        return _Residuals(ph_r - base_zd[0], co_r - base_zd[1], los, el)

    # -- time update ----------------------------------------------------------------------

    def _reset(self, k: NDArray[np.intp] | slice, value: F64, var: float) -> None:
        reset(self.x, self.p, k, value, var)

    def _time_update(self, ep: EpochObs, phase_ok: NDArray[np.bool_], dt: float) -> None:
        kinematic = self.opt.mode in ("kinematic", "dgnss")
        if self.dynamics:
            self._predict_motion(ep.spp_ecef_m, dt)
        elif kinematic or not self.pos_ready:
            self._reset(self.layout.slice("pos"), ep.spp_ecef_m, VAR_POS_M2)
            self.pos_ready = True
        if not self.use_phase:
            return
        sig, amb0 = self.sig, self.amb0
        flat_ok = phase_ok.ravel()
        if self.opt.ar == "instantaneous":
            sig.live[:] = False
        sig.outage = np.where(flat_ok, 0, sig.outage + 1)
        sig.live &= sig.outage <= self.opt.max_outage_epochs
        slip = ((ep.rover_lli & 1) != 0) | ((ep.base_lli & 1) != 0)
        if self.nf >= 2:
            sd_cp = ep.rover_cp[:, :2] - ep.base_cp[:, :2]
            gf = self.wl[:, 0] * sd_cp[:, 0] - self.wl[:, 1] * sd_cp[:, 1]
            jump = np.abs(gf - sig.gf_prev) > self.opt.slip_gf_m
            slip |= jump[:, None]
            sig.gf_prev = np.where(np.isfinite(gf), gf, sig.gf_prev)
        if self.opt.slip_doppler_m > 0.0 and ep.rover_dop is not None and ep.base_dop is not None:
            thr = self.opt.slip_doppler_m
            slip |= sig.doppler[0].update(ep.t_gpst_s, ep.rover_cp, ep.rover_dop, self.wl, thr)
            slip |= sig.doppler[1].update(ep.t_gpst_s - ep.age_s, ep.base_cp, ep.base_dop, self.wl, thr)
        live_idx = amb0 + np.flatnonzero(sig.live)  # ambiguities random-walk: F = I, Q diagonal
        self.p[live_idx, live_idx] += self.opt.prn_bias_cyc**2 * abs(dt)
        start = flat_ok & (~sig.live | slip.ravel())
        if start.any():
            k = np.flatnonzero(start)
            sd_cp = (ep.rover_cp - ep.base_cp).ravel()[k]
            sd_pr = (ep.rover_pr - ep.base_pr).ravel()[k]
            self._reset(amb0 + k, sd_cp - sd_pr / self.wl.ravel()[k], self.opt.std_bias_cyc**2)
            sig.live[k] = True

    def _predict_motion(self, spp_ecef_m: F64, dt: float) -> None:
        """Constant velocity driven by white acceleration noise (horizontal and vertical sigmas
        of the options, rotated from ENU at the rover): position += velocity dt. The motion
        starts over from the single-point position (velocity 0, 10 m/s sigma) at the first
        epoch, after a gap, or - as RTKLIB's ``udpos`` - when the predicted position has lost
        the single point: farther from it than 30 m and three of its own sigmas (a fresh start's
        10 m/s sigma lets a fast vehicle's first second through)."""
        pos, vel = self.layout.slice("pos"), self.layout.slice("vel")
        if self.pos_ready and 0.0 < dt <= MOTION_MAX_GAP_S:
            lat, lon, _ = ecef_to_geodetic(self.x[pos] + dt * self.x[vel])
            rot = enu_rotation(lat, lon)  # ECEF -> ENU
            h2, v2 = self.opt.accel_h_mps2**2, self.opt.accel_v_mps2**2
            q = rot.T @ np.diag([h2, h2, v2]) @ rot
            eye, zero = np.eye(3), np.zeros((3, 3))
            f = np.block([[eye, dt * eye], [zero, eye]])  # the motion block [pos, vel], contiguous
            q_motion = np.block([[q * dt**3 / 3.0, q * dt**2 / 2.0], [q * dt**2 / 2.0, q * dt]])
            self.x, self.p = predict(self.x, self.p, f, q_motion, block=slice(pos.start, vel.stop))
            gate = max(MOTION_RESET_M, 3.0 * float(np.sqrt(np.trace(self.p[pos, pos]))))
            if np.linalg.norm(self.x[pos] - spp_ecef_m) <= gate:
                return
        self._reset(pos, spp_ecef_m, VAR_POS_M2)
        self._reset(vel, np.zeros(3), VAR_VEL_M2S2)
        self.pos_ready = True

    @property
    def velocity_mps(self) -> F64 | None:
        """ECEF velocity (m/s) in kinematic mode with dynamics, else None."""
        return self.x[self.layout.slice("vel")].copy() if self.dynamics else None

    # -- measurement update ---------------------------------------------------------------

    def _variance(self, el: F64, code: bool) -> F64:
        fact = self.opt.code_phase_ratio if code else 1.0
        a, b = fact * self.opt.err_phase_m, fact * self.opt.err_phase_el_m
        s = np.maximum(np.sin(el), 0.05)
        return np.asarray(2.0 * (a * a + b * b / (s * s)), dtype=np.float64)

    def _double_differences(
        self, res: _Residuals, phase_ok: NDArray[np.bool_], code_ok: NDArray[np.bool_]
    ) -> tuple[F64, F64, F64, NDArray[np.intp]]:
        """Innovations, design matrix and covariance of all double differences; also the
        satellites of the phase ones (for the satellite count)."""
        n_state, pos, amb0 = self.x.size, self.layout.slice("pos"), self.amb0
        vs: list[F64] = []
        hs: list[F64] = []
        blocks: list[F64] = []
        used: list[NDArray[np.intp]] = []
        kinds = (
            ((True, phase_ok, res.phase), (False, code_ok, res.code))
            if self.use_phase
            else ((False, code_ok, res.code),)
        )
        for is_phase, ok_all, y_all in kinds:
            var_all = self._variance(res.el, code=not is_phase)
            for system in np.unique(self.system):
                for f in range(self.nf):
                    members = np.flatnonzero(ok_all[:, f] & (self.system == system))
                    if members.size < 2:
                        continue
                    ref = members[np.argmax(res.el[members])]
                    oth = members[members != ref]
                    y = y_all[oth, f] - y_all[ref, f]
                    h = np.zeros((oth.size, n_state))
                    h[:, pos] = -(res.los[oth] - res.los[ref])
                    if is_phase:
                        ki, kr = amb0 + oth * self.nf + f, amb0 + ref * self.nf + f
                        rows = np.arange(oth.size)
                        h[rows, ki] = self.wl[oth, f]
                        h[rows, kr] = -self.wl[ref, f]
                        y = y - (self.wl[oth, f] * self.x[ki] - self.wl[ref, f] * self.x[kr])
                        used.append(members)
                    keep = np.abs(y) <= self.opt.max_innovation_m
                    oth, y, h = oth[keep], y[keep], h[keep]
                    if oth.size == 0:
                        continue
                    var_ref = var_all[ref]
                    blocks.append(np.diag(var_all[oth]) + var_ref)
                    vs.append(y)
                    hs.append(h)
        if not vs:
            return np.zeros(0), np.zeros((0, n_state)), np.zeros((0, 0)), np.zeros(0, np.intp)
        r = np.zeros((sum(len(v) for v in vs),) * 2)
        o = 0
        for b in blocks:
            r[o : o + len(b), o : o + len(b)] = b
            o += len(b)
        sats_used = np.unique(np.concatenate(used)) if used else np.zeros(0, np.intp)
        return np.concatenate(vs), np.vstack(hs), r, sats_used

    def _update(self, v: F64, h: F64, r: F64) -> None:
        self.x, self.p = update(self.x, self.p, v, h, r)

    # -- one epoch ------------------------------------------------------------------------

    def step(self, ep: EpochObs) -> EpochResult:
        dt = 0.0 if self.t_prev is None else ep.t_gpst_s - self.t_prev
        self.t_prev = ep.t_gpst_s
        self._doy = _day_of_year(ep.t_gpst_s)
        ph_b, co_b, _, _ = self._zero_diff(self.base, ep.base_sats, ep.base_pr, ep.base_cp, self.base_ant)
        both = ep.rover_sats.valid & ep.base_sats.valid
        _, el_spp = az_el(ep.spp_ecef_m, geometry(ep.spp_ecef_m, ep.rover_sats.pos_m)[1])
        above = both & (el_spp >= np.radians(self.opt.elmask_deg))
        if self.use_phase:
            above &= self.system != CODE_ONLY_SYSTEM
        wl_ok = np.isfinite(self.wl)
        code_ok = above[:, None] & np.isfinite(ep.rover_pr) & np.isfinite(ep.base_pr) & wl_ok
        phase_ok = code_ok & np.isfinite(ep.rover_cp) & np.isfinite(ep.base_cp)
        self._time_update(ep, phase_ok, dt)
        pos = self.layout.slice("pos")
        res = self._residuals(self.x[pos], ep, (ph_b, co_b))
        if not self.use_phase and self.opt.code_smoothing_s > 0:
            sd_pr = ep.rover_pr - ep.base_pr
            smoothed = self._hatch(ep, sd_pr, phase_ok, dt)
            res = _Residuals(
                res.phase, res.code + np.where(np.isfinite(smoothed), smoothed - sd_pr, 0.0), res.los, res.el
            )
        v, h, r, used = self._double_differences(res, phase_ok, code_ok)
        if v.size < 4:
            single = SolutionQuality.SINGLE
            return EpochResult(ep.spp_ecef_m, np.eye(3) * VAR_POS_M2, single, int(above.sum()), 0.0)
        self._update(v, h, r)
        ns = int(used.size) if self.use_phase else int(above.sum())
        if not self.use_phase:
            return EpochResult(self.x[pos].copy(), self.p[pos, pos].copy(), SolutionQuality.DGPS, ns, 0.0)
        ratio = 0.0
        if self.opt.ar != "off":
            fixed = self._resolve(ep, phase_ok, res.el, (ph_b, co_b))
            if isinstance(fixed, Fix):
                self.fix_run += 1
                if self.opt.ar == "fix-and-hold" and self.fix_run >= self.opt.min_fix_to_hold:
                    self._hold(fixed)
                return EpochResult(fixed.pos_m, fixed.pos_cov, SolutionQuality.FIX, ns, fixed.ratio)
            ratio = fixed
        self.fix_run = 0
        return EpochResult(self.x[pos].copy(), self.p[pos, pos].copy(), SolutionQuality.FLOAT, ns, ratio)

    def _hatch(self, ep: EpochObs, sd_pr: F64, phase_ok: NDArray[np.bool_], dt: float) -> F64:
        """Single-differenced code smoothed by single-differenced carrier (Hatch filter): the
        carrier's change carries the range change with millimetre noise, so averaging the code
        over ``code_smoothing_s`` removes most of its noise and multipath. Over a short baseline
        the ionosphere's code-carrier divergence cancels in the single difference."""
        sd_cp_m = self.wl * (ep.rover_cp - ep.base_cp)
        slip = ((ep.rover_lli & 1) != 0) | ((ep.base_lli & 1) != 0)
        sig = self.sig
        carry = phase_ok & ~slip & (sig.hatch_n > 0)
        n_max = max(1.0, self.opt.code_smoothing_s / dt) if dt > 0 else 1.0
        n = np.where(carry, np.minimum(sig.hatch_n + 1.0, n_max), 1.0)
        predicted = sig.hatch_pr + (sd_cp_m - sig.hatch_cp)
        smoothed = np.where(carry, sd_pr / n + (n - 1.0) / n * predicted, sd_pr)
        sig.hatch_n = np.where(phase_ok, n, 0.0)
        sig.hatch_pr = smoothed
        sig.hatch_cp = sd_cp_m
        return np.asarray(smoothed, dtype=np.float64)

    def _resolve(
        self, ep: EpochObs, phase_ok: NDArray[np.bool_], el: F64, base_zd: tuple[F64, F64]
    ) -> Fix | float:
        flat = np.flatnonzero(phase_ok.ravel() & self.sig.live)
        sat_of = flat // self.nf
        groups = self.system[sat_of] * 8 + flat % self.nf
        out = resolve(
            self.x,
            self.p,
            self.amb0 + flat,
            groups,
            el[sat_of],
            sat_of,
            self.opt.ratio_threshold,
            self.opt.partial_ar,
            warm=self.warm,
        )
        if isinstance(out, Fix) and not self._valid_fix(out, ep, base_zd):
            return float(out.ratio)  # the ratio passed but the residuals did not: a float epoch
        return out

    def _valid_fix(self, fix: Fix, ep: EpochObs, base_zd: tuple[F64, F64]) -> bool:
        """Residuals of the fixed double-differenced phases within 4 sigma of the noise model."""
        res = self._residuals(fix.pos_m, ep, base_zd)
        k_i, k_r = fix.pairs[:, 0] - self.amb0, fix.pairs[:, 1] - self.amb0
        s_i, f_i, s_r = k_i // self.nf, k_i % self.nf, k_r // self.nf
        wl = self.wl[s_i, f_i]
        v = res.phase[s_i, f_i] - res.phase[s_r, f_i] - wl * fix.dd_cyc
        var = self._variance(res.el[s_i], False) + self._variance(res.el[s_r], False)
        return bool(np.all(v * v <= VALIDATION_SIGMAS**2 * var))

    def _hold(self, fix: Fix) -> None:
        n = len(fix.pairs)
        h = np.zeros((n, self.x.size))
        rows = np.arange(n)
        h[rows, fix.pairs[:, 0]] = 1.0
        h[rows, fix.pairs[:, 1]] = -1.0
        v = fix.dd_cyc - h @ self.x
        self._update(v, h, np.eye(n) * self.opt.var_hold_amb_cyc2)
