"""Stand-ins for a generator with one controlled defect: real data, damaged by a severity knob.

The metric bench (gan_jax/metric_bench.py) asks which metric sees which failure. It needs
"generators" whose failure is known exactly, so it makes them from real data (`Pools`: disjoint
sets of one data set) and a defect:

  mode_dropping      severity k: the samples come from all but the first k classes (modes)
  mode_imbalance     severity s: the first half of the classes is drawn (1 - s) times as often
  memorisation       severity f: a fraction f of the samples are exact copies of training examples
  noisy_memorisation severity f: the same copies plus Gaussian noise of std MEMORY_NOISE (in the
                     units of `noise`: 5% of an image's range; a tenth of a mode's std)
  blur               severity sigma: images blurred by a Gaussian of sigma pixels
  noise              severity s: additive Gaussian noise of std s (images: in [-1, 1] units;
                     points: in units of the mode's own std)
  quantisation       severity q: JPEG-like -- each 8x8 block's DCT coefficients rounded to steps of
                     q x (1 + u + v) (coarser at higher frequencies u, v), pixels clipped to [-1, 1];
                     sides not a multiple of 8 padded with their edge pixels, then cropped
  shrinkage          severity s: each sample moved a fraction s of the way to its class mean (the
                     mode's centre for a mixture): lost diversity, like the truncation trick

Severity 0 is the clean generator: fresh draws from the data distribution, never trained on.
Images are float arrays in [-1, 1] (N, H, W, C); points are (N, dim).
"""

import dataclasses
from collections.abc import Callable

import numpy as np
from scipy import fft, ndimage

from gan_jax.errors import DataError

MEMORY_NOISE = 0.1  # noisy_memorisation's noise, in units of Pools.scale
BLOCK = 8  # quantisation's DCT block (JPEG's)


@dataclasses.dataclass(frozen=True)
class Pools:
    """Disjoint example sets of one data set, with their labels (classes or mixture modes):
    `train` is what the imagined GAN trained on (memorisation copies it), `clean` holds the
    draws of a perfect generator, `reference` the held-out data every metric compares with.
    `centres` (num_classes, ...) are the class means (a mixture's mode means); `scale` is the
    data's unit for noise (1 for images in [-1, 1], the modes' std for points)."""

    train: tuple[np.ndarray, np.ndarray]
    clean: tuple[np.ndarray, np.ndarray]
    reference: tuple[np.ndarray, np.ndarray]
    centres: np.ndarray
    images: bool
    scale: float = 1.0

    @property
    def num_classes(self) -> int:
        return len(self.centres)


def draw(pool: tuple[np.ndarray, np.ndarray], n: int, rng: np.random.Generator, weights=None):
    """n examples of `pool` without replacement, example i with probability ~ weights[label_i]."""
    x, y = pool
    p = None if weights is None else weights[y] / weights[y].sum()
    eligible = len(x) if p is None else int(np.count_nonzero(p))
    if eligible < n:
        raise DataError(
            f"{n} draws without replacement from a pool of {eligible} eligible examples: use a smaller N."
        )
    idx = rng.choice(len(x), n, replace=False, p=p)
    return x[idx], y[idx]


def clean(pools: Pools, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n draws of the clean pool (a perfect generator) and their labels."""
    return draw(pools.clean, n, rng)


def mode_dropping(pools: Pools, n: int, severity: float, rng: np.random.Generator) -> np.ndarray:
    weights = (np.arange(pools.num_classes) >= int(severity)).astype(float)
    return draw(pools.clean, n, rng, weights)[0]


def mode_imbalance(pools: Pools, n: int, severity: float, rng: np.random.Generator) -> np.ndarray:
    weights = np.where(np.arange(pools.num_classes) < pools.num_classes // 2, 1.0 - severity, 1.0)
    return draw(pools.clean, n, rng, weights)[0]


def _copies(pools: Pools, n: int, fraction: float, rng: np.random.Generator, noise: float) -> np.ndarray:
    x = clean(pools, n, rng)[0].copy()
    copied = rng.choice(n, int(round(fraction * n)), replace=False)
    x[copied] = draw(pools.train, len(copied), rng)[0]
    if noise:
        x[copied] += noise * rng.standard_normal(x[copied].shape).astype(x.dtype)
    return _clip(pools, x)


def memorisation(pools: Pools, n: int, severity: float, rng: np.random.Generator) -> np.ndarray:
    return _copies(pools, n, severity, rng, 0.0)


def noisy_memorisation(pools: Pools, n: int, severity: float, rng: np.random.Generator) -> np.ndarray:
    return _copies(pools, n, severity, rng, MEMORY_NOISE * pools.scale)


def blur(pools: Pools, n: int, severity: float, rng: np.random.Generator) -> np.ndarray:
    x = clean(pools, n, rng)[0]
    return ndimage.gaussian_filter(x, (0, severity, severity, 0), mode="nearest") if severity else x


def noise(pools: Pools, n: int, severity: float, rng: np.random.Generator) -> np.ndarray:
    x = clean(pools, n, rng)[0]
    return _clip(pools, x + (severity * pools.scale) * rng.standard_normal(x.shape).astype(x.dtype))


def quantisation(pools: Pools, n: int, severity: float, rng: np.random.Generator) -> np.ndarray:
    x = clean(pools, n, rng)[0]
    if not severity:
        return x
    h, w = x.shape[1:3]
    # sides not a multiple of the block are padded by repeating the edge pixels, as JPEG does
    padded = np.pad(x, ((0, 0), (0, -h % BLOCK), (0, -w % BLOCK), (0, 0)), mode="edge")
    n_, hp, wp, c = padded.shape
    blocks = padded.reshape(n_, hp // BLOCK, BLOCK, wp // BLOCK, BLOCK, c)
    coefficients = fft.dctn(blocks, axes=(2, 4), norm="ortho")
    u = np.arange(BLOCK)
    step = severity * (1.0 + u[:, None] + u[None, :])[None, None, :, None, :, None]
    rounded = fft.idctn(np.round(coefficients / step) * step, axes=(2, 4), norm="ortho")
    return np.clip(rounded.reshape(padded.shape)[:, :h, :w], -1.0, 1.0).astype(x.dtype)


def shrinkage(pools: Pools, n: int, severity: float, rng: np.random.Generator) -> np.ndarray:
    x, y = clean(pools, n, rng)
    centres = pools.centres[y].astype(x.dtype)
    return centres + (1.0 - severity) * (x - centres)


def _clip(pools: Pools, x: np.ndarray) -> np.ndarray:
    return np.clip(x, -1.0, 1.0) if pools.images else x


Defect = Callable[[Pools, int, float, np.random.Generator], np.ndarray]
DEFECTS: dict[str, Defect] = {
    "mode_dropping": mode_dropping,
    "mode_imbalance": mode_imbalance,
    "memorisation": memorisation,
    "noisy_memorisation": noisy_memorisation,
    "blur": blur,
    "noise": noise,
    "quantisation": quantisation,
    "shrinkage": shrinkage,
}
IMAGE_ONLY = ("blur", "quantisation")


def applies(defect: str, pools: Pools) -> bool:
    return pools.images or defect not in IMAGE_ONLY
