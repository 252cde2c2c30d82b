"""Synthetic Gaussian mixtures: sampled afresh inside the step (infinite data), or a fixed
training set of `train_size` points drawn once (PacGAN's protocol: 100,000 points), from which each
batch draws uniformly with replacement -- or, with `fixed_packs` (PacGAN's code), whose packs of D
are formed once: `train_size` packs of m points, each of the m slots its own bootstrap resample of
the set, walked without replacement in a new order every epoch (source.epoch_order), each pack's
m points consecutive in the batch as D packs them.

`ring`  8 Gaussians, means (cos 2 pi k/8, sin 2 pi k/8), k = 0..7, std 0.01 (PacGAN's 2D-ring;
        eight *distinct* modes -- linspace(0, 2 pi, 8) would repeat one and give 7).
`grid`  25 Gaussians, means {-4, -2, 0, 2, 4}^2, std 0.05 (PacGAN's 2D-grid).
`hd1200` VEEGAN/PacGAN's 1200-D set of 10 modes: mode k is the constant vector OFFSETS[k] in all
        1200 dimensions, plus N(0, 1) noise in dimensions 0-699 only.
`gaussian1d`  one 1-D Gaussian N(4, 0.5^2), for the picture of D against p_data and p_g
        (Goodfellow et al. 2014, Figure 1).
`dirac` the Dirac-GAN's data (Mescheder et al. 2018, section 2): every point at 0 in one dimension.
Modes are equally likely; the label of a sample is its mode. gan_jax/metrics/mixtures.py measures
mode coverage on them. `train_modes` = k > 0 trains on the first k modes only while the mode
metrics still count all of them: a generator that cannot cover the rest, by construction (the
diagnosis corpus's mode collapse, configs/diagnosis.py); with `train_modes_from` = B, only from
batch number B on (the step, with one D update a step): a generator that loses modes it had.
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.data.source import Batch, DataSource, epoch_indices
from gan_jax.errors import DataError

HD1200_OFFSETS = (-1.0, -0.5, 0.0, 0.5, -2.0, -2.5, 10.0, 0.25, -13.0, -5.5)
HD1200_DIM, HD1200_NOISY_DIMS = 1200, 700


@dataclasses.dataclass(frozen=True)
class Mixture:
    means: np.ndarray  # (modes, dim)
    noise_std: np.ndarray  # (dim,): std around a mean in each dimension (0: constant there)

    @property
    def metric_std(self) -> np.ndarray:
        """Per-dimension scale of the distance: noise_std, with 1 where the data are constant."""
        return np.where(self.noise_std > 0, self.noise_std, 1.0)

    @property
    def varying_dims(self) -> int:
        """The dimensions in which a mode's samples vary (the chi-square degrees of freedom)."""
        return int((self.noise_std > 0).sum())


def ring_means(num_modes: int = 8, radius: float = 1.0) -> np.ndarray:
    angles = 2 * np.pi * np.arange(num_modes) / num_modes
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def grid_means(values=(-4.0, -2.0, 0.0, 2.0, 4.0)) -> np.ndarray:
    return np.array([(x, y) for x in values for y in values], dtype=np.float64)


def _isotropic(means: np.ndarray, std: float) -> Mixture:
    return Mixture(means, np.full(means.shape[1], std))


def _hd1200() -> Mixture:
    means = np.outer(HD1200_OFFSETS, np.ones(HD1200_DIM))
    noise = np.where(np.arange(HD1200_DIM) < HD1200_NOISY_DIMS, 1.0, 0.0)
    return Mixture(means, noise)


MIXTURES = {
    "ring": lambda: _isotropic(ring_means(), 0.01),
    "grid": lambda: _isotropic(grid_means(), 0.05),
    "hd1200": _hd1200,
    "gaussian1d": lambda: _isotropic(np.array([[4.0]]), 0.5),
    "dirac": lambda: _isotropic(np.zeros((1, 1)), 0.0),
}


def mixture_sampler(mixture: Mixture, modes: int = 0, modes_from: int = 0):
    """Draws (label, x) with label uniform over the first `modes` modes (0: all) -- from batch
    number `modes_from` on, over all of them before it -- and x ~ N(means[label], noise_std^2)."""
    means = mixture.means.astype(np.float32)
    noise_std = mixture.noise_std.astype(np.float32)
    kept = modes or len(means)

    def sample(arrays: dict, key: jax.Array, draw: jax.Array, batch_size: int) -> Batch:
        del arrays
        k_mode, k_noise = jax.random.split(jax.random.fold_in(key, draw))
        among = jnp.where(draw >= modes_from, kept, len(means)) if modes_from else kept
        labels = jax.random.randint(k_mode, (batch_size,), 0, among)
        noise = jax.random.normal(k_noise, (batch_size, means.shape[1]))
        return {"x": jnp.asarray(means)[labels] + noise_std * noise, "label": labels}

    return sample


