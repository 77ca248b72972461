"""LAMBDA/MLAMBDA against published worked examples and against brute force.

The two problems (float ambiguities, covariance, the two best integer candidates and their
squared distances) are RTKLIB's unit tests (tomojitakasu/RTKLIB test/utest/t_lambda.c, commit
e339c933, BSD-2-Clause): numbers only, taken as the reference to agree with to 1e-4.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from gnss.lambda_ import LambdaFailed, integer_ls, ld_factor, ratio, reduce

A1 = [1585184.171, -6716599.430, 3915742.905, 7627233.455, 9565990.879, 989457273.200]
Q1 = np.full((6, 6), 0.112202)
np.fill_diagonal(Q1, 0.227134)
Q1[5, :5] = Q1[:5, 5] = 0.103473
Q1[5, 5] = 0.434339
F1 = [
    [1585184.0, 1585184.0],
    [-6716599.0, -6716600.0],
    [3915743.0, 3915743.0],
    [7627234.0, 7627233.0],
    [9565991.0, 9565991.0],
    [989457273.0, 989457273.0],
]
S1 = [3.507984, 3.708456]

A2 = [
    -13324172.755747, -10668894.713608, -7157225.010770, -6149367.974367, -7454133.571066,
    -5969200.494550, 8336734.058423, 6186974.084502, -17549093.883655, -13970158.922370,
]  # fmt: skip
_q11 = np.full((5, 5), 0.223160) + np.eye(5) * (0.446320 - 0.223160)
_q12 = np.full((5, 5), 0.286388) + np.eye(5) * (0.572775 - 0.286388)
_q22 = np.full((5, 5), 0.367531) + np.eye(5) * (0.735063 - 0.367531)
Q2 = np.block([[_q11, _q12], [_q12, _q22]])
F2 = [
    [-13324188.0, -13324188.0], [-10668901.0, -10668908.0], [-7157236.0, -7157236.0],
    [-6149379.0, -6149379.0], [-7454143.0, -7454143.0], [-5969220.0, -5969220.0],
    [8336726.0, 8336717.0], [6186960.0, 6186960.0], [-17549108.0, -17549108.0],
    [-13970171.0, -13970171.0],
]  # fmt: skip
S2 = [1506.435789, 1612.811795]


@pytest.mark.parametrize(("a", "q", "f", "s"), [(A1, Q1, F1, S1), (A2, Q2, F2, S2)])
def test_rtklib_worked_examples(a: list[float], q: np.ndarray, f: list[list[float]], s: list[float]) -> None:
    fixed, sq = integer_ls(a, q, m=2)
    assert np.allclose(fixed, np.array(f), atol=1e-4)
    assert np.allclose(sq, s, atol=1e-4)
    assert ratio(sq) == pytest.approx(s[1] / s[0])


def test_decorrelation_keeps_the_problem_and_is_unimodular() -> None:
    lower, d = ld_factor(Q2)
    assert np.allclose(lower.T @ np.diag(d) @ lower, Q2)
    z = reduce(lower, d)
    assert abs(round(float(np.linalg.det(z)))) == 1  # integers map to integers, both ways
    assert np.allclose(z, np.round(z))
    assert np.allclose(lower.T @ np.diag(d) @ lower, z.T @ Q2 @ z)  # the transformed covariance


def test_matches_brute_force_on_random_problems() -> None:
    rng = np.random.default_rng(7)
    for _ in range(40):
        n = 3
        g = rng.normal(size=(n, n))
        q = g @ g.T + 0.05 * np.eye(n)
        a = rng.normal(scale=3.0, size=n)
        fixed, sq = integer_ls(a, q, m=2)
        qi = np.linalg.inv(q)
        centre = np.round(a).astype(int)
        grid = [np.array(c) + centre for c in itertools.product(range(-6, 7), repeat=n)]
        dists = sorted((float((a - z) @ qi @ (a - z)), tuple(z)) for z in grid)
        assert sq[0] == pytest.approx(dists[0][0], rel=1e-9)
        assert sq[1] == pytest.approx(dists[1][0], rel=1e-9)
        assert tuple(fixed[:, 0].astype(int)) == dists[0][1]


def test_not_positive_definite_is_refused() -> None:
    with pytest.raises(LambdaFailed):
        integer_ls([0.3, 0.2], [[1.0, 2.0], [2.0, 1.0]])
