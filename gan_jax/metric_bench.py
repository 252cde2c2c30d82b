"""The metric bench: which metric detects which failure, at which sample size N.

Each trial evaluates a stand-in generator with one known defect (gan_jax/defects.py) at one
severity against a fresh draw of held-out reference data, with every metric the data supports:

  images (on the project's classifier: its 128-d features and class probabilities)
    fd, kid                  Frechet distance; KID (100 subsets of min(N, 1000))
    precision, recall        Kynkaenniemi et al. 2019, k = 3
    density, coverage        Naeem et al. 2020, k = 5
    score                    the classifier score (the Inception Score's formula)
    classes, class_kl        classes predicted at least once; KL(predicted classes || uniform)
    c_t                      Meehan et al. 2020's data-copying test against the train pool
                             (gan_jax/metrics/copying.py; one k-means cell per 200 points)
  stacked MNIST (three digits as the channels): each channel judged by the single-channel
  classifier, features side by side (384-d), class probabilities the product of the channels'
  over the 1,000 digit triples -- so `classes` and `class_kl` are the mode count and mode KL of
  configs/stacked_mnist.py's evaluation (`stacked_modes`)
  points (2-D mixtures; fd to coverage and c_t on the raw coordinates)
    modes, high_quality, reverse_kl   VEEGAN/PacGAN's mode coverage (gan_jax/metrics/mixtures.py)

Two experiments of independent draws (reference and samples) per setting:
  curves  every severity of every defect at N = CURVE_N, CURVE_REPEATS draws each: the metric's
          mean and spread against severity, and Spearman's rho between severity and metric;
  power   the clean generator and each defect at its small severity at each N, `repeats` draws
          each: a draw is *detected* when its value lies more than Z clean standard deviations
          from the clean draws' mean at that N (the metric's own difference over its own
          spread); power is the share of detected draws. The rule's false-alarm rate is
          measured on the clean draws themselves, each against the others (leave one out).
Records (one per trial) are what the report is made from (experiments/metric_bench.py).
"""

import dataclasses
import functools
import zlib
from collections.abc import Callable

import numpy as np

from gan_jax import classifier, defects
from gan_jax.data import images as image_data
from gan_jax.data import mixtures as mixture_data
from gan_jax.data import stacked
from gan_jax.data.source import uint8_to_unit_range
from gan_jax.errors import UserError
from gan_jax.evaluation.features import joint_probabilities, network_outputs
from gan_jax.feature_nets import FeatureNet
from gan_jax.metrics import copying, distances, manifold, mixtures

CURVE_N, CURVE_REPEATS = 2000, 5
Z = 3.0  # the detection threshold, in clean standard deviations (a normal clean draw: p = 0.0027)
KID_SUBSETS = 100

