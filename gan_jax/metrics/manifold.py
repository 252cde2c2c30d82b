"""k-NN manifold metrics on features.

Precision / recall (Kynkaanniemi et al. 2019, k = 3): each real sample gets a ball reaching its
k-th nearest real neighbour (itself excluded); precision is the fraction of generated samples
inside at least one real ball, recall the fraction of real samples inside at least one ball of the
generated set (built the same way). Density / coverage (Naeem et al. 2020, k = 5): density =
(1 / (k M)) sum over generated samples of the number of real balls containing it (1 when the two
distributions match; > 1 where generated samples crowd dense real regions); coverage = fraction of
real balls that contain at least one generated sample. Distances are Euclidean, in float64,
computed in row chunks so that 10^4 x 10^4 sets fit in memory.
"""

import numpy as np

_CHUNK = 1024


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d, 0.0)


def knn_radii(points: np.ndarray, k: int) -> np.ndarray:
    """Distance from each point to its k-th nearest neighbour among the others."""
    points = np.asarray(points, np.float64)
    if len(points) <= k:
        raise ValueError(f"k-NN radii need more than k={k} points, got {len(points)}.")
    radii = np.empty(len(points))
    for start in range(0, len(points), _CHUNK):
        d = _squared_distances(points[start : start + _CHUNK], points)
        # the k+1-th smallest, since each point's distance to itself (0) is the smallest
        radii[start : start + _CHUNK] = np.sqrt(np.partition(d, k, axis=1)[:, k])
    return radii


def nearest(queries: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distance, index) of each query's nearest neighbour among `points`."""
    queries, points = np.asarray(queries, np.float64), np.asarray(points, np.float64)
    distances, indices = np.empty(len(queries)), np.empty(len(queries), np.int64)
    for start in range(0, len(queries), _CHUNK):
        d = _squared_distances(queries[start : start + _CHUNK], points)
        indices[start : start + _CHUNK] = d.argmin(1)
        distances[start : start + _CHUNK] = np.sqrt(d.min(1))
    return distances, indices


def _balls_containing(queries: np.ndarray, centres: np.ndarray, radii: np.ndarray) -> np.ndarray:
    """(len(queries), len(centres)) boolean: query inside the centre's ball (radius inclusive)."""
    rows = []
    for start in range(0, len(queries), _CHUNK):
        d = _squared_distances(queries[start : start + _CHUNK], centres)
        rows.append(d <= radii[None, :] ** 2)
    return np.concatenate(rows)


def precision_recall(real: np.ndarray, fake: np.ndarray, k: int = 3) -> dict:
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    precision = _balls_containing(fake, real, knn_radii(real, k)).any(1).mean()
    recall = _balls_containing(real, fake, knn_radii(fake, k)).any(1).mean()
    return {"precision": float(precision), "recall": float(recall), "protocol": {"k": k}}


def density_coverage(real: np.ndarray, fake: np.ndarray, k: int = 5) -> dict:
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    inside = _balls_containing(fake, real, knn_radii(real, k))  # (fake, real)
    density = inside.sum() / (k * len(fake))
    coverage = inside.any(0).mean()
    return {"density": float(density), "coverage": float(coverage), "protocol": {"k": k}}
