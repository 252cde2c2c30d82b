"""Data copying: do G's samples lie closer to the training set than new data from the
distribution does?

The C_T test of Meehan, Chaudhuri & Dasgupta 2020 ("A non-parametric test to detect data-copying
in generative models", AISTATS), as their code computes it (casey-meehan/data-copying,
data_copying_tests.py and the MNIST / moons experiments). The space is cut into cells by k-means
on the training points; in each cell the distances to the nearest training point *of that cell*
of the held-out test points (P_n) and of the generated ones (Q_m) are compared by the Mann-Whitney
U test, Z-scored under the null (the generated points are as far from the training set as new
data is); C_T averages these Z scores over the cells holding more than tau m generated points,
weighted by each cell's share of the test points. C_T << 0: G's samples sit closer to training
points than new data does -- copying; C_T >> 0: they sit further -- underfitting; about 0 for
a generator of new data (each cell's Z a standard normal draw under the null, C_T their weighted
mean). A test of copying, not of quality: a distribution metric cannot see it
(FD and the manifold metrics score a copy of the training set as perfect data).

Settings as the authors': tau m = 20 samples; the number of cells 5 at n = m = 1,000 (moons) and 50
at 10,000 (MNIST), so one cell per 200 test points here (at least one); k-means from
scikit-learn with 10 initialisations. Differences: a cell without test points (the authors' code
stops with an error there) weighs 0 and is left out, as its weight P_n(cell) = 0 says; cell
shares are counted per cell (the authors' np.unique indexing misaligns them when a cell holds no
generated point).
"""

import dataclasses

import numpy as np

from gan_jax.metrics import manifold

TEST_POINTS_PER_CELL = 200
MIN_CELL_SAMPLES = 20  # tau * m: a cell enters C_T when it holds more generated samples than this


@dataclasses.dataclass(frozen=True)
class Partition:
    """Cells of the space: each point belongs to its nearest centre's cell."""

    centres: np.ndarray

    def cells(self, x: np.ndarray) -> np.ndarray:
        return manifold.nearest(x, self.centres)[1]


def num_cells(num_test: int) -> int:
    """The authors' cell count for `num_test` held-out points: one cell per 200, at least one."""
    return max(1, num_test // TEST_POINTS_PER_CELL)


def partition(train: np.ndarray, cells: int, seed: int = 0) -> Partition:
    """k-means cells of the training points (fit once per training set and cell count). One cell
    (fewer than 400 test points: every smoke run) is the whole space, its k-means centre the mean:
    no scikit-learn import (~0.4 of a smoke command's ~8 CPU-seconds, README's suite-time list)."""
    if cells == 1:
        return Partition(np.mean(np.asarray(train, np.float64), axis=0, keepdims=True))
    from sklearn import cluster

    kmeans = cluster.KMeans(n_clusters=cells, n_init=10, random_state=seed).fit(np.asarray(train, np.float64))
    return Partition(kmeans.cluster_centers_)


def average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, tied values sharing their mean rank: scipy.stats.rankdata's default, without
    importing scipy.stats (~0.6 CPU-seconds, which every evaluated run would pay for these lines)."""
    order = np.argsort(x, kind="stable")
    _, first, counts = np.unique(x[order], return_index=True, return_counts=True)
    ranks = np.empty(len(x))
    ranks[order] = np.repeat(first + (counts + 1) / 2.0, counts)
    return ranks


def mann_whitney_z(generated: np.ndarray, test: np.ndarray) -> float:
    """The Mann-Whitney U of the generated distances against the test ones, Z-scored under the
    null with the authors' continuity correction: negative when generated points are nearer."""
    m, n = len(generated), len(test)
    ranks = average_ranks(np.concatenate([generated, test]))
    u = ranks[:m].sum() - m * (m + 1) / 2.0
    return float((u - m * n / 2.0 + 0.5) / np.sqrt(m * n * (m + n + 1) / 12.0))


def data_copying(
    train: np.ndarray,
    test: np.ndarray,
    generated: np.ndarray,
    cells: Partition,
    min_cell_samples: int = MIN_CELL_SAMPLES,
) -> dict:
    """C_T of `generated` against held-out `test` points, both compared with `train`."""
    train_cell, test_cell, generated_cell = (cells.cells(x) for x in (train, test, generated))
    k = len(cells.centres)
    test_share = np.bincount(test_cell, minlength=k) / len(test)
    counts = np.bincount(generated_cell, minlength=k)
    used = np.flatnonzero((counts > min_cell_samples) & (test_share > 0))
    if not len(used):
        raise ValueError(
            f"No cell holds more than {min_cell_samples} of the {len(generated)} generated samples: "
            "C_T needs more samples."
        )
    z = np.zeros(k)
    for c in used:
        points = train[train_cell == c]
        z[c] = mann_whitney_z(
            manifold.nearest(generated[generated_cell == c], points)[0],
            manifold.nearest(test[test_cell == c], points)[0],
        )
    c_t = float(test_share[used] @ z[used] / test_share[used].sum())
    return {
        "c_t": c_t,
        "cell_z": [float(z[c]) if c in used else None for c in range(k)],
        "protocol": {
            "test": "Meehan et al. 2020's C_T: Mann-Whitney Z of nearest-training distances per k-means cell",
            "cells": k,
            "cells_used": len(used),
            "min_cell_samples": min_cell_samples,
            "num_train": len(train),
            "num_test": len(test),
            "num_generated": len(generated),
        },
    }
