"""The maths behind the correspondence and leakage checks (docs/evaluation.md), unit-tested on their own.

Are the captured test inputs the real test set, in its order, under the student's preprocessing? Are
some of them among the training rows? Pure functions of arrays: no context, no model.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..fingerprint import fingerprints
from ..text import Text, decimal


def _flat(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float64).reshape(len(a), -1)


def _rows(a: np.ndarray) -> np.ndarray:
    """``a`` as rows of features, in its own dtype where it is a number (no float64 copy of a whole test set)."""
    a = np.asarray(a)
    return a.reshape(len(a), -1) if a.dtype.kind in "biuf" else _flat(a)


#: Rows per step of ``affine_residual``: float64 temporaries of 2,048 x 784 (12.8 MB) are reused by the allocator,
#: where whole-set ones (63 MB each for MNIST) are fresh pages from the kernel every call.
CHUNK = 2048


def affine_residual(x: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Per column, the RMS of x - (a*r + b) for the best a, b, relative to x's overall spread.

    With a = sxr/srr the residual's sum of squares is sxx - a*sxr, so three column reductions replace building
    the residual, and x's overall variance is the columns' (sxx) plus the spread of their means. The sums run over
    chunks of rows in float64 (``CHUNK``): 0.6 s to 0.05 s on MNIST's test set, most of it the page faults of five
    whole-set temporaries.
    """
    n = len(x)
    x, r = x.reshape(n, -1), r.reshape(n, -1)
    mx, mr = x.mean(0, dtype=np.float64), r.mean(0, dtype=np.float64)
    sxx, srr, sxr = np.zeros(len(mx)), np.zeros(len(mr)), np.zeros(len(mx))
    for start in range(0, n, CHUNK):
        xc = np.subtract(x[start:start + CHUNK], mx, dtype=np.float64)
        rc = np.subtract(r[start:start + CHUNK], mr, dtype=np.float64)
        sxx += np.einsum("ij,ij->j", xc, xc)
        srr += np.einsum("ij,ij->j", rc, rc)
        sxr += np.einsum("ij,ij->j", xc, rc)
    a = np.divide(sxr, srr, out=np.zeros_like(srr), where=srr > 0)
    spread = math.sqrt(max(float(sxx.sum() + n * ((mx - mx.mean()) ** 2).sum()), 0.0) / x.size) if x.size else 0.0
    return np.sqrt(np.maximum(sxx - a * sxr, 0.0) / n) / (spread or 1.0)


def match_columns(x: np.ndarray, r: np.ndarray, sample: int = 2000) -> np.ndarray:
    """For each column of x, the column of r it is most correlated with (on the first rows)."""
    xs, rs = x[:sample], r[:sample]
    zx = (xs - xs.mean(0)) / np.where(xs.std(0) > 0, xs.std(0), 1.0)
    zr = (rs - rs.mean(0)) / np.where(rs.std(0) > 0, rs.std(0), 1.0)
    return np.abs(zx.T @ zr).argmax(1)


def rank(v: np.ndarray) -> np.ndarray:
    import pandas as pd

    return pd.Series(v).rank().to_numpy()


def distance_spearman(x: np.ndarray, r: np.ndarray, rows: int = 200) -> float:
    """Spearman correlation of the pairwise distances among the first ``rows`` rows."""
    def dists(a: np.ndarray) -> np.ndarray:
        a = _flat(a[:rows])
        sq = (a * a).sum(1)
        d = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2 * a @ a.T, 0))
        return d[np.triu_indices(len(a), 1)]
    dx, dr = rank(dists(x)), rank(dists(r))
    if dx.std() == 0 or dr.std() == 0:
        return 0.0
    return float(np.corrcoef(dx, dr)[0, 1])


