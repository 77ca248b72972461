"""Integer ambiguity resolution on the filter's single-difference ambiguities.

The filter carries one single-difference ambiguity (cycles) per satellite and frequency; the
integer property belongs to their double differences, so a matrix D maps the state to double
differences against one reference satellite per system and frequency (the highest one). MLAMBDA
(:mod:`gnss.lambda_`) finds the two best integer vectors; the fix is accepted when the second is
at least ``ratio_threshold`` times worse. When the full set fails, partial resolution drops the
lowest satellite and tries again (its ambiguities are the noisiest and the likeliest culprits).
The fixed baseline follows from the float one by the conditional mean
``x_a = x_p - Q_pb Q_b^-1 (b_float - b_fixed)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

from gnss.lambda_ import LambdaFailed, integer_ls_warm, ratio

F64 = NDArray[np.float64]
MAX_RATIO: Final = 999.9
MIN_DD: Final = 4


@dataclass(frozen=True, slots=True, eq=False)
class Fix:
    pos_m: F64  # fixed baseline-end position (ECEF)
    pos_cov: F64  # (3, 3)
    ratio: float
    pairs: NDArray[np.intp]  # (n_dd, 2) state indices (satellite state, reference state)
    dd_cyc: F64  # the fixed double differences, cycles


def dd_pairs(amb_state: NDArray[np.intp], groups: NDArray[np.int64], elevation: F64) -> NDArray[np.intp]:
    """(state, reference state) per double difference: within each group, every ambiguity
    against the group's highest satellite."""
    pairs: list[tuple[int, int]] = []
    for g in np.unique(groups):
        members = np.flatnonzero(groups == g)
        if members.size < 2:
            continue
        ref = members[np.argmax(elevation[members])]
        pairs.extend((int(amb_state[m]), int(amb_state[ref])) for m in members if m != ref)
    return np.asarray(pairs, dtype=np.intp).reshape(-1, 2)


class WarmStart:
    """The last decorrelation per ambiguity set: consecutive epochs of a filter mostly resolve
    the same double differences with a slowly changing covariance, and starting from the
    previous Z leaves a few permutations instead of hundreds."""

    def __init__(self) -> None:
        self._key: bytes | None = None
        self._z: F64 | None = None

    def get(self, pairs: NDArray[np.intp]) -> F64 | None:
        return self._z if self._key == pairs.tobytes() else None

    def put(self, pairs: NDArray[np.intp], z: F64) -> None:
        self._key, self._z = pairs.tobytes(), z


def try_fix(
    x: F64, p: F64, pairs: NDArray[np.intp], ratio_threshold: float, warm: WarmStart | None = None
) -> Fix | float:
    """The fixed solution for these double differences, or the failing ratio."""
    n = len(pairs)
    if n < MIN_DD:
        return 0.0
    d = np.zeros((n, x.size))
    rows = np.arange(n)
    d[rows, pairs[:, 0]] = 1.0
    d[rows, pairs[:, 1]] -= 1.0
    b = d @ x
    pd = p @ d.T
    qb = d @ pd
    qab = pd[:3]
    try:
        cand, sq, z = integer_ls_warm(b, qb, 2, warm.get(pairs) if warm else None)
    except (LambdaFailed, np.linalg.LinAlgError):
        return 0.0
    if warm is not None:
        warm.put(pairs, z)
    r = min(ratio(sq), MAX_RATIO)
    if not r >= ratio_threshold:
        return r
    gain = np.linalg.solve(qb, qab.T).T  # Q_ab Q_b^-1
    fixed = cand[:, 0]
    pos = x[:3] - gain @ (b - fixed)
    cov = p[:3, :3] - gain @ qab.T
    return Fix(pos, cov, r, pairs, fixed)


def resolve(
    x: F64,
    p: F64,
    amb_state: NDArray[np.intp],
    groups: NDArray[np.int64],
    elevation: F64,
    sat_of: NDArray[np.intp],
    ratio_threshold: float,
    partial: bool,
    max_drops: int = 6,
    warm: WarmStart | None = None,
) -> Fix | float:
    """Full-set resolution, then (``partial``) the set without the lowest satellites one at a
    time. Returns the fix or the best ratio seen."""
    keep = np.ones(amb_state.size, dtype=bool)
    best = 0.0
    for attempt in range(max_drops + 1 if partial else 1):
        if attempt:
            sats_left = np.unique(sat_of[keep])
            if sats_left.size <= 3:
                break
            el_of_sat = {int(s): float(elevation[sat_of == s].min()) for s in sats_left}
            lowest = min(el_of_sat, key=el_of_sat.__getitem__)
            keep &= sat_of != lowest
        pairs = dd_pairs(amb_state[keep], groups[keep], elevation[keep])
        out = try_fix(x, p, pairs, ratio_threshold, warm if attempt == 0 else None)
        if isinstance(out, Fix):
            return out
        best = max(best, out)
    return best
