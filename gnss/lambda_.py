"""Integer least squares for carrier ambiguities: LAMBDA decorrelation + MLAMBDA search.

Pure functions over NumPy arrays, no state: ``integer_ls(a_float, Q, m)`` returns the ``m``
integer vectors closest to the float ambiguities in the metric of their covariance, with their
squared distances, best first; ``ratio`` is the validation test RTK uses on them.

The steps, after Teunissen (1995, the LAMBDA method) and Chang, Yang & Zhou (2005, MLAMBDA):

1. ``Q = L' diag(D) L`` with ``L`` unit lower triangular (factorised from the last index, so the
   search below runs from the last ambiguity to the first);
2. integer Gauss transformations and permutations ("reduction") make the transformed
   ambiguities as uncorrelated as integers allow, ordering the conditional variances; ``Z`` keeps
   the unimodular transformation, so integers map to integers and back;
3. depth-first search with shrinking ellipsoid on the transformed problem, enumerating each
   level's integers in zig-zag order around the conditional estimate, keeping the ``m`` best;
4. back-transform the candidates: ``a = Z'^-1 z``.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

F64 = NDArray[np.float64]
LOOP_MAX: Final = 10_000  # search steps before giving up (RTKLIB uses the same bound)


class LambdaFailed(ValueError):
    """The covariance is not positive definite, or the search did not finish."""


def ld_factor(q: ArrayLike) -> tuple[F64, F64]:
    """``Q = L' diag(D) L``: unit lower triangular ``L`` and ``D``, eliminating from the last row."""
    a = np.array(q, dtype=np.float64, copy=True)
    n = len(a)
    lower = np.zeros((n, n))
    d = np.zeros(n)
    for i in range(n - 1, -1, -1):
        d[i] = a[i, i]
        if d[i] <= 0.0:
            raise LambdaFailed("covariance not positive definite")
        root = np.sqrt(d[i])
        lower[i, : i + 1] = a[i, : i + 1] / root
        a[:i, :i] -= np.outer(lower[i, :i], lower[i, :i])  # only the lower triangle is read
        lower[i, : i + 1] /= lower[i, i]
    return lower, d


def _gauss_column(lower: F64, z: F64, j: int) -> None:
    """Integer Gauss transformations of column ``j`` by every later column, in order. Most
    multipliers round to zero, so the loop jumps straight to the next row that needs one (same
    result as visiting every row, a fraction of the Python steps)."""
    n = lower.shape[0]
    i = j + 1
    while i < n:
        hits = np.flatnonzero(np.abs(lower[i:, j]) > 0.5)
        if hits.size == 0:
            return
        i += int(hits[0])
        mu = np.round(lower[i, j])
        if mu != 0.0:
            lower[i:, j] -= mu * lower[i:, i]
            z[:, j] -= mu * z[:, i]
        i += 1


def _permute(lower: F64, d: F64, j: int, delta: float, z: F64) -> None:
    eta = d[j] / delta
    lam = d[j + 1] * lower[j + 1, j] / delta
    d[j], d[j + 1] = eta * d[j + 1], delta
    a0, a1 = lower[j, :j].copy(), lower[j + 1, :j].copy()
    lower[j, :j] = -lower[j + 1, j] * a0 + a1
    lower[j + 1, :j] = eta * a0 + lam * a1
    lower[j + 1, j] = lam
    lower[j + 2 :, [j, j + 1]] = lower[j + 2 :, [j + 1, j]]
    z[:, [j, j + 1]] = z[:, [j + 1, j]]


def reduce(lower: F64, d: F64) -> F64:
    """Decorrelate in place (``lower``, ``d``); returns the unimodular ``Z``.

    MLAMBDA's order (Chang, Yang and Zhou 2005): after a permutation at ``j`` the sweep steps
    back one column instead of restarting from the last, so the Python-level loop runs
    O(permutations) times rather than O(permutations x n). The integer solution does not depend
    on which valid reduction is reached."""
    n = len(d)
    z = np.eye(n)
    j = k = n - 2
    while j >= 0:
        if j <= k:
            _gauss_column(lower, z, j)
        delta = d[j] + lower[j + 1, j] ** 2 * d[j + 1]
        if delta + 1e-6 < d[j + 1]:  # swapping j and j+1 lowers the later variance
            _permute(lower, d, j, delta, z)
            k = j
            j = min(j + 1, n - 2)
        else:
            j -= 1
    return z