def correspondence_texts(captured: np.ndarray, raw: np.ndarray, spearman_min: float = 0.9, sample_rows: int = 200,
                         tol: float = 1e-3) -> tuple[bool, Text, dict[str, Any]]:
    """Are ``captured`` rows the ``raw`` test rows, in order, under the student's preprocessing?

    Returns (ok, what the rows are, details); the text completes "the graded inputs are ..." when ok, and
    "the inputs given to the graded model ..." when not.
    """
    if len(captured) != len(raw):
        return (False, Text(f"has {len(captured)} rows; the test set has {len(raw)}",
                            f"têm {len(captured)} linhas; o conjunto de teste tem {len(raw)}"),
                {"rows": len(captured)})
    x, r = _rows(captured), _rows(raw)
    if not np.isfinite(x).all():
        return False, Text("contains NaN or infinite values", "contêm valores NaN ou infinitos"), {}
    if x.shape[1] == r.shape[1] and affine_residual(x, r).max() <= tol:
        return (True, Text("the test set, each feature mapped affinely (scaled, shifted, inverted or standardised)",
                           "o conjunto de teste, cada atributo com uma transformação afim (escalado, deslocado, "
                           "invertido ou padronizado)"), {"mapping": "affine"})
    cols = match_columns(x, r)
    if affine_residual(x, r[:, cols]).max() <= tol:
        used = int(len(np.unique(cols[x.std(0) > 0])))
        return (True,
                Text(f"the test set with {x.shape[1]} of its {r.shape[1]} features (cropped or selected), mapped "
                     "affinely",
                     f"o conjunto de teste com {x.shape[1]} dos seus {r.shape[1]} atributos (recortado ou "
                     "selecionado), com uma transformação afim"),
                {"mapping": "affine-subset", "features": x.shape[1], "raw_features_used": used})
    if len(x) <= 50 and x.shape[1] == r.shape[1]:  # hard-coded data: find the mistyped row
        bad = [i for i in range(len(x)) if affine_residual(np.delete(x, i, 0), np.delete(r, i, 0)).max() <= tol]
        if len(bad) == 1:
            i = bad[0]
            expected = ", ".join(f"{v:g}" for v in r[i])
            return (False, Text(f"match the reference test rows except row {i} (0-based), which should be "
                                f"({expected}) before preprocessing: check the numbers you typed",
                                f"coincidem com as linhas de teste de referência, exceto a linha {i} (contando a "
                                f"partir de 0), que deveria ser ({expected}) antes do pré-processamento: confira os "
                                "números que você digitou"),
                    {"mapping": "affine", "bad_row": i})
        if len(x) < sample_rows:
            return (False, Text("do not match the reference test rows under any per-feature scaling",
                                "não coincidem com as linhas de teste de referência sob nenhuma mudança de escala por "
                                "atributo"),
                    {"mapping": "none"})
    rho = distance_spearman(x, r, sample_rows)
    details = {"mapping": "distances", "spearman": round(rho, 4), "spearman_min": spearman_min}
    if rho >= spearman_min:
        return (True, Text(f"a transformed test set (resized or similar): the distances among its first "
                           f"{sample_rows} rows match the raw test rows (Spearman {rho:.3f})",
                           f"um conjunto de teste transformado (redimensionado ou algo parecido): as distâncias entre "
                           f"as suas {sample_rows} primeiras linhas coincidem com as das linhas de teste originais "
                           f"(Spearman {decimal(rho, 3, 'pt')})"),
                details)
    return (False, Text(f"is not the test set in its order: the distances among its first {sample_rows} rows do "
                        f"not match the raw test rows (Spearman {rho:.3f} < {spearman_min})",
                        f"não são o conjunto de teste na sua ordem: as distâncias entre as suas {sample_rows} "
                        f"primeiras linhas não coincidem com as das linhas de teste originais (Spearman "
                        f"{decimal(rho, 3, 'pt')} < {decimal(spearman_min, 2, 'pt')})"), details)


def leaked_rows(test_fp: np.ndarray, train_fps: list[np.ndarray]) -> np.ndarray:
    """Indices of test rows whose fingerprint is among the training rows'."""
    if not train_fps:
        return np.zeros(0, dtype=int)
    return np.flatnonzero(np.isin(test_fp, np.concatenate(train_fps)))


def natural_duplicates(captured: np.ndarray, raw_test: np.ndarray, raw_train: np.ndarray) -> np.ndarray:
    """Test rows that equal some training row in the raw data, on the raw features the student kept.

    Banknote has such rows once its noise columns are dropped: using them is not leakage.
    """
    x, r = _flat(captured), _flat(raw_test)
    cols = np.arange(r.shape[1]) if x.shape[1] == r.shape[1] else np.unique(match_columns(x, r)[x.std(0) > 0])
    train = np.asarray(raw_train).reshape(len(raw_train), -1)[:, cols]
    return np.flatnonzero(np.isin(fingerprints(np.asarray(raw_test).reshape(len(raw_test), -1)[:, cols]),
                                  fingerprints(train)))


#: The share of the test rows a captured set must hold, each found by its content, to be graded as the test set.
#: All of them: the grade is the error on the real test set, and a test row the model was never run on has no
#: prediction (the grader cannot invent the input the student's preprocessing would have made). Nothing true is
#: lost to rounding: each row is matched to its nearest captured row within a tolerance (``MATCH_TOL``), and a
#: test set's own duplicate rows, if any, match any of their copies. A subset fails, with the count found.
MATCH_SHARE = 1.0
#: The largest RMS difference, per row, between a test row under the recognised preprocessing and the captured row
#: it is matched to (in standardised units, or relative to the captured set's overall spread): float32 arithmetic
#: is 1e-6 away; the closest two different MNIST test images, each row standardised, are 0.18 apart (measured on
#: 1,500 of them against all 10,000; the median is 0.57).
MATCH_TOL = 2e-3
#: Below this many candidate assignments, tiny sets (the abc table's 3 test rows) are matched by trying them all.
BRUTE_FORCE_MAX = 5000


