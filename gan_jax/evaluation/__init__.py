"""Evaluate a generator: every metric with the protocol that produced it, plus figures.

Used by the trainer (config.eval.every > 0), by `experiments/evaluate.py` and by
`experiments/report.py` (the reference rows). The package: `bank` (the samples compared: G's, or
an injected sampler's, and held-out real ones), `registry` (every metric by name: its function,
where it applies, what it reads), the metrics by family (`points`, `features`, `game`) and
`figures`. Everything is checked when the Evaluator is built, before any compute; every process
runs the same device computations (sampling included), and only the caller decides who writes.
"""

import json
from collections.abc import Sequence

import ml_collections
import numpy as np
from etils import epath

from gan_jax import classifier, data, plots
from gan_jax import workdir as workdirs
from gan_jax.data import DataSource
from gan_jax.data.stacked import CHANNELS
from gan_jax.errors import ConfigError
from gan_jax.evaluation import figures as figures_lib
from gan_jax.evaluation.bank import SampleBank, Sampler, finite_samples
from gan_jax.evaluation.context import Context, Setting
from gan_jax.evaluation.points import parzen_scale
from gan_jax.evaluation.registry import METRICS, applicable
from gan_jax.feature_nets import FeatureNet, load_dinov2, load_inception
from gan_jax.metrics import copying, parzen
from gan_jax.state import GAN, GANState

__all__ = ["Evaluator", "applicable_metrics", "finite_samples", "parse_metrics", "scalars", "write"]
MEMORISER_BANDWIDTHS = np.logspace(-3.0, 0.0, 31)  # in Parzen's space (pixels in [0, 1] for images)


def applicable_metrics(
    source: DataSource,
    has_classifier: bool,
    has_inception: bool = False,
    conditional: bool = False,
    semi_supervised: bool = False,
    has_dinov2: bool = False,
) -> tuple[str, ...]:
    """The metrics that make sense for a source, the feature networks configured and the model."""
    return applicable(
        Setting(source, has_classifier, has_inception, conditional, semi_supervised, has_dinov2)
    )


def parse_metrics(spec: str) -> tuple[str, ...]:
    return tuple(m.strip() for m in spec.split(",") if m.strip())


def _load_heldout(data_cfg: ml_collections.ConfigDict, source: DataSource, metrics: Sequence[str]):
    """The held-out real data (loaded once). Synthetic mixtures need none unless trained on a
    fixed set of points: their real samples are fresh draws, never seen in training. An array
    data set without eval_split cannot give the metrics that compare with real data an honest
    answer: refused here."""
    if source.kind != "images":
        return data.load_heldout(data_cfg)
    heldout = data.load_heldout(data_cfg)
    comparing = [m for m in metrics if "real" in METRICS[m].needs]
    if heldout is None and comparing:
        raise ConfigError(
            f"Metrics {comparing} compare G with real data the GAN never trained on; "
            f"config.data.eval_split is empty. Set it to a held-out split: 'test', or a tail kept "
            "out of training (data.split='train[:1438]', data.eval_split='train[1438:]')."
        )
    return heldout


def _check_classifier(net: FeatureNet, source: DataSource) -> None:
    size, channels = net.image_size, net.channels
    if (
        source.kind != "images"
        or source.shape[0] != size
        or source.shape[-1] not in (channels, CHANNELS * channels)
    ):
        raise ConfigError(
            f"Classifier {net.name} takes {size}x{size}x{channels} images; the data "
            f"{source.name!r} are {source.shape}. Train a matching one with "
            "python -m experiments.train_classifier."
        )


