"""How good a solution run is: quality shares, errors against a surveyed truth, and agreement with
a reference run (RTKLIB's) epoch by epoch.

The metrics are the ones of ``shared/data/gnss/reference/summary.csv``, defined so that they
reproduce its numbers (a test checks every row):

- shares of Q (fix 1, float 2, DGPS 4, single 5) in percent of all epochs of the file;
- the error of an epoch is its position in the truth's local ENU frame (exact, via ECEF);
  horizontal ``sqrt(e^2 + n^2)``, vertical ``|u|``, 3D the norm of all three;
- RMS over all epochs, whatever their Q (``fix_*`` RMS over Q=1 epochs only);
- the 95 % horizontal error is NumPy's default percentile (linear interpolation between order
  statistics); ``max3d`` the largest 3D error.

Agreement: epochs are matched by time (to the millisecond, the files' precision); where both runs
are fixed, the horizontal difference of the two positions gives a 95 % value and a maximum. That
is the issue's "within 1 cm of RTKLIB's fixed positions" criterion.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

from gnss.geodesy import geodetic_to_enu
from gnss.quality import SolutionQuality
from gnss.rtk.posfile import FloatArray, PosSolutions

Llh = tuple[float, float, float]
PERCENTILE: Final = 95.0
_CM: Final = 100.0


@dataclass(frozen=True, slots=True)
class TruthErrors:
    """Errors against a known antenna position, in centimetres (``None``: no fixed epoch)."""

    h_rms_cm: float
    v_rms_cm: float
    h95_cm: float
    max3d_cm: float
    fix_h_rms_cm: float | None
    fix_v_rms_cm: float | None


@dataclass(frozen=True, slots=True)
class Agreement:
    """How a run agrees with a reference run over the epochs both have."""

    matched_epochs: int
    both_fixed_epochs: int
    both_fixed_pct: float  # of the matched epochs
    fixed_h95_cm: float | None  # horizontal difference where both are fixed
    fixed_hmax_cm: float | None
    fixed_v95_cm: float | None  # |vertical difference| where both are fixed


@dataclass(frozen=True, slots=True)
class SolutionReport:
    epochs: int
    fix_pct: float
    float_pct: float
    dgps_pct: float
    single_pct: float
    truth: TruthErrors | None = None
    reference: Agreement | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (nested ``truth`` and ``reference``, ``None`` when absent)."""
        return asdict(self)


def enu_errors_m(sols: PosSolutions, truth_llh: Llh) -> FloatArray:
    """``(n, 3)`` east, north, up of every solution relative to the truth, metres."""
    lat0, lon0, h0 = truth_llh
    return geodetic_to_enu(sols.llh[:, 0], sols.llh[:, 1], sols.llh[:, 2], lat0, lon0, h0).reshape(-1, 3)


def quality_shares(q: NDArray[np.int64]) -> dict[str, float]:
    """Percent of epochs per quality; 0 for an empty run."""
    n = max(int(q.shape[0]), 1)
    return {
        name: 100.0 * float(np.count_nonzero(q == value)) / n
        for name, value in (
            ("fix_pct", SolutionQuality.FIX),
            ("float_pct", SolutionQuality.FLOAT),
            ("dgps_pct", SolutionQuality.DGPS),
            ("single_pct", SolutionQuality.SINGLE),
        )
    }


def errors_vs_truth(sols: PosSolutions, truth_llh: Llh) -> TruthErrors | None:
    """RMS, 95 % and maximum errors against the truth; ``None`` for an empty run."""
    if len(sols) == 0:
        return None
    enu = enu_errors_m(sols, truth_llh) * _CM
    h = np.hypot(enu[:, 0], enu[:, 1])
    v = np.abs(enu[:, 2])
    fixed = sols.q == SolutionQuality.FIX
    return TruthErrors(
        h_rms_cm=_rms(h),
        v_rms_cm=_rms(v),
        h95_cm=float(np.percentile(h, PERCENTILE)),
        max3d_cm=float(np.max(np.linalg.norm(enu, axis=1))),
        fix_h_rms_cm=_rms(h[fixed]) if fixed.any() else None,
        fix_v_rms_cm=_rms(v[fixed]) if fixed.any() else None,
    )