# Severity levels of each defect (0, the clean generator, is every defect's first level) and the
# "small" level the power experiment uses; for points, noise and memorisation noise are in units
# of the modes' std.
SEVERITIES = {
    "mode_dropping": ((0, 1, 2, 3, 5), 1),
    "mode_imbalance": ((0, 0.25, 0.5, 0.75, 0.9), 0.5),
    "memorisation": ((0, 0.1, 0.25, 0.5, 1.0), 0.25),
    "noisy_memorisation": ((0, 0.1, 0.25, 0.5, 1.0), 0.25),
    "blur": ((0, 0.5, 0.75, 1.0, 1.5), 0.5),
    "noise": ((0, 0.05, 0.1, 0.2, 0.4), 0.05),
    "quantisation": ((0, 0.05, 0.1, 0.2, 0.4), 0.1),
    "shrinkage": ((0, 0.05, 0.1, 0.25, 0.5), 0.1),
}
POINT_SEVERITIES = {"noise": ((0, 0.25, 0.5, 1.0, 2.0), 0.5)}
# Stacked MNIST has 1,000 modes: dropping 1 to 5 of them is a 0.1-0.5% change
STACKED_SEVERITIES = {"mode_dropping": ((0, 10, 50, 100, 500), 10)}
SHARED_METRICS = ("fd", "kid", "precision", "recall", "density", "coverage", "c_t")
IMAGE_METRICS = (*SHARED_METRICS, "score", "classes", "class_kl")
POINT_METRICS = ("modes", "high_quality", "reverse_kl", *SHARED_METRICS)


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A bench data set: how to build its pools, its judge (feature network) and its sizes;
    the train pool as the judge sees it and its k-means cells for the copying test, per N."""

    name: str
    pools: defects.Pools
    judge: FeatureNet | None  # None: points, judged by the mixture's modes
    mixture: mixture_data.Mixture | None
    sizes: tuple[int, ...]
    train_features: np.ndarray
    curve_n: int = CURVE_N  # the curves' N (smaller where a pool is)
    severity_overrides: dict = dataclasses.field(default_factory=dict)  # defect -> (levels, small)
    _cells: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)

    def cells(self, n: int) -> copying.Partition:
        """The copying test's cells for N = n reference points (fit once per cell count)."""
        k = copying.num_cells(n)
        if k not in self._cells:
            self._cells[k] = copying.partition(self.train_features, k)
        return self._cells[k]

    @property
    def metrics(self) -> tuple[str, ...]:
        return IMAGE_METRICS if self.judge is not None else POINT_METRICS

    def severities(self, defect: str) -> tuple[tuple[float, ...], float]:
        return self.severity_overrides.get(defect, SEVERITIES[defect])

    @property
    def defects(self) -> tuple[str, ...]:
        return tuple(d for d in defects.DEFECTS if defects.applies(d, self.pools))


def _class_means(x: np.ndarray, y: np.ndarray, num_classes: int) -> np.ndarray:
    return np.stack([x[y == k].mean(0) for k in range(num_classes)])


def _shuffled_parts(n: int, cuts: tuple[int, int]) -> tuple[np.ndarray, ...]:
    """Three disjoint index sets of a fixed shuffle (seed 0) of examples [0, n), cut at `cuts`."""
    order = np.random.default_rng(0).permutation(n)
    return order[: cuts[0]], order[cuts[0] : cuts[1]], order[cuts[1] :]


@dataclasses.dataclass(frozen=True)
class ImageSet:
    """Where an image data set's pools come from: `examples(image_size)` cut into three disjoint
    parts (train, clean, reference), judged by one of the project's classifiers; `stacked`: each
    pool holds STACKED_POOL images whose three channels are digits drawn from that part."""

    examples: Callable[[int], image_data.Examples]
    parts: tuple
    judge: str
    sizes: tuple[int, ...]
    curve_n: int = CURVE_N
    image_size: int = 32
    stacked: bool = False
    severity_overrides: dict = dataclasses.field(default_factory=dict)  # defect -> (levels, small)