@dataclass(frozen=True)
class RowMatch:
    """The test rows found by content in a captured set: ``order[j]`` is the captured row that is test row j.

    ``order`` is -1 where test row j was not found. ``how`` names the preprocessing under which the rows were
    recognised: 'features' (an affine map per feature) or 'rows' (each row standardised on its own, which also
    undoes one map applied to all values, such as ``x / 255``).
    """

    order: np.ndarray
    captured_rows: int
    how: str

    @property
    def found(self) -> int:
        return int((self.order >= 0).sum())

    @property
    def complete(self) -> bool:
        """Whether the set counts as the test set: at least ``MATCH_SHARE`` of its rows found."""
        return self.found >= MATCH_SHARE * len(self.order)

    @property
    def extra(self) -> int:
        """Captured rows that are no test row (a superset's)."""
        return self.captured_rows - len(np.unique(self.order[self.order >= 0]))

    @property
    def reordered(self) -> bool:
        """Whether the test rows came in another order than the test set's."""
        found = self.order[self.order >= 0]
        return bool(np.any(np.diff(found) < 0))


def match_rows(captured: np.ndarray, raw: np.ndarray, tol: float = MATCH_TOL) -> RowMatch | None:
    """Find each ``raw`` test row among the ``captured`` rows by content, whatever their order and extra rows.

    A row is recognised under the student's preprocessing as the in-order check recognises it: an affine map
    per feature (scaled, shifted, standardised with the training set's statistics), or each row standardised
    on its own. The best of the two readings is returned (None when the arrays cannot be compared: other
    feature counts, NaN). Tiny sets are matched by trying every assignment; larger ones by nearest neighbours
    (``_nearest``), each candidate verified on every feature against ``tol``.
    """
    if not (np.size(captured) and np.size(raw)):
        return None
    x, r = _flat(captured), _flat(raw)
    if x.shape[1] != r.shape[1] or not np.isfinite(x).all():
        return None
    if len(r) <= 8 and len(x) >= len(r) and math.perm(len(x), len(r)) <= BRUTE_FORCE_MAX:
        return _match_by_trying(x, r, tol)
    by_rows = _match_rows_standardised(x, r, tol)
    if by_rows.found >= len(r) / 2:  # one map of all values: the rows not found are not there under any other
        return by_rows
    return max((by_rows, _match_features(x, r, tol)), key=lambda m: m.found)


def _row_standardised(a: np.ndarray) -> np.ndarray:
    a = a - a.mean(1, keepdims=True)
    spread = a.std(1, keepdims=True)
    return np.divide(a, spread, out=np.zeros_like(a), where=spread > 0)