def match_epochs(a: PosSolutions, b: PosSolutions) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Indices ``(ia, ib)`` of the epochs present in both runs, in time order (millisecond match)."""
    ka = _ms(a.time)
    kb = _ms(b.time)
    _, ia, ib = np.intersect1d(ka, kb, assume_unique=False, return_indices=True)
    return ia, ib


def agreement(sols: PosSolutions, ref: PosSolutions) -> Agreement:
    """Compare a run with a reference run where both are fixed."""
    ia, ib = match_epochs(sols, ref)
    both = (sols.q[ia] == SolutionQuality.FIX) & (ref.q[ib] == SolutionQuality.FIX)
    ia, ib = ia[both], ib[both]
    n_both = int(ia.shape[0])
    h95 = hmax = v95 = None
    if n_both:
        mine, theirs = sols.llh[ia], ref.llh[ib]
        diff = geodetic_to_enu(
            mine[:, 0], mine[:, 1], mine[:, 2], theirs[:, 0], theirs[:, 1], theirs[:, 2]
        ).reshape(-1, 3)
        h = np.hypot(diff[:, 0], diff[:, 1]) * _CM
        h95 = float(np.percentile(h, PERCENTILE))
        hmax = float(np.max(h))
        v95 = float(np.percentile(np.abs(diff[:, 2]) * _CM, PERCENTILE))
    matched = int(both.shape[0])
    return Agreement(
        matched_epochs=matched,
        both_fixed_epochs=n_both,
        both_fixed_pct=100.0 * n_both / matched if matched else 0.0,
        fixed_h95_cm=h95,
        fixed_hmax_cm=hmax,
        fixed_v95_cm=v95,
    )


def compare(
    sols: PosSolutions, *, truth_llh: Llh | None = None, reference: PosSolutions | None = None
) -> SolutionReport:
    """Everything above for one run: shares, errors if a truth is given, agreement if a reference is."""
    return SolutionReport(
        epochs=len(sols),
        **quality_shares(sols.q),
        truth=errors_vs_truth(sols, truth_llh) if truth_llh is not None else None,
        reference=agreement(sols, reference) if reference is not None else None,
    )


def report_rows(report: SolutionReport) -> list[tuple[str, str]]:
    """(label, value) pairs as the CLI shows them: percent and centimetres to 0.1 like summary.csv,
    differences from the reference to 0.01 cm (the goal they are held to is 1 cm)."""
    rows = [
        ("epochs", str(report.epochs)),
        ("fix %", _one(report.fix_pct)),
        ("float %", _one(report.float_pct)),
        ("dgps %", _one(report.dgps_pct)),
        ("single %", _one(report.single_pct)),
    ]
    if report.truth is not None:
        t = report.truth
        rows += [
            ("h RMS cm", _one(t.h_rms_cm)),
            ("v RMS cm", _one(t.v_rms_cm)),
            ("h 95% cm", _one(t.h95_cm)),
            ("max 3D cm", _one(t.max3d_cm)),
            ("fixed: h RMS cm", _one(t.fix_h_rms_cm)),
            ("fixed: v RMS cm", _one(t.fix_v_rms_cm)),
        ]
    if report.reference is not None:
        a = report.reference
        rows += [
            ("epochs matched with ref", str(a.matched_epochs)),
            ("both fixed %", _one(a.both_fixed_pct)),
            ("both fixed: h 95% diff cm", _two(a.fixed_h95_cm)),
            ("both fixed: h max diff cm", _two(a.fixed_hmax_cm)),
            ("both fixed: v 95% diff cm", _two(a.fixed_v95_cm)),
        ]
    return rows


def format_report(report: SolutionReport, *, title: str | None = None) -> str:
    """The report as aligned plain-text lines."""
    rows = report_rows(report)
    width = max(len(label) for label, _ in rows)
    lines = [title] if title else []
    lines += [f"{label:<{width}}  {value:>8}" for label, value in rows]
    return "\n".join(lines)


def _rms(x: FloatArray) -> float:
    return float(np.sqrt(np.mean(x * x)))


def _one(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _two(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _ms(time: NDArray[np.datetime64]) -> NDArray[np.int64]:
    ns = np.asarray(time, dtype="datetime64[ns]").astype(np.int64)
    return (ns + 500_000) // 1_000_000