class Evaluator:
    """Computes the requested metrics of a GANState (or of any sampler in G's place)."""

    def __init__(
        self,
        config: ml_collections.ConfigDict,
        gan: GAN,
        source: DataSource,
        metrics: Sequence[str],
        arrays: dict | None = None,
    ):
        cfg = config.eval
        nets = {
            "classifier": classifier.load(cfg.classifier) if cfg.classifier else None,
            "inception": load_inception(cfg.inception_weights, cfg.resize) if cfg.inception_weights else None,
            "dinov2": load_dinov2(cfg.dinov2_weights, cfg.resize) if cfg.dinov2_weights else None,
        }
        setting = Setting(
            source,
            nets["classifier"] is not None,
            nets["inception"] is not None,
            conditional=gan.num_classes > 0,
            semi_supervised=gan.objective.semi_supervised,
            has_dinov2=nets["dinov2"] is not None,
        )
        possible = applicable(setting)
        unknown = [m for m in metrics if m not in possible]
        if unknown:
            raise ConfigError(
                f"Metrics {unknown} do not apply to data {source.name!r} with the feature networks "
                f"configured (config.eval.classifier={cfg.classifier!r}, config.eval.inception_weights="
                f"{cfg.inception_weights!r}, config.eval.dinov2_weights={cfg.dinov2_weights!r}); possible "
                f"here: {list(possible)}."
            )
        if nets["classifier"] is not None:
            _check_classifier(nets["classifier"], source)
        if "copying" in metrics and cfg.num_samples <= copying.MIN_CELL_SAMPLES:
            raise ConfigError(
                f"config.eval.num_samples={cfg.num_samples}: the copying test counts a cell with more than "
                f"{copying.MIN_CELL_SAMPLES} samples; draw more (10,000 is the default)."
            )
        self.metrics = tuple(metrics)
        self.bank = SampleBank(
            gan, source, _load_heldout(config.data, source, metrics), cfg, config.data.eval_split
        )
        if arrays is None and source.streamed:  # D and G's metrics on batches read from its files
            arrays = _streamed_batches(source, cfg.equilibrium_batches, config.train.batch_size, cfg.seed)
        elif arrays is None:
            arrays = data.training_arrays(source, gan.num_labelled)
        self._ctx = Context(cfg, config.train, config.loss.num_labelled, gan, source, self.bank, nets, arrays)
        self._shown: dict = {}

    def __call__(self, state: GANState, step: int, sampler: Sampler | None = None) -> dict:
        """Every metric of G at `state` -- or of `sampler`'s samples in G's place (D's metrics
        still read `state`) -- with its protocol. Also draws what `figures` will show."""
        self.bank.start(sampler or self.bank.generator(state))
        self._ctx.state = state
        results = {
            "step": step,
            "generator": "ema" if state.g_ema is not None else "live",
            "data": self.bank.source.name,
            "seed": self.bank.cfg.seed,
            "metrics": {name: METRICS[name].fn(self._ctx) for name in self.metrics},
        }
        self._shown = figures_lib.prepare(self.bank)
        return results

    def figures(self, results: dict, directory: epath.Path) -> None:
        """The figures of the last evaluation (`results`), from what it drew: host work only."""
        figures_lib.save(self.bank, self._shown, results, directory)

    def references(self) -> dict[str, dict]:
        """The sample metrics of two stand-ins for G, by the same code and protocol: `data`, real
        examples the metrics do not compare with (the training split; for a mixture, fresh draws,
        or the points of its fixed training set), and `memoriser`, samples of a Gaussian kernel
        density estimate of the training examples at the bandwidth that maximises the held-out
        likelihood. A metric that ranks the
        memoriser with the good GANs cannot tell generalisation from copying."""
        bank, cfg = self.bank, self.bank.cfg
        pool = bank.pool(bank.source, stream=3)
        scale = parzen_scale(bank.source)
        valid = bank.real(cfg.parzen_valid + cfg.parzen_test)[: cfg.parzen_valid]
        ll = parzen.log_likelihoods(valid / scale, pool / scale, MEMORISER_BANDWIDTHS).mean(1)
        bandwidth = float(MEMORISER_BANDWIDTHS[int(np.argmax(ll))])  # wider grid than Goodfellow's

        def memorise(n: int) -> np.ndarray:
            rng = np.random.default_rng(cfg.seed + 4)
            centres = pool[rng.integers(len(pool), size=n)]
            return centres + scale * bandwidth * rng.standard_normal(centres.shape)

        stand_ins = {"data": lambda n: bank.draw(bank.source, n, stream=3)[0], "memoriser": memorise}
        names = [m for m in self.metrics if METRICS[m].of_samples_alone]
        results = {}
        for kind, draw in stand_ins.items():
            bank.start(draw)
            self._ctx.state = None
            results[kind] = {"generator": kind, "metrics": {m: METRICS[m].fn(self._ctx) for m in names}}
        results["memoriser"]["bandwidth"] = bandwidth
        return results


def _streamed_batches(source: DataSource, batches: int, batch_size: int, seed: int) -> dict:
    """What the train step's data argument holds for a streamed source -- (draws, batch, ...) --
    with `batches` batches of distinct examples in a fixed random order, for the metrics that run
    the step's own updates (equilibrium) outside training."""
    n = min(batches * batch_size, source.num_examples) // batch_size * batch_size
    read = source.examples.read(np.random.default_rng(seed + 2).permutation(source.num_examples)[:n])
    return {k: v.reshape(n // batch_size, batch_size, *v.shape[1:]) for k, v in read.items()}


def write(results: dict, workdir: epath.Path) -> None:
    """eval_<step>.json (in one step: never a partial file), and the figure of D against D* over
    every evaluated step (1-D data)."""
    workdirs.write_atomically(workdir / f"eval_{results['step']}.json", json.dumps(results, indent=2) + "\n")
    if "optimal_d" in results["metrics"]:
        evaluated = [workdirs.read_json(p) for p in workdir.glob("eval_*.json")]
        panels = sorted(
            (r["step"], r["metrics"]["optimal_d"]["curves"]) for r in evaluated if "optimal_d" in r["metrics"]
        )
        plots.save_equilibrium_figure(panels, workdir / "equilibrium_steps.png")


def scalars(results: dict) -> dict[str, float]:
    """The headline numbers of an evaluation, flat, for JSONL/TensorBoard."""
    out = {}
    for name, value in results["metrics"].items():
        for key, v in value.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                out[f"{name}/{key}"] = float(v)
    return out
