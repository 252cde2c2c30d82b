"""The samples an evaluation compares: G's (or an injected sampler's) and held-out real ones.

G's samples come from the EMA generator when the run keeps one, in inference mode (BatchNorm
running averages), from a fixed key (config.eval.seed), so two evaluations of one checkpoint agree
exactly; they are drawn once per evaluation and size. Any other sampler -- the reference rows'
stand-ins, a test's known distribution -- is injected in G's place. Real examples are drawn from
the held-out data (loaded once) with the same machinery as training batches: an array source
gives each example at most once, up to its size, in a fixed random order.
"""

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gan_jax.data import DataSource
from gan_jax.data.mixtures import sample_with_replacement
from gan_jax.data.source import sample_epochs, uint8_to_unit_range
from gan_jax.errors import NonFiniteError
from gan_jax.models import apply
from gan_jax.state import GAN, GANState

Sampler = Callable[[int], np.ndarray]  # n -> n samples, as a host array
BATCH = 500  # examples per device call
POOL = 10_000  # examples of a synthetic or streamed source that stand for its training set


def finite_samples(samples, step) -> np.ndarray:
    """The samples as a host array; NonFiniteError if any is NaN/Inf (a diverged generator has no
    metric: a finite feature distance of NaN images would be a number about nothing)."""
    samples = np.asarray(jax.device_get(samples))
    if not np.isfinite(samples).all():
        share = np.mean(~np.isfinite(samples))
        raise NonFiniteError(
            f"The generator of step {int(step)} produces NaN/Inf samples ({share:.0%} of the values): it "
            "diverged, and nothing is evaluated or drawn. Use an earlier checkpoint (--step)."
        )
    return samples


class SampleBank:
    """Generated samples of the evaluation in progress, and held-out real ones (kept across
    evaluations: they never change)."""

    def __init__(
        self,
        gan: GAN,
        source: DataSource,
        heldout: DataSource | None,
        eval_cfg: ml_collections.ConfigDict,
        eval_split: str,
    ):
        self.gan, self.source, self.heldout, self.cfg = gan, source, heldout, eval_cfg
        self._eval_split = eval_split
        self._sample = apply.make_sampler(gan)
        self._real: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
        self._heldout_images: tuple[np.ndarray, np.ndarray] | None = None
        self._sampler: Sampler | None = None
        self.cache: dict = {}  # this evaluation's samples and what metrics derive from them
        self.kept: dict = {}  # what no evaluation changes, by key (once)

    def once(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """What no evaluation changes -- a feature network's outputs on the held-out examples, the
        training set's features -- computed at the first evaluation and kept for the run's others
        (otherwise every evaluation runs the classifier over the same real images again)."""
        if key not in self.kept:
            self.kept[key] = compute()
        return self.kept[key]

    def start(self, sampler: Sampler) -> None:
        """A new evaluation, of `sampler`'s samples."""
        self._sampler, self.cache = sampler, {}

    def generator(self, state: GANState) -> Sampler:
        """G's samples at `state`, conditioned on generated_labels(n)."""
        variables = state.g_ema if state.g_ema is not None else state.g.variables

        def sample(n: int) -> np.ndarray:
            z = self.gan.noise(jax.random.PRNGKey(self.cfg.seed), n)
            y = self.generated_labels(n)
            chunks = [
                self._sample(variables, z[i : i + BATCH], y[i : i + BATCH], state.vbn_reference)
                for i in range(0, n, BATCH)
            ]
            return finite_samples(np.concatenate(jax.device_get(chunks)), state.step)

        return sample

    def generated(self, n: int) -> np.ndarray:
        if ("generated", n) not in self.cache:
            self.cache["generated", n] = finite_samples(self._sampler(n), 0)
        return self.cache["generated", n]

    def generated_labels(self, n: int) -> np.ndarray:
        """The labels generated samples are conditioned on: every class in turn."""
        return np.asarray(apply.balanced_labels(self.gan, n))

    def real(self, n: int) -> np.ndarray:
        """n held-out real examples: for a plain array source, min(n, size) distinct examples of
        the held-out split in a fixed random order; otherwise n fresh draws (mixtures, and stacked
        MNIST from the held-out split's digits)."""
        return self._real_with_labels(n)[0]

    def real_labels(self, n: int) -> np.ndarray:
        return self._real_with_labels(n)[1]

    @property
    def real_protocol(self) -> str:
        """Which real data the metrics compared with, for every protocol."""
        if self.heldout is None or self.heldout.kind == "points":
            return f"{self.source.name}: fresh draws from the distribution, independent of training's"
        split = f"{self.heldout.name} split {self._eval_split!r}"
        return f"{split}: {self.heldout.num_examples} held-out examples, never trained on"

    def heldout_images(self) -> tuple[np.ndarray, np.ndarray]:
        """(images in [-1, 1], labels) of the whole held-out split (converted once)."""
        if self._heldout_images is None:
            self._heldout_images = uint8_to_unit_range(self.heldout.arrays["x"]), self.heldout.arrays["label"]
        return self._heldout_images

    def _real_with_labels(self, n: int) -> tuple[np.ndarray, np.ndarray | None]:
        if n not in self._real:
            self._real[n] = self.draw(self.heldout or self.source, n)
        return self._real[n]

    def pool(self, source: DataSource, stream: int) -> np.ndarray:
        """The examples that stand for `source`'s whole set (the memoriser's, the nearest-neighbour
        check's): all of an array source (a fixed mixture training set too); at most POOL of a
        streamed one (read from its files); POOL fresh draws of a synthetic one."""
        n = source.num_examples or POOL
        return self.draw(source, min(n, POOL) if source.streamed else n, stream)[0]

    def draw(self, source: DataSource, n: int, stream: int = 1) -> tuple[np.ndarray, np.ndarray | None]:
        """(x, labels) of n examples of `source`, the same for every evaluation: min(n, size)
        distinct ones in a fixed random order from an image array or streamed source, n drawn
        with replacement from a mixture's fixed training set (however training walks it), else n
        fresh draws; `stream` picks an independent order / draw."""
        if source.sample is sample_epochs or source.streamed:
            order = np.random.default_rng(self.cfg.seed + stream).permutation(source.num_examples)[:n]
            batch = (
                source.examples.read(order)
                if source.streamed
                else {k: v[order] for k, v in source.arrays.items()}
            )
            batch["x"] = uint8_to_unit_range(batch["x"])
        else:
            key, arrays = (
                jax.random.PRNGKey(self.cfg.seed + stream),
                {k: jnp.asarray(v) for k, v in source.arrays.items()},
            )
            size = min(BATCH, source.num_examples or BATCH)  # a batch draws each base example once
            # compiled whole, as training's step runs it: op by op, each op of a draw (the key's
            # threefry rounds among them) would be a program of its own to compile
            sample = jax.jit(_stand_in_sampler(source), static_argnums=3)
            draws = [sample(arrays, key, jnp.int32(d), size) for d in range(-(-n // size))]
            batch = {k: np.concatenate([np.asarray(b[k]) for b in draws])[:n] for k in draws[0]}
        return np.asarray(batch["x"]), batch.get("label")


def _stand_in_sampler(source: DataSource):
    """How the evaluation draws from a source that is not walked by epochs: a mixture's fixed set
    with replacement (however training walks it: its fixed packs too), any other by its sampler."""
    return sample_with_replacement if source.kind == "points" and source.arrays else source.sample
