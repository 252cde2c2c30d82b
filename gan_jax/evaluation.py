"""Evaluate a generator: every metric with the protocol that produced it, plus figures.

Used by the trainer (config.eval.every > 0) and by `experiments/evaluate.py`. Samples come from
the EMA generator when the run keeps one, in inference mode (BatchNorm running averages), from a
fixed key (config.eval.seed), so two evaluations of one checkpoint agree exactly. Real examples
are drawn from the data source with the same machinery as training batches (an array source
gives each example at most once, up to its size).

Metric names (config.eval.metrics, comma-separated):
  conditional    class-conditional G: accuracy of the classifier (nearest mode for mixtures) on
                 samples of each class, and the per-class Frechet distance
  semi_supervised  semi-supervised D: its test error on config.eval.test_split
  equilibrium    mean D(x), D(G(z)), V (and V + log 4), gradient norms: the train step's own
                 metrics, without its update, averaged over `equilibrium_batches` fresh batches
  modes          mixtures: VEEGAN/PacGAN mode coverage on `mode_samples` (2,500) samples
  stacked_modes  stacked MNIST: distinct predicted digit triples over `stacked_samples` (26,000)
                 samples and KL(p_modes || U(1000)), with the same numbers for real data
  parzen         Parzen-window log-likelihood (pixels scaled to [0, 1] for images)
  optimal_d      1-D data: distance of D to D* = p_data / (p_data + p_g)
  fd, kid, prdc, score   on the classifier's features (config.eval.classifier): Frechet
                 distance, KID, precision/recall + density/coverage, classifier score
  inception_fd, inception_kid, inception_prdc, inception_score   the same on InceptionV3 pool3
                 features / logits, from user-supplied weights (config.eval.inception_weights):
                 inception_fd is FID and inception_score the Inception Score
"""

import json
import pathlib

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gan_jax import classifier, data, experiment, features, losses, steps, writers
from gan_jax.data import DataSource
from gan_jax.data.source import sample_epochs, uint8_to_unit_range
from gan_jax.data.stacked import CHANNELS
from gan_jax.errors import ConfigError, NonFiniteError
from gan_jax.metrics import distances, equilibrium, manifold, mixtures, parzen
from gan_jax.models import apply
from gan_jax.state import GAN, GANState

POINT_METRICS = ("equilibrium", "modes", "parzen", "optimal_d")
# Metrics that compare G with real data: on an array data set they use config.data.eval_split.
REAL_DATA_METRICS = ("parzen", "fd", "kid", "prdc", "conditional", "stacked_modes", "semi_supervised")
# Metrics of G's samples alone (no D, no labels): the ones the reference rows can have.
SAMPLE_METRICS = ("modes", "parzen", "fd", "kid", "prdc", "score", "stacked_modes")
MEMORISER_BANDWIDTHS = np.logspace(-3.0, 0.0, 31)  # in Parzen's space (pixels in [0, 1] for images)
FEATURE_METRICS = ("fd", "kid", "prdc", "score")
INCEPTION_PREFIX = "inception_"
_BATCH = 500


def applicable_metrics(
    source: DataSource,
    has_classifier: bool,
    has_inception: bool = False,
    conditional: bool = False,
    semi_supervised: bool = False,
) -> tuple[str, ...]:
    """The metrics that make sense for a source, the feature networks configured and the model."""
    extra = ["semi_supervised"] if semi_supervised else []
    if source.kind == "points":
        points = [m for m in POINT_METRICS if m != "optimal_d" or source.shape == (1,)]
        return tuple(points + (["conditional"] if conditional else []) + extra)
    stacked = source.name.startswith("stacked:")
    names = ["equilibrium", "parzen"]
    if has_classifier:
        names += ["fd", "kid", "prdc"] + (["stacked_modes"] if stacked else ["score"])
        names += ["conditional"] if conditional and not stacked else []
    if has_inception:
        names += [INCEPTION_PREFIX + m for m in FEATURE_METRICS]
    return tuple(names + extra)


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


def parse_metrics(spec: str) -> tuple[str, ...]:
    return tuple(m.strip() for m in spec.split(",") if m.strip())


