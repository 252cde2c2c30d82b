"""The DataSource: what a data set looks like to the training step.

A source is pure data plus a pure sampling function, so that batches are drawn *inside* the
compiled step from the step's key and nothing crosses from host to device while training:
  * `arrays` -- the whole data set (images as uint8, labels as int32), put on the device once;
    empty for synthetic sources, which draw fresh samples every time.
  * `sample(arrays, key, draw, batch_size)` -- the `draw`-th batch of the run. Array sources walk
    through the data in epochs without replacement: a new permutation each epoch (from `key` and
    the epoch number, `epoch_order`), evaluated at the batch's positions only (never sorted in
    the step), the N mod batch_size left-over examples skipped (different ones each epoch).
A streamed source (config.data.pipeline, data/stream.py) has no `arrays`: the host reads each
compiled call's batches from `examples`, in the same order, and `sample_streamed` picks batch
`draw` out of them. Batches are dicts: 'x' in the model's layout ([-1, 1] for images), and
'label' where the data have labels (the mode index for mixtures).
"""

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from gan_jax.errors import DataError

Batch = dict[str, jax.Array]
SampleFn = Callable[[dict, jax.Array, jax.Array, int], Batch]


@dataclasses.dataclass(frozen=True)
class DataSource:
    name: str
    kind: str  # 'points' (vectors, plotted as scatter/histogram) or 'images' (NHWC)
    shape: tuple[int, ...]  # one example's shape
    arrays: dict[str, np.ndarray]
    sample: SampleFn
    num_classes: int | None = None
    mixture: Any = None  # data.mixtures.Mixture for synthetic mixtures: means, noise, protocol
    examples: Any = None  # data.images.Examples of a streamed source (None: `arrays` hold the data)

    @property
    def streamed(self) -> bool:
        return self.examples is not None

    @property
    def num_examples(self) -> int | None:
        if self.streamed:
            return self.examples.size
        return len(self.arrays["x"]) if "x" in self.arrays else None


def uint8_to_unit_range(images: jax.Array) -> jax.Array:
    """uint8 [0, 255] -> float32 [-1, 1], the range of G's Tanh output."""
    return images.astype(jnp.float32) / 127.5 - 1.0


def epoch_order(key: jax.Array, epoch, n: int, positions: jax.Array | None = None) -> jax.Array:
    """The examples epoch `epoch` visits at `positions` of its walk through the n examples (all n
    in order when None): the one definition that the device pipeline (inside the step, at a
    batch's positions only) and the streaming one (on the host, a whole epoch) share."""
    positions = jnp.arange(n) if positions is None else positions
    return walk_order(jax.random.fold_in(key, epoch), positions, n)


FEISTEL_ROUNDS = 4


def walk_order(key: jax.Array, positions: jax.Array, n: int) -> jax.Array:
    """The examples that `positions` of a walk through range(n) visit: a pseudo-random permutation
    of range(n) chosen by `key`, evaluated at those positions only -- a Feistel network on the
    smallest even number of bits that holds n, cycle-walked back into range(n) (each step stays a
    bijection) -- so that a batch finds its examples without sorting all n of them in every step
    (a sorted permutation of 100,000 costs more than PacGAN's whole step on a CPU)."""
    half = max(1, -(-(n - 1).bit_length() // 2))
    mask = jnp.uint32((1 << half) - 1)
    round_keys = jax.random.bits(key, (FEISTEL_ROUNDS,), jnp.uint32)

    def feistel(x):
        left, right = x >> half, x & mask
        for k in range(FEISTEL_ROUNDS):
            left, right = right, left ^ (_mix32(right ^ round_keys[k]) & mask)
        return (left << half) | right

    x = feistel(positions.astype(jnp.uint32))
    x = jax.lax.while_loop(lambda x: jnp.any(x >= n), lambda x: jnp.where(x >= n, feistel(x), x), x)
    return x.astype(jnp.int32)


def _mix32(h: jax.Array) -> jax.Array:
    """MurmurHash3's 32-bit finaliser: every input bit moves about half of the output bits."""
    h = (h ^ (h >> 16)) * jnp.uint32(0x85EBCA6B)
    h = (h ^ (h >> 13)) * jnp.uint32(0xC2B2AE35)
    return h ^ (h >> 16)


def check_batch_fits(batch_size: int, n: int) -> None:
    if batch_size > n:
        raise DataError(f"batch_size {batch_size} exceeds the {n} examples of the data set.")


def epoch_indices(key: jax.Array, draw: jax.Array, n: int, batch_size: int) -> jax.Array:
    """Batch `draw`'s indices into n items walked in epochs without replacement (epoch_order; the
    n mod batch_size left over each epoch skipped): examples, or a mixture's fixed packs."""
    check_batch_fits(batch_size, n)
    epoch, position = jnp.divmod(draw, n // batch_size)
    return epoch_order(key, epoch, n, position * batch_size + jnp.arange(batch_size))


def sample_epochs(arrays: dict, key: jax.Array, draw: jax.Array, batch_size: int) -> Batch:
    """Sampling without replacement for array sources; see the module docstring."""
    idx = epoch_indices(key, draw, arrays["x"].shape[0], batch_size)
    batch = {"x": uint8_to_unit_range(arrays["x"][idx])}
    if "label" in arrays:
        batch["label"] = arrays["label"][idx]
    return batch


def sample_streamed(arrays: dict, key: jax.Array, draw: jax.Array, batch_size: int) -> Batch:
    """Batch `draw` of a streamed source: `arrays` hold the compiled call's batches, (draws per
    call, batch, ...), read on the host in `sample_epochs`' order (data/stream.py); a call starts
    at a multiple of its draws, so `draw` modulo their number is its place."""
    del key, batch_size  # the order and the size are the feed's
    i = draw % arrays["x"].shape[0]
    batch = {k: jax.lax.dynamic_index_in_dim(v, i, keepdims=False) for k, v in arrays.items()}
    return {**batch, "x": uint8_to_unit_range(batch["x"])}


def labelled_subset(labels: np.ndarray, num: int, num_classes: int) -> np.ndarray:
    """Indices of `num` labelled examples, num / K of each class: the first ones in data order."""
    if num % num_classes:
        raise DataError(f"config.loss.num_labelled={num} must be a multiple of the {num_classes} classes.")
    per_class = num // num_classes
    chosen = [np.flatnonzero(labels == k)[:per_class] for k in range(num_classes)]
    short = [k for k, c in enumerate(chosen) if len(c) < per_class]
    if short:
        raise DataError(
            f"Classes {short} have fewer than {per_class} examples for config.loss.num_labelled={num}."
        )
    return np.sort(np.concatenate(chosen)).astype(np.int32)


def training_arrays(source: DataSource, num_labelled: int = 0) -> dict:
    """The source's arrays, plus the indices of `num_labelled` labelled examples ('labelled') for
    a semi-supervised discriminator (its caller decides whether there is one)."""
    if not num_labelled:
        return source.arrays
    return {
        **source.arrays,
        "labelled": labelled_subset(source.arrays["label"], num_labelled, source.num_classes),
    }
