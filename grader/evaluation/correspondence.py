"""The maths behind the correspondence and leakage checks (docs/evaluation.md), unit-tested on their own.

Are the captured test inputs the real test set, in its order, under the student's preprocessing? Are
some of them among the training rows? Pure functions of arrays: no context, no model.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..fingerprint import fingerprints
from ..text import Text, decimal


def _flat(a: np.ndarray) -> np.ndarray:
    return np.asarray(a, dtype=np.float64).reshape(len(a), -1)


def affine_residual(x: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Per column, the RMS of x - (a*r + b) for the best a, b, relative to x's overall spread.

    With a = sxr/srr the residual's sum of squares is sxx - a*sxr, so three column reductions
    (einsum, no n x d temporaries) replace building the residual: 7x faster on MNIST's test set.
    """
    xc, rc = x - x.mean(0), r - r.mean(0)
    sxx, srr, sxr = (np.einsum("ij,ij->j", u, v) for u, v in ((xc, xc), (rc, rc), (xc, rc)))
    a = np.divide(sxr, srr, out=np.zeros_like(srr), where=srr > 0)
    return np.sqrt(np.maximum(sxx - a * sxr, 0.0) / len(x)) / (float(x.std()) or 1.0)


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
    x, r = _flat(captured), _flat(raw)
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


def same_rows_other_order(captured: np.ndarray, raw: np.ndarray, match_min: float = 0.9) -> bool:
    """Whether ``captured`` holds the ``raw`` rows, most of them in other places (a shuffled test loader).

    Each row is standardised on its own, which undoes any one affine map applied to all the values (``x / 255``,
    one mean and spread), then rounded to 2 decimals, so float32 arithmetic cannot part equal rows; a row whose
    value falls on a rounding edge is missed (about 2 % of MNIST's), hence ``match_min``.
    """
    x, r = _flat(captured), _flat(raw)
    if x.shape != r.shape or not np.isfinite(x).all():
        return False

    def keys(a: np.ndarray) -> np.ndarray:
        a = a - a.mean(1, keepdims=True)
        spread = a.std(1, keepdims=True)
        return fingerprints(np.round(np.divide(a, spread, out=np.zeros_like(a), where=spread > 0), 2))

    kx, kr = keys(x), keys(r)
    return bool(np.isin(kx, kr).mean() >= match_min and (kx != kr).mean() > 0.5)