# MNIST's test split stores its 5,000 digits from NIST's training set (cleaner, easier) before the
# 5,000 from NIST's test set, so pools cut in stored order hold different writers (docs/metrics.md
# says how the copying test found it). The pools are cut from a fixed shuffle of the first 8,000
# (the images classifiers/mnist32 and mnist28 were trained on); Fashion-MNIST's training split is
# stored shuffled.
MNIST_PARTS = _shuffled_parts(8000, (2000, 5000))
MNIST = functools.partial(image_data.load_idx, "../shared/data/mnist", "test")
IMAGE_SETS = {
    "fashion_mnist": ImageSet(
        functools.partial(image_data.load_idx, "../shared/data/fashion_mnist", "train"),
        (slice(0, 20000), slice(20000, 40000), slice(40000, 60000)),
        "classifiers/fashion32",
        (1000, 5000, 10000),
    ),
    # 5 of 10 classes dropped leave ~1,500 of the 3,000 clean images: N = 1,000 at most
    "mnist": ImageSet(MNIST, MNIST_PARTS, "classifiers/mnist32", (1000,), 1000),
    # scikit-learn's 1,797 digits (the project's quick-start data), shuffled: 597 / 600 / 600, the
    # classifier's 1,438 training and 359 held-out images mixed alike into every pool; 5 dropped
    # classes leave ~300 of the 600 clean images: N = 250
    "digits": ImageSet(
        image_data.load_digits,
        _shuffled_parts(1797, (597, 1197)),
        "classifiers/digits16",
        (250,),
        250,
        image_size=16,
    ),
    # the 28 px images and mode counter of configs/stacked_mnist.py
    "stacked_mnist": ImageSet(
        MNIST,
        MNIST_PARTS,
        "classifiers/mnist28",
        (1000, 5000),
        image_size=28,
        stacked=True,
        severity_overrides=STACKED_SEVERITIES,
    ),
}
STACKED_POOL = 20000  # stacked images in each pool: N = 5,000 leaves half the modes droppable
POINT_POOL = 40000  # points in each mixture pool (train, clean, reference)
POINT_SIZES = (1000, 5000, 10000)
NAMES = (*IMAGE_SETS, "ring", "grid")


def _image_pools(spec: ImageSet) -> defects.Pools:
    """The train, clean and reference pools of an image set, and their class (mode) means."""
    examples = spec.examples(spec.image_size)
    whole = examples.read(np.arange(examples.size))
    x, y = uint8_to_unit_range(whole["x"]), whole["label"]
    parts = [(x[p], y[p]) for p in spec.parts]
    centres = _class_means(*parts[1], examples.num_classes)
    if spec.stacked:  # a mode's mean is its three digits' means, side by side
        triples = stacked.every_triple(examples.num_classes)
        centres = stacked.stack(centres, np.arange(examples.num_classes), triples)[0]
        draws = [
            np.random.default_rng(i).integers(0, len(px), (STACKED_POOL, stacked.CHANNELS))
            for i, (px, _) in enumerate(parts)
        ]
        parts = [stacked.stack(px, py, index) for (px, py), index in zip(parts, draws, strict=True)]
    return defects.Pools(*parts, centres, images=True)


def load(name: str, judge: FeatureNet | None = None) -> Dataset:
    """The bench's data set `name`: its pools, judge (its classifier, or `judge`: InceptionV3,
    DINOv2 from the user's weights) and sample sizes."""
    if judge is not None and name not in IMAGE_SETS:
        raise UserError(
            f"The metric bench's {name} is judged by its modes: a feature network is for {tuple(IMAGE_SETS)}."
        )
    if name in IMAGE_SETS:
        spec = IMAGE_SETS[name]
        pools, net = _image_pools(spec), judge or classifier.load(spec.judge)
        train_features = judged(net, pools.train[0])[0]
        return Dataset(
            name, pools, net, None, spec.sizes, train_features, spec.curve_n, spec.severity_overrides
        )
    mixture = mixture_data.MIXTURES[name]()
    train, clean, reference = (
        tuple(mixture_data.training_set(mixture, POINT_POOL, seed).values()) for seed in range(3)
    )
    pools = defects.Pools(
        train, clean, reference, mixture.means, images=False, scale=float(mixture.noise_std.max())
    )
    return Dataset(
        name,
        pools,
        None,
        mixture,
        POINT_SIZES,
        judged(None, train[0])[0],
        severity_overrides=POINT_SEVERITIES,
    )


def _shared(x: np.ndarray, real: np.ndarray, seed: int) -> dict[str, float]:
    """The metrics that compare two point or feature sets."""
    pr, dc = manifold.precision_recall(real, x), manifold.density_coverage(real, x)
    kid = distances.kernel_inception_distance(real, x, KID_SUBSETS, 1000, seed)
    return {
        "fd": distances.frechet_distance(real, x),
        "kid": kid["mean"],
        "precision": pr["precision"],
        "recall": pr["recall"],
        "density": dc["density"],
        "coverage": dc["coverage"],
    }