def training_set(mixture: Mixture, size: int, seed: int, modes: int = 0) -> dict[str, np.ndarray]:
    """`size` points (float32) and their modes (int32) drawn once from the first `modes` modes
    (0: all) of `mixture` with numpy's generator seeded by `seed`: the same set on every machine
    and every process."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, modes or len(mixture.means), size)
    points = mixture.means[labels] + mixture.noise_std * rng.standard_normal((size, mixture.means.shape[1]))
    return {"x": points.astype(np.float32), "label": labels.astype(np.int32)}


def sample_with_replacement(arrays: dict, key: jax.Array, draw: jax.Array, batch_size: int) -> Batch:
    """Batch number `draw`: batch_size examples of `arrays` drawn uniformly with replacement."""
    idx = jax.random.randint(jax.random.fold_in(key, draw), (batch_size,), 0, arrays["x"].shape[0])
    return {name: values[idx] for name, values in arrays.items()}


def bootstrap_packs(size: int, pack: int, seed: int) -> np.ndarray:
    """(size, pack) indices into a training set of `size` points: slot k of every pack drawn from
    its own bootstrap resample of the set (fjxmlzn/PacGAN's GaussianPackingMixture: one
    randint(0, size, size) a slot), from a generator of its own seeded by the set's `seed`."""
    rng = np.random.default_rng([seed, pack])
    return rng.integers(0, size, (pack, size)).T.astype(np.int32)


def sample_fixed_packs(pack: int):
    """Batch number `draw` of the set's fixed packs ('packs': bootstrap_packs): batch_size / pack
    of them, every pack once an epoch in an order of the epoch's own, their points in pack order."""

    def sample(arrays: dict, key: jax.Array, draw: jax.Array, batch_size: int) -> Batch:
        packs = arrays["packs"]
        idx = packs[epoch_indices(key, draw, packs.shape[0], batch_size // pack)].reshape(-1)
        return {"x": arrays["x"][idx], "label": arrays["label"][idx]}

    return sample


def _sampler(mixture: Mixture, finite: bool, fixed_packs: int, train_modes: int, train_modes_from: int):
    """How training draws a batch: fixed packs, with replacement from a fixed set, or afresh."""
    if fixed_packs:
        return sample_fixed_packs(fixed_packs)
    return sample_with_replacement if finite else mixture_sampler(mixture, train_modes, train_modes_from)


def load_mixture(
    name: str,
    train_size: int = 0,
    seed: int = 0,
    train_modes: int = 0,
    train_modes_from: int = 0,
    fixed_packs: int = 0,
) -> DataSource:
    """Mixture `name`, sampled afresh (train_size 0) or as a fixed training set of train_size
    points drawn from `seed` -- walked as fixed packs of `fixed_packs` points (0: batches drawn
    with replacement); from its first `train_modes` modes only (0: all), fresh draws from batch
    number `train_modes_from` on (a run that loses modes it had). The source's `mixture` keeps
    every mode, so that evaluation counts all of them."""
    mixture = MIXTURES[name]()
    if not 0 <= train_modes <= len(mixture.means):
        raise DataError(
            f"config.data.train_modes={train_modes} for {name!r}, which has {len(mixture.means)} modes: "
            f"use 0 (all) to {len(mixture.means)}."
        )
    finite = train_size > 0
    if train_modes_from and (finite or not train_modes or train_modes_from < 0):
        raise DataError(
            f"config.data.train_modes_from={train_modes_from} switches fresh draws to the first "
            "data.train_modes modes from that batch on: it needs train_modes > 0 and no fixed "
            "training set (data.train_size=0), and a batch number >= 0."
        )
    if fixed_packs and not finite:
        raise DataError(
            "config.data.fixed_packs forms D's packs once from a fixed training set: set "
            "data.train_size > 0 (PacGAN's 100,000), or fixed_packs=False for fresh draws."
        )
    arrays = training_set(mixture, train_size, seed, train_modes) if finite else {}
    if fixed_packs:
        arrays["packs"] = bootstrap_packs(train_size, fixed_packs, seed)
    return DataSource(
        name=name,
        kind="points",
        shape=(mixture.means.shape[1],),
        arrays=arrays,
        sample=_sampler(mixture, finite, fixed_packs, train_modes, train_modes_from),
        num_classes=len(mixture.means),
        mixture=mixture,
    )