def _sgn(x: float) -> float:
    return -1.0 if x <= 0.0 else 1.0


def search(lower: F64, d: F64, zs: F64, m: int) -> tuple[F64, F64]:
    """MLAMBDA: the ``m`` integer vectors nearest ``zs`` in the metric ``(L' D L)^-1``, as
    columns, and their squared distances, ascending."""
    n = len(d)
    s_mat = np.zeros((n, n))
    dist = np.zeros(n)
    zb = np.zeros(n)
    zc = np.zeros(n)
    step = np.zeros(n)
    cand = np.zeros((n, m))
    sq = np.zeros(m)
    found, worst, max_dist = 0, 0, np.inf
    k = n - 1
    zb[k] = zs[k]
    zc[k] = np.round(zb[k])
    y = zb[k] - zc[k]
    step[k] = _sgn(y)
    for _ in range(LOOP_MAX):
        new_dist = dist[k] + y * y / d[k]
        if new_dist < max_dist:
            if k != 0:  # go down a level
                k -= 1
                dist[k] = new_dist
                s_mat[k, : k + 1] = s_mat[k + 1, : k + 1] + (zc[k + 1] - zb[k + 1]) * lower[k + 1, : k + 1]
                zb[k] = zs[k] + s_mat[k, k]
                zc[k] = np.round(zb[k])
                y = zb[k] - zc[k]
                step[k] = _sgn(y)
            else:  # a full candidate
                if found < m:
                    if found == 0 or new_dist > sq[worst]:
                        worst = found
                    cand[:, found] = zc
                    sq[found] = new_dist
                    found += 1
                else:
                    if new_dist < sq[worst]:
                        cand[:, worst] = zc
                        sq[worst] = new_dist
                        worst = int(np.argmax(sq))
                    max_dist = sq[worst]
                zc[0] += step[0]
                y = zb[0] - zc[0]
                step[0] = -step[0] - _sgn(step[0])
        else:  # up a level
            if k == n - 1:
                break
            k += 1
            zc[k] += step[k]
            y = zb[k] - zc[k]
            step[k] = -step[k] - _sgn(step[k])
    else:
        raise LambdaFailed("search did not finish")
    order = np.argsort(sq[:found], kind="stable")
    return cand[:, order], sq[order]


def integer_ls(a_float: ArrayLike, q: ArrayLike, m: int = 2) -> tuple[F64, F64]:
    """The ``m`` best integer vectors (columns, best first) and their squared distances."""
    fixed, sq, _ = integer_ls_warm(a_float, q, m)
    return fixed, sq


def integer_ls_warm(
    a_float: ArrayLike, q: ArrayLike, m: int = 2, z0: F64 | None = None
) -> tuple[F64, F64, F64]:
    """:func:`integer_ls` that starts the decorrelation from a known unimodular ``z0`` (the
    previous epoch's, when a filter's ambiguity set has not changed: its covariance moves
    slowly, so few permutations remain) and also returns the ``Z`` reached for the next call."""
    a = np.asarray(a_float, dtype=np.float64)
    qq = np.asarray(q, dtype=np.float64)
    if z0 is not None:
        qq = z0.T @ qq @ z0
    lower, d = ld_factor(qq)
    z = reduce(lower, d)
    if z0 is not None:
        z = z0 @ z
    zs = z.T @ a
    cand, sq = search(lower, d, zs, m)
    fixed = np.linalg.solve(z.T, cand)
    return np.round(fixed), sq, z


def ratio(sq: ArrayLike) -> float:
    """The ratio test statistic: second-best over best squared distance (fix if >= threshold)."""
    s = np.asarray(sq, dtype=np.float64)
    if len(s) < 2 or s[0] <= 0.0:
        return float("inf") if len(s) >= 2 and s[1] > 0 else 0.0
    return float(s[1] / s[0])
