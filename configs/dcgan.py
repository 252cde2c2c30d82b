r"""DCGAN (Radford et al. 2015) with the paper's hyper-parameters: Adam 2e-4, beta1 0.5, batch 128,
z ~ N(0, I) in R^100, all weights from N(0, 0.02), non-saturating G loss, one D step per G step.

Command:   python -m experiments.run --config=configs/dcgan.py --workdir=runs/dcgan
Arguments: the data set -- `digits` (default: scikit-learn's bundled 8x8 digits at 16x16, works
           offline), `mnist`, `fashion_mnist` (32x32x1), `cifar10` (32x32x3), `celeb_a` (64x64x3),
           the last four through tensorflow-datasets (network needed the first time). With the
           real MNIST files at hand use `mnist` plus --config.data.name=idx:../shared/data/mnist
           (this project's machines hold only its test split: add --config.data.split=test[:8000]
           --config.data.eval_split=test[8000:]); Fashion-MNIST's files (../shared/data/
           fashion_mnist) with `fashion_mnist` plus --config.data.name=idx:../shared/data/fashion_mnist.
           `stacked_mnist` (three MNIST digits as RGB: 1,000 modes) likewise.
           `smoke` shrinks any of them to a seconds-long run (e.g. --config=configs/dcgan.py:smoke).
           The objective, as in configs/gan_mlp.py: `minimax` (default), `hinge`, `wgan_gp` (its
           critic loses BatchNorm, as Gulrajani et al.'s MNIST and CIFAR-10 critics), `lsgan`,
           `rsgan`; `r1` (D without BatchNorm, as Mescheder et al.'s), `sn`; e.g. `digits,hinge,sn`.
Held out:  every metric that compares G with real data uses examples G never trained on
           (config.data.eval_split): digits trains on its first 1,438 images and holds out the
           last 359 (the digits16 classifier's own test images); the other sets train on `train`
           and hold out `test`.
Metrics:   every 1,000 steps, on the features of the project's classifier (classifiers/*, made by
           experiments/train_classifier.py): FD, KID, precision/recall, density/coverage and the
           classifier score for digits, mnist and fashion_mnist; mode counts for stacked_mnist.
CPU time:  digits: about 2.7 minutes on an idle 2-core CPU (3,000 steps, ~21 steps/s, plus three
           evaluations; more than twice that while other jobs share the cores);
           mnist and fashion_mnist at 32x32: ~3 steps/s, so their 5,000 steps take about half an
           hour.
Expected:  digits: runs/dcgan/samples/step_0003000.png shows 64 samples, most of them recognisable
           digits (as blurry as the 8x8 originals scaled up), a minority malformed strokes;
           eval_3000.json, against the 359 held-out digits: FD-CNN-digits16 47.2, precision 0.45,
           recall 0.81, density 0.30, coverage 0.95, classifier score 7.57 (of 10) (seed 0).
           For scale, the 1,438 training digits themselves score FD 30.9 against the same 359
           (FD is biased upwards with few real examples; README, "Reference rows"). D mostly wins
           on this small training set and the game oscillates: over the last 500 steps mean D(x)
           = 0.88, D(G(z)) = 0.12, V = -0.31 (the last 100 steps: 0.96, 0.04) -- far from the
           equilibrium's 1/2, 1/2 and -log 4. The run is deterministic: the same command
           reproduces these numbers exactly (on the same CPU).
"""

import ml_collections

from gan_jax import models
from gan_jax.config import OBJECTIVES, apply_objective, arguments, base_config

# data set -> (data.name, training split, held-out split, image size, total steps, classifier for
# the metrics, metrics)
FEATURE_METRICS = "fd,kid,prdc,copying,score"
DATASETS = {
    "digits": ("digits", "train[:1438]", "train[1438:]", 16, 3_000, "classifiers/digits16", FEATURE_METRICS),
    "mnist": ("tfds:mnist", "train", "test", 32, 5_000, "classifiers/mnist32", FEATURE_METRICS),
    "stacked_mnist": (
        "stacked:tfds:mnist",
        "train",
        "test",
        32,
        20_000,
        "classifiers/mnist32",
        "stacked_modes",
    ),
    "fashion_mnist": (
        "tfds:fashion_mnist",
        "train",
        "test",
        32,
        5_000,
        "classifiers/fashion32",
        FEATURE_METRICS,
    ),
    "cifar10": ("tfds:cifar10", "train", "test", 32, 20_000, "", ""),
    "celeb_a": ("tfds:celeb_a", "train", "test", 64, 20_000, "", ""),
}


parse_args = arguments(
    "dcgan.py", dataset=tuple(DATASETS), objective=tuple(OBJECTIVES), r1=False, sn=False, smoke=False
)


def get_config(arg: str = "digits") -> ml_collections.ConfigDict:
    return build(**parse_args(arg))


def shrink(c: ml_collections.ConfigDict, size: int) -> None:
    """An image config as a seconds-long smoke run: 16x16 images, 8 channels, 8 steps of batch 32;
    evaluated only when the data's classifier takes 16x16 images (`size`: the data's own size)."""
    c.data.image_size = 16
    c.model.update(z_dim=16)
    c.model.g.width = c.model.d.width = 8
    c.train.update(batch_size=32, total_steps=8, steps_per_call=2)
    c.log.update(every=4, sample_every=8, num_samples=16)  # samples at the end only
    c.checkpoint.update(every=4, keep=2)
    if size == 16:  # the classifier still fits the smoke run's 16x16 images: keep evaluating
        c.eval.update(every=8, num_samples=300)
    else:
        c.eval.update(every=0, metrics="")


def build(
    dataset: str = "digits",
    objective: str = "minimax",
    r1: bool = False,
    sn: bool = False,
    smoke: bool = False,
) -> ml_collections.ConfigDict:
    """The config of the argument `dataset[,objective][,r1][,sn][,smoke]`, for other configs to build on."""
    name, split, eval_split, size, steps, classifier, metrics = DATASETS[dataset]

    c = base_config()
    c.data.update(name=name, split=split, eval_split=eval_split, image_size=size)
    # Every option of models/dcgan.py's DCGANGenerator / DCGANDiscriminator (width 64, BatchNorm,
    # the custom-VJP convolutions, ...) is a key of model.g / model.d, at the paper's value.
    c.model = models.model_config("dcgan", z_dim=100)
    c.train.update(batch_size=128, total_steps=steps, steps_per_call=10)
    c.log.update(every=100, sample_every=500, num_samples=64)
    c.checkpoint.update(every=500, keep=3)
    c.eval.update(every=1_000 if metrics else 0, metrics=metrics, classifier=classifier)
    if dataset == "digits":  # 359 held-out images: 100 choose Parzen's bandwidth, 259 test it
        c.eval.update(parzen_valid=100)

    if smoke:
        shrink(c, size)
    apply_objective(c, objective, r1, sn)
    c.lock()  # a mistyped key now fails instead of silently adding a new one
    return c