def _rms(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sqrt(((a - b) ** 2).mean(-1))


def _nearest(x: np.ndarray, r: np.ndarray, tol: float | None, dims: int = 16) -> np.ndarray:
    """For each row of ``r``, the nearest row of ``x``; with ``tol``, only one within ``tol`` (RMS over the
    features), else -1.

    Candidates come from a k-d tree over a fixed random projection to ``dims`` dimensions, which keeps distances
    within a factor of 3 (an equal row stays among the nearest); with ``tol`` the search stops at that radius, so
    a row with no match costs little, and each candidate is then measured on every feature.
    """
    from scipy.spatial import cKDTree

    proj = np.random.default_rng(0).standard_normal((x.shape[1], dims)) / np.sqrt(dims)
    bound = np.inf if tol is None else 3 * tol * np.sqrt(x.shape[1])
    k = min(2, len(x))
    _, idx = cKDTree(x @ proj).query(r @ proj, k=k, distance_upper_bound=bound)
    idx = idx.reshape(len(r), k)
    order = np.full(len(r), -1)
    best = np.full(len(r), np.inf)
    for col in range(k):
        has = idx[:, col] < len(x)
        rows = np.flatnonzero(has)
        for chunk in np.array_split(rows, max(1, len(rows) // 2000)):  # a few MiB at a time
            d = _rms(x[idx[chunk, col]], r[chunk])
            better = d < best[chunk]
            order[chunk[better]], best[chunk[better]] = idx[chunk[better], col], d[better]
    if tol is not None:
        order[best > tol] = -1
    return order


def _distinct(order: np.ndarray, r: np.ndarray) -> np.ndarray:
    """``order`` with -1 where one captured row stands for several test rows that differ (``r``: the test rows as
    given, not as mapped): only equal test rows (a data set's own duplicates) may share one, so no degenerate map
    (every row sent to one, a constant input) matches."""
    found = np.flatnonzero(order >= 0)
    if not len(found):
        return order
    keys = fingerprints(r[found])
    pairs = np.unique(np.stack([order[found], keys.view(np.int64)], 1), axis=0)
    rows, counts = np.unique(pairs[:, 0], return_counts=True)
    shared = rows[counts > 1]
    out = order.copy()
    out[np.isin(order, shared)] = -1
    return out


def _match_rows_standardised(x: np.ndarray, r: np.ndarray, tol: float) -> RowMatch:
    zx, zr = _row_standardised(x), _row_standardised(r)
    order = _distinct(_nearest(zx, zr, tol), r)
    if (order < 0).any():  # inverted values ((255 - x) / 255) mirror each standardised row
        mirrored = _distinct(_nearest(zx, -zr, tol), r)
        order = np.where(order < 0, mirrored, order)
    return RowMatch(_distinct(order, r), len(x), "rows")


def _column_z(a: np.ndarray, signs: np.ndarray | None = None) -> np.ndarray:
    spread = a.std(0)
    z = (a - a.mean(0)) / np.where(spread > 0, spread, 1.0)
    return z if signs is None else z * signs


def _column_signs(x: np.ndarray, r: np.ndarray, points: int = 65, rows: int = 2000) -> np.ndarray:
    """Per feature, -1 where the student's values look inverted (their quantiles mirror the test set's), read on
    ``rows`` rows of each."""
    q = np.linspace(0, 1, points)
    x, r = x[:: max(1, len(x) // rows)], r[:: max(1, len(r) // rows)]
    qx, qr = np.quantile(_column_z(x), q, axis=0), np.quantile(_column_z(r), q, axis=0)
    same, mirrored = np.abs(qx - qr).sum(0), np.abs(qx + qr[::-1]).sum(0)
    return np.where(mirrored < same, -1.0, 1.0)


def _match_features(x: np.ndarray, r: np.ndarray, tol: float, sample: int = 500) -> RowMatch:
    """Match under an affine map per feature.

    A first guess pairs a sample of test rows with the captured rows nearest on each set's own column
    z-scores (equal for a set in another order, close when it has extra rows); the map fitted on the closer
    half of those pairs sends every test row into the student's values, where it is looked up within ``tol``
    on the features whose map the pairs determine (a pixel dark in every fitted row has none); the map is
    fitted again on the rows found, and they are looked up once more.
    """
    scale = float(x.std()) or 1.0
    some = np.random.default_rng(0).permutation(len(r))[:sample]
    guess = _nearest(_column_z(x), _column_z(r, _column_signs(x, r))[some], None)
    order = _distinct(_lookup(x / scale, _fit_map(x[guess], r[some], r, closer_half=True), scale, tol), r)
    found = np.flatnonzero(order >= 0)
    if len(found) >= 2:
        again = _distinct(_lookup(x / scale, _fit_map(x[order[found]], r[found], r), scale, tol), r)
        if (again >= 0).sum() >= len(found):
            order = again
    return RowMatch(order, len(x), "features")


def _lookup(xs: np.ndarray, fitted: tuple[np.ndarray, np.ndarray], scale: float, tol: float) -> np.ndarray:
    mapped, known = fitted
    return _nearest(xs[:, known], mapped[:, known] / scale, tol)


def _fit_map(pairs: np.ndarray, r_pairs: np.ndarray, r: np.ndarray,
             closer_half: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """All test rows ``r`` mapped by the per-feature affine map fitted by least squares on the pairs (captured
    row, test row), or on their closer half; and the features whose map the pairs determine."""
    if closer_half and len(pairs) > 2:
        resid = _rms(_column_z(pairs), _column_z(r_pairs))
        keep = resid <= np.quantile(resid, 0.5)
        pairs, r_pairs = pairs[keep], r_pairs[keep]
    xc, rc = pairs - pairs.mean(0), r_pairs - r_pairs.mean(0)
    srr, sxr = (rc * rc).sum(0), (xc * rc).sum(0)
    a = np.divide(sxr, srr, out=np.zeros_like(srr), where=srr > 0)
    known = (srr > 0) | (r.std(0) == 0)
    return a * (r - r_pairs.mean(0)) + pairs.mean(0), known


def _match_by_trying(x: np.ndarray, r: np.ndarray, tol: float) -> RowMatch:
    """Every assignment of distinct captured rows to the test rows; the first one a per-feature affine map
    explains (the in-order one before the others).

    All the test rows or none: with so few rows a part cannot be told (an affine map fits any two rows).
    """
    for rows in itertools.permutations(range(len(x)), len(r)):
        if affine_residual(x[list(rows)], r).max() <= tol:
            return RowMatch(np.array(rows), len(x), "features")
    return RowMatch(np.full(len(r), -1), len(x), "features")
