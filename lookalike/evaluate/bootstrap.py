"""Bootstrap confidence intervals over queries (percentile method, fixed seed, so reports are reproducible)."""

from __future__ import annotations

import numpy as np

N_BOOT = 1000


def _resampled_means(values: np.ndarray, n_boot: int, seed: int, block: int = 200) -> np.ndarray:
    """Means of `n_boot` resamples (with replacement) of `values`; rows of a 2-D array are resampled together."""
    rng = np.random.default_rng(seed)
    n = values.shape[0]
    means = []
    for start in range(0, n_boot, block):
        idx = rng.integers(0, n, size=(min(block, n_boot - start), n))
        means.append(values[idx].mean(axis=1))
    return np.concatenate(means)


def bootstrap_ci(values: np.ndarray, n_boot: int = N_BOOT, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """(low, high) percentile interval for the mean of `values`; NaN entries (no relevant item) are left out.

    Returns (nan, nan) when nothing is left or n_boot is 0 (intervals switched off)."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if len(v) == 0 or n_boot < 1:
        return float("nan"), float("nan")
    means = _resampled_means(v, n_boot, seed)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(means, [tail, 100 - tail])
    return float(lo), float(hi)


def paired_ci(a: np.ndarray, b: np.ndarray, n_boot: int = N_BOOT, level: float = 0.95,
              seed: int = 0) -> tuple[float, float]:
    """Interval for mean(a) - mean(b) over the same queries (each resample picks the same queries for both)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    ok = ~(np.isnan(a) | np.isnan(b))
    if not ok.any() or n_boot < 1:
        return float("nan"), float("nan")
    means = _resampled_means(a[ok] - b[ok], n_boot, seed)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(means, [tail, 100 - tail])
    return float(lo), float(hi)