def judged(judge: FeatureNet | None, x: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """(features, class probabilities) of samples as the metrics see them (points, judged by
    no network: themselves)."""
    if judge is None:
        return np.asarray(x, np.float64), None
    probs, features = network_outputs(judge, x)
    return features, (joint_probabilities(probs) if probs.ndim == 3 else probs)


def measure(dataset: Dataset, x: np.ndarray, reference: np.ndarray, seed: int) -> dict[str, float]:
    """Every metric of samples `x` against the reference's judged features `reference`."""
    features, probs = judged(dataset.judge, x)
    values = _shared(features, reference, seed)
    cells = dataset.cells(len(reference))
    values["c_t"] = copying.data_copying(dataset.train_features, reference, features, cells)["c_t"]
    if probs is not None:
        counts = np.bincount(probs.argmax(-1), minlength=probs.shape[-1])
        values.update(
            score=distances.classifier_score(probs)["mean"],
            classes=int((counts > 0).sum()),
            class_kl=mixtures.reverse_kl_to_uniform(counts),
        )
    else:
        mix = dataset.mixture
        threshold = mixtures.high_quality_threshold(mix.varying_dims)
        coverage = mixtures.mode_coverage(x, mix.means, mix.metric_std, threshold)
        values.update(
            modes=coverage["modes_captured"],
            high_quality=coverage["high_quality_percent"],
            reverse_kl=coverage["reverse_kl"],
        )
    return values


@dataclasses.dataclass(frozen=True)
class Trial:
    experiment: str  # "curves" or "power"
    defect: str  # "clean" for the power experiment's clean draws
    severity: float
    n: int
    repeat: int


def plan(dataset: Dataset, repeats: int, curve_repeats: int = CURVE_REPEATS) -> list[Trial]:
    """Every trial of both experiments on one data set, grouped by (n, repeat): the reference
    draw they share."""
    trials, curve_n = [], dataset.curve_n
    for n in sorted({curve_n, *dataset.sizes}):
        for repeat in range(max(repeats, curve_repeats)):
            if n == curve_n and repeat < curve_repeats:
                trials += [
                    Trial("curves", d, s, n, repeat)
                    for d in dataset.defects
                    for s in dataset.severities(d)[0]
                ]
            if n in dataset.sizes and repeat < repeats:
                trials.append(Trial("power", "clean", 0.0, n, repeat))
                trials += [Trial("power", d, dataset.severities(d)[1], n, repeat) for d in dataset.defects]
    return trials


def _seed(*parts) -> list[int]:
    """A numpy seed from names and numbers, the same on every machine (unlike hash())."""
    return [zlib.crc32(str(p).encode()) for p in parts]


def run(dataset: Dataset, trials: list[Trial]) -> list[dict]:
    """The records of `trials`: each one's setting and metric values."""
    records, cached = [], {}
    for t in trials:
        if (t.n, t.repeat) not in cached:  # the reference draw of this (N, repeat), judged once
            rng = np.random.default_rng(_seed(dataset.name, "reference", t.n, t.repeat))
            real = defects.draw(dataset.pools.reference, t.n, rng)[0]
            cached = {(t.n, t.repeat): judged(dataset.judge, real)[0]}
        rng = np.random.default_rng(_seed(dataset.name, t.experiment, t.defect, t.severity, t.n, t.repeat))
        if t.defect == "clean":
            x = defects.clean(dataset.pools, t.n, rng)[0]
        else:
            x = defects.DEFECTS[t.defect](dataset.pools, t.n, t.severity, rng)
        values = measure(dataset, x, cached[t.n, t.repeat], t.repeat)
        records.append({"data": dataset.name, **dataclasses.asdict(t), "metrics": values})
    return records
