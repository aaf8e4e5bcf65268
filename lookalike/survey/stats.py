"""Small exact statistics for preference votes: Wilson interval and the two-sided sign test."""

from __future__ import annotations

import math


def wilson_interval(wins: int, n: int, z: float = 1.959964) -> tuple[float | None, float | None]:
    """95% Wilson score interval of a win rate; (None, None) with no votes."""
    if n == 0:
        return None, None
    p = wins / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def sign_test(a: int, b: int) -> float | None:
    """Two-sided exact binomial test of a vs b wins under p=0.5 (ties dropped); None with no votes."""
    n = a + b
    if n == 0:
        return None
    k = min(a, b)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)