class Evaluator:
    """Computes the requested metrics of a GANState; checks everything before computing."""

    def __init__(
        self,
        config: ml_collections.ConfigDict,
        gan: GAN,
        source: DataSource,
        metrics: tuple[str, ...],
        arrays: dict | None = None,
    ):
        cfg = config.eval
        self.cfg, self.train_cfg, self.loss_cfg = cfg, config.train, config.loss
        self.gan, self.source = gan, source
        self._updates = None
        if arrays is None:
            arrays = {k: jnp.asarray(v) for k, v in experiment.training_arrays(config, gan, source).items()}
        self.arrays = arrays
        self.nets = {
            "classifier": classifier.load(cfg.classifier) if cfg.classifier else None,
            "inception": features.load_inception(cfg.inception_weights) if cfg.inception_weights else None,
        }
        possible = applicable_metrics(
            source,
            self.nets["classifier"] is not None,
            self.nets["inception"] is not None,
            conditional=gan.num_classes > 0,
            semi_supervised=gan.objective.semi_supervised,
        )
        unknown = [m for m in metrics if m not in possible]
        if unknown:
            raise ConfigError(
                f"Metrics {unknown} do not apply to data {source.name!r} with the feature networks "
                f"configured (config.eval.classifier={cfg.classifier!r}, config.eval.inception_weights="
                f"{cfg.inception_weights!r}); possible here: {list(possible)}."
            )
        if self.nets["classifier"] is not None:
            self._check_classifier(self.nets["classifier"])
        self.metrics = metrics
        self.data_cfg = config.data
        self.heldout = self._load_heldout(config.data, metrics)
        self._sample = apply.make_sampler(gan)
        self._real_cache: dict[int, np.ndarray] = {}
        self._cache: dict = {}
        self._stand_in = None  # draws samples in place of G's (the reference rows)

    def _load_heldout(
        self, data_cfg: ml_collections.ConfigDict, metrics: tuple[str, ...]
    ) -> DataSource | None:
        """The held-out real data (loaded once). Synthetic mixtures need none: their real samples
        are fresh draws, never seen in training. An array data set without eval_split cannot give
        the metrics that compare with real data an honest answer: refused here."""
        if self.source.kind != "images":
            return None
        heldout = data.load_heldout(data_cfg)
        comparing = [m for m in metrics if m.removeprefix(INCEPTION_PREFIX) in REAL_DATA_METRICS]
        if heldout is None and comparing:
            raise ConfigError(
                f"Metrics {comparing} compare G with real data the GAN never trained on; "
                f"config.data.eval_split is empty. Set it to a held-out split: 'test', or a tail kept "
                "out of training (data.split='train[:1438]', data.eval_split='train[1438:]')."
            )
        return heldout

    def _check_classifier(self, net: features.FeatureNet):
        size, channels = net.image_size, net.channels
        if (
            self.source.kind != "images"
            or self.source.shape[0] != size
            or self.source.shape[-1] not in (channels, CHANNELS * channels)
        ):
            raise ConfigError(
                f"Classifier {net.name} takes {size}x{size}x{channels} images; the data "
                f"{self.source.name!r} are {self.source.shape}. Train a matching one with "
                "python -m experiments.train_classifier."
            )

    # ----- samples (cached within one evaluation) ----------------------------------------

    def generated(self, state: GANState, n: int) -> np.ndarray:
        if ("generated", n) not in self._cache and self._stand_in is not None:
            self._cache["generated", n] = finite_samples(self._stand_in(n), 0)
        if ("generated", n) not in self._cache:
            variables = state.g_ema if state.g_ema is not None else state.g.variables
            z = jax.random.normal(jax.random.PRNGKey(self.cfg.seed), (n, self.gan.z_dim))
            y = self.generated_labels(n)
            chunks = [
                self._sample(variables, z[i : i + _BATCH], y[i : i + _BATCH], state.vbn_reference)
                for i in range(0, n, _BATCH)
            ]
            self._cache["generated", n] = finite_samples(np.concatenate(jax.device_get(chunks)), state.step)
        return self._cache["generated", n]

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
        if self.heldout is None:
            return f"{self.source.name}: fresh draws from the distribution, independent of training's"
        split = f"{self.heldout.name} split {self.data_cfg.eval_split!r}"
        return f"{split}: {self.heldout.num_examples} held-out examples, never trained on"

    def _real_with_labels(self, n: int) -> tuple[np.ndarray, np.ndarray | None]:
        if n not in self._real_cache:
            self._real_cache[n] = self._draw(self.heldout or self.source, n)
        return self._real_cache[n]

    def _draw(self, source: DataSource, n: int, stream: int = 1) -> tuple[np.ndarray, np.ndarray | None]:
        """(x, labels) of n examples of `source`, the same for every evaluation: min(n, size)
        distinct ones in a fixed random order from an array source, else n fresh draws; `stream`
        picks an independent order / draw."""
        if source.sample is sample_epochs:
            order = np.random.default_rng(self.cfg.seed + stream).permutation(source.num_examples)[:n]
            batch = {k: v[order] for k, v in source.arrays.items()}
            batch["x"] = uint8_to_unit_range(batch["x"])
        else:
            key, arrays = (
                jax.random.PRNGKey(self.cfg.seed + stream),
                {k: jnp.asarray(v) for k, v in source.arrays.items()},
            )
            size = min(_BATCH, source.num_examples or _BATCH)  # a batch draws each base example once
            draws = [source.sample(arrays, key, jnp.int32(d), size) for d in range(-(-n // size))]
            batch = {k: np.concatenate([np.asarray(b[k]) for b in draws])[:n] for k in draws[0]}
        return np.asarray(batch["x"]), batch.get("label")

    def _features(self, net: features.FeatureNet, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities, features). A single-channel network sees stacked images channel by
        channel: probabilities (N, 3, classes), features concatenated."""
        if images.shape[-1] == net.channels or net.image_size is None:
            logits, feats = net.logits_and_features(images)
            return np.asarray(jax.nn.softmax(logits)), feats
        per_channel = [net.logits_and_features(images[..., c : c + 1]) for c in range(CHANNELS)]
        probs = np.stack([np.asarray(jax.nn.softmax(lg)) for lg, _ in per_channel], 1)
        return probs, np.concatenate([f for _, f in per_channel], axis=1)

    # ----- metrics -----------------------------------------------------------------------

    def __call__(self, state: GANState, step: int) -> dict:
        self._cache = {}
        return {
            "step": step,
            "generator": "ema" if state.g_ema is not None else "live",
            "data": self.source.name,
            "seed": self.cfg.seed,
            "metrics": {name: self._metric(name, state) for name in self.metrics},
        }

    def _metric(self, name: str, state: GANState | None) -> dict:
        if name.startswith(INCEPTION_PREFIX):
            return getattr(self, f"_metric_{name[len(INCEPTION_PREFIX) :]}")(state, self.nets["inception"])
        if name in FEATURE_METRICS:
            return getattr(self, f"_metric_{name}")(state, self.nets["classifier"])
        return getattr(self, f"_metric_{name}")(state)

    # ----- reference rows: what real data and a memoriser score ---------------------------

    def references(self) -> dict[str, dict]:
        """The sample metrics of two stand-ins for G, by the same code and protocol: `data`, real
        examples the metrics do not compare with (the training split; fresh draws for mixtures),
        and `memoriser`, samples of a Gaussian kernel density estimate of the training examples
        at the bandwidth that maximises the held-out likelihood. A metric that ranks the
        memoriser with the good GANs cannot tell generalisation from copying."""
        pool = self._draw(self.source, self.source.num_examples or 10_000, stream=3)[0]
        bandwidth = self._memoriser_bandwidth(pool)

        def memorise(n: int) -> np.ndarray:
            rng = np.random.default_rng(self.cfg.seed + 4)
            centres = pool[rng.integers(len(pool), size=n)]
            return centres + self._parzen_scale * bandwidth * rng.standard_normal(centres.shape)

        stand_ins = {"data": lambda n: self._draw(self.source, n, stream=3)[0], "memoriser": memorise}
        names = [m for m in self.metrics if m.removeprefix(INCEPTION_PREFIX) in SAMPLE_METRICS]
        results = {}
        for kind, draw in stand_ins.items():
            self._cache, self._stand_in = {}, draw
            try:
                results[kind] = {"generator": kind, "metrics": {m: self._metric(m, None) for m in names}}
            finally:
                self._stand_in = None
        results["memoriser"]["bandwidth"] = bandwidth
        return results

    @property
    def _parzen_scale(self) -> float:
        """Data units per unit of Parzen's space: pixels span [0, 1] there (Goodfellow et al.), [-1, 1]
        here; points are not rescaled."""
        return 2.0 if self.source.kind == "images" else 1.0

    def _memoriser_bandwidth(self, pool: np.ndarray) -> float:
        """The Parzen bandwidth of the training examples with the highest likelihood of the held-out
        examples Parzen validates on, over MEMORISER_BANDWIDTHS (wider than Goodfellow et al.'s
        grid, whose lower end 0.1 was the optimum on digits)."""
        valid = self.real(self.cfg.parzen_valid + self.cfg.parzen_test)[: self.cfg.parzen_valid]
        scale = self._parzen_scale
        ll = parzen.log_likelihoods(valid / scale, pool / scale, MEMORISER_BANDWIDTHS).mean(1)
        return float(MEMORISER_BANDWIDTHS[int(np.argmax(ll))])

    def _metric_equilibrium(self, state):
        if self._updates is None:
            d_update, g_update = steps.make_updates(self.gan, self.source, self.train_cfg.batch_size)
            self._updates = jax.jit(d_update), jax.jit(g_update)
        d_update, g_update = self._updates
        rows = []
        for i in range(self.cfg.equilibrium_batches):
            key = jax.random.fold_in(jax.random.PRNGKey(self.cfg.seed + 2), i)
            _, m_d = d_update(state, self.arrays, key, jnp.int32(i))
            _, m_g = g_update(state, self.arrays, jax.random.fold_in(key, 1), jnp.int32(i))
            rows.append(jax.device_get({**m_d, **m_g}))
        means = {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}
        protocol = {
            "batches": len(rows),
            "batch_size": self.train_cfg.batch_size,
            "mode": "the train step's metrics (BatchNorm on batch statistics), no update applied",
        }
        if self.gan.objective.family != "minimax":  # no 1/2 and -log 4 to compare with
            return {**means, "protocol": protocol}
        optimum = {"optimum": "D = 1/2, V = -log 4"}
        return {**means, "V_minus_optimum": means["V"] + losses.LOG_4, "protocol": {**protocol, **optimum}}

    def _metric_modes(self, state):
        mix = self.source.mixture
        return mixtures.mode_coverage(
            self.generated(state, self.cfg.mode_samples),
            mix.means,
            mix.metric_std,
            mixtures.high_quality_threshold(mix.varying_dims),
        )

    def _metric_parzen(self, state):
        n_valid, n_test = self.cfg.parzen_valid, self.cfg.parzen_test
        real = self.real(n_valid + n_test)
        if len(real) <= n_valid:
            raise ConfigError(
                f"Parzen needs more than {n_valid} real examples; {self.source.name} has {len(real)}."
            )
        generated = self.generated(state, self.cfg.parzen_samples)
        scale = self._parzen_scale  # distances in Parzen's space; a shift of every point changes none
        lo, hi, num = self.cfg.parzen_log10_bandwidths
        bandwidths = np.logspace(lo, hi, int(num))
        result = parzen.parzen_log_likelihood(
            generated / scale, real[:n_valid] / scale, real[n_valid:] / scale, bandwidths
        )
        if result["bandwidth"] in (bandwidths[0], bandwidths[-1]):
            result["protocol"]["warning"] = (
                "the chosen bandwidth is at the edge of the grid: widen config.eval.parzen_log10_bandwidths"
            )
        result["protocol"]["space"] = "pixels in [0, 1]" if self.source.kind == "images" else "data"
        result["protocol"]["real"] = self.real_protocol
        return result

    def _metric_optimal_d(self, state):
        mix = self.source.mixture
        generated = self.generated(state, self.cfg.parzen_samples)[:, 0]
        grid = _density_grid(mix, generated)
        p_data = equilibrium.mixture_density(grid, mix.means[:, 0], mix.noise_std[[0]].repeat(len(mix.means)))
        d_star, p_g = equilibrium.optimal_discriminator(grid, p_data, generated)
        d_learned = np.asarray(
            jax.nn.sigmoid(
                apply.apply_net(
                    self.gan.discriminator,
                    state.d.variables,
                    jnp.asarray(grid[:, None], jnp.float32),
                    train=False,
                )[0]
            )
        )
        gap = equilibrium.discriminator_gap(d_learned, d_star, (p_data + p_g) / 2)
        return {
            **gap,
            "curves": {
                "x": grid.tolist(),
                "p_data": p_data.tolist(),
                "p_g": p_g.tolist(),
                "d": d_learned.tolist(),
                "d_star": d_star.tolist(),
            },
            "protocol": {
                "num_samples": len(generated),
                "p_g": "Gaussian KDE, Scott's rule",
                "grid": f"{len(grid)} points",
                "weights": "(p_data + p_g) / 2",
            },
        }

    def _feature_sets(self, state, net: features.FeatureNet):
        if ("features", net.name) not in self._cache:
            n = self.cfg.num_samples
            _, real = self._features(net, self.real(n))
            probs, fake = self._features(net, self.generated(state, n))
            self._cache["features", net.name] = real, fake, probs
        return self._cache["features", net.name]

    def _feature_protocol(self, net: features.FeatureNet, real, fake) -> dict:
        per_channel = net.image_size is not None and self.source.shape[-1] != net.channels
        return {
            "num_real": len(real),
            "num_generated": len(fake),
            "feature_network": net.protocol,
            "features": "penultimate layer" + (" per channel, concatenated" if per_channel else ""),
            "real": self.real_protocol,
        }

    def _metric_fd(self, state, net):
        real, fake, _ = self._feature_sets(state, net)
        return {
            "name": "FID" if net.name == "InceptionV3" else f"FD-{net.name}",
            "value": distances.frechet_distance(real, fake),
            "protocol": self._feature_protocol(net, real, fake),
        }

    def _metric_kid(self, state, net):
        real, fake, _ = self._feature_sets(state, net)
        kid = distances.kernel_inception_distance(real, fake, seed=self.cfg.seed)
        return {
            "name": f"KID-{net.name}",
            **kid,
            "protocol": {**kid["protocol"], **self._feature_protocol(net, real, fake)},
        }

    def _metric_prdc(self, state, net):
        real, fake, _ = self._feature_sets(state, net)
        pr, dc = manifold.precision_recall(real, fake), manifold.density_coverage(real, fake)
        return {
            "name": f"PRDC-{net.name}",
            **{k: v for k, v in {**pr, **dc}.items() if k != "protocol"},
            "protocol": {
                "k_precision_recall": pr["protocol"]["k"],
                "k_density_coverage": dc["protocol"]["k"],
                **self._feature_protocol(net, real, fake),
            },
        }

    def _metric_score(self, state, net):
        _, fake, probs = self._feature_sets(state, net)
        score = distances.classifier_score(probs)
        return {
            "name": "IS" if net.name == "InceptionV3" else f"Score-{net.name}",
            **score,
            "protocol": {**score["protocol"], "num_generated": len(fake), "feature_network": net.protocol},
        }

    def _metric_conditional(self, state):
        """Does G honour the label? The classifier's accuracy on samples of each class, and the
        Frechet distance between real and generated features class by class."""
        n, net = self.cfg.num_samples, self.nets["classifier"]
        fake_y = self.generated_labels(n)
        if self.source.kind == "points":  # the label is the mode: is the sample nearest to it?
            mix = self.source.mixture
            distance = mixtures.standardized_distances(self.generated(state, n), mix.means, mix.metric_std)
            predicted, real_feats, fake_feats = distance.argmin(1), None, None
        else:
            real_feats, fake_feats, probs = self._feature_sets(state, net)
            predicted = probs.argmax(-1)
        classes = range(self.gan.num_classes)
        per_class = [float(np.mean(predicted[fake_y == k] == k)) for k in classes]
        result = {"accuracy": float(np.mean(predicted == fake_y)), "per_class_accuracy": per_class}
        if real_feats is not None:
            real_y = self.real_labels(n)
            per_class_fd = [
                distances.frechet_distance(real_feats[real_y == k], fake_feats[fake_y == k]) for k in classes
            ]
            result.update(per_class_fd=per_class_fd, mean_class_fd=float(np.mean(per_class_fd)))
        judge = net.protocol if self.source.kind == "images" else "nearest mode (standardised distance)"
        result["protocol"] = {"num_samples": n, "labels": "every class in turn", "judge": judge}
        return result

    def _metric_semi_supervised(self, state):
        """Test error of the semi-supervised D's K-class output on the held-out split."""
        images, labels = uint8_to_unit_range(self.heldout.arrays["x"]), self.heldout.arrays["label"]
        logits = np.concatenate(
            [
                np.asarray(
                    apply.apply_net(self.gan.discriminator, state.d.variables, images[i : i + _BATCH], False)[
                        0
                    ]
                )
                for i in range(0, len(images), _BATCH)
            ]
        )
        errors = int((logits.argmax(-1) != labels).sum())
        return {
            "errors": errors,
            "error_rate": errors / len(labels),
            "errors_per_10000": 10_000 * errors / len(labels),
            "protocol": {
                "test": self.real_protocol,
                "labelled_training_examples": self.loss_cfg.num_labelled,
                "classifier": "argmax of D's K class logits (inference mode)",
            },
        }

    def _metric_stacked_modes(self, state):
        n, net = self.cfg.stacked_samples, self.nets["classifier"]

        def modes_of(images):
            probs, _ = self._features(net, images)
            triples = probs.argmax(2) @ np.array([100, 10, 1])
            counts = np.bincount(triples, minlength=1000)
            return {"modes": int((counts > 0).sum()), "kl": mixtures.reverse_kl_to_uniform(counts)}

        return {
            **modes_of(self.generated(state, n)),
            "real_reference": modes_of(self.real(n)),
            "protocol": {
                "num_samples": n,
                "modes": "distinct predicted digit triples",
                "kl": "KL(p_modes || Uniform(1000))",
                "classifier": net.protocol,
            },
        }

    # ----- figures -----------------------------------------------------------------------

    def figures(self, state: GANState, results: dict, directory: pathlib.Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        metrics = results["metrics"]
        if self.source.kind == "points" and self.source.shape[0] <= 2:
            samples = self.generated(state, self.cfg.mode_samples)
            captured = None
            if "modes" in metrics:
                captured = np.asarray(metrics["modes"]["counts"]) > 0
                writers.save_mode_histogram(metrics["modes"]["counts"], directory / "mode_histogram.png")
            title = f"{self.source.name}: {len(samples)} samples at step {results['step']}"
            writers.save_points_figure(
                samples, self.source.mixture, title, directory / "samples.png", captured
            )
            if "optimal_d" in metrics:
                writers.save_equilibrium_figure(
                    [(results["step"], metrics["optimal_d"]["curves"])], directory / "discriminator.png"
                )
        elif self.source.kind == "images":  # held-out real images, when there are some
            fake, real = self.generated(state, 64), self._draw(self.heldout or self.source, 64)[0]
            writers.save_real_vs_generated(real[:32], fake[:32], directory / "real_vs_generated.png")
            # A memorisation check: each sample's nearest training image, and nearest held-out one.
            pools = [self._draw(s, s.num_examples or 10_000)[0] for s in (self.source, self.heldout) if s]
            writers.save_nearest_neighbours(fake[:8], pools, directory / "nearest_real.png")


def _density_grid(mix, generated: np.ndarray) -> np.ndarray:
    std = float(mix.noise_std.max())
    lo = min(mix.means.min() - 4 * std, np.percentile(generated, 0.5))
    hi = max(mix.means.max() + 4 * std, np.percentile(generated, 99.5))
    return np.linspace(lo, hi, 400)


def write(results: dict, workdir: pathlib.Path) -> None:
    """eval_<step>.json, and the figure of D against D* over every evaluated step (1-D data)."""
    (workdir / f"eval_{results['step']}.json").write_text(json.dumps(results, indent=2) + "\n")
    if "optimal_d" in results["metrics"]:
        evaluated = [json.loads(p.read_text()) for p in workdir.glob("eval_*.json")]
        panels = sorted(
            (r["step"], r["metrics"]["optimal_d"]["curves"]) for r in evaluated if "optimal_d" in r["metrics"]
        )
        writers.save_equilibrium_figure(panels, workdir / "equilibrium_steps.png")


def scalars(results: dict) -> dict[str, float]:
    """The headline numbers of an evaluation, flat, for JSONL/TensorBoard."""
    out = {}
    for name, value in results["metrics"].items():
        for key, v in value.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                out[f"{name}/{key}"] = float(v)
    return out
