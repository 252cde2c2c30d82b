r"""Conditional GAN (Mirza & Osindero 2014): G and D see the class label, G models P(x | y).

Command:   python -m experiments.run --config=configs/cgan.py --workdir=runs/cgan
           python -m experiments.sample --workdir=runs/cgan --label=3 --n=64
           python -m experiments.sweep --config=configs/cgan.py --workdir=runs/cgan_seeds  (get_sweep:
           the same run over `seeds=N` seeds, default 10; docs/improved_gan.md's table)
Arguments: the data -- `digits` (default; DCGAN at 16x16, 3,000 steps), `mnist` (tfds, 32x32),
           `ring`, `grid` (the MLP GAN; the label is the mode) -- and how D conditions:
           `concat` (default: one-hot label maps at its input) or `projection` (Miyato & Koyama
           2018); `cbn` gives the DCGAN G conditional BatchNorm instead of a label embedding
           concatenated with z. `smoke` shrinks the run.
Metrics:   `conditional` -- the project's classifier (nearest mode for mixtures) on samples of each
           class: does G honour the label? -- and the per-class FD, every 1,000 steps.
CPU time:  digits ~2.5 minutes; ring/grid ~2.5 minutes.
Expected:  digits: samples/step_0003000.png has one class per column (0-9), all recognisable;
           eval_3000.json: the classifier assigns 99.6% of G's samples the class G was asked for,
           FD-CNN-digits16 34.6 against the 359 held-out digits (seed 0; the seeds'
           spread: the sweep's table in docs/improved_gan.md).
"""

import ml_collections

from configs import dcgan, gan_mlp
from gan_jax.config import arguments
from gan_jax.errors import ConfigError

DATASETS = ("digits", "mnist", "ring", "grid")
D_CONDITIONS = ("concat", "projection")


parse_args = arguments(
    "cgan.py", dataset=DATASETS, d_condition=D_CONDITIONS, cbn=False, smoke=False, seeds=10
)


def get_config(arg: str = "digits") -> ml_collections.ConfigDict:
    args = parse_args(arg)
    if args.dataset in ("ring", "grid"):
        if args.cbn:
            raise ConfigError("cgan.py: cbn (conditional BatchNorm) applies to the DCGAN generator only.")
        config = gan_mlp.build(args.dataset, smoke=args.smoke)
        config.eval.metrics = "modes,conditional"
    else:
        config = dcgan.build(args.dataset, smoke=args.smoke)
        if config.eval.metrics:
            config.eval.metrics += ",conditional"
        config.model.g.condition = "conditional_bn" if args.cbn else "concat"
    config.model.conditional = True
    config.model.d.condition = args.d_condition
    config.log.num_samples = 100 if config.data.name not in gan_mlp.DATASETS else config.log.num_samples
    return config


def get_sweep(arg: str = "digits") -> list[dict]:
    """The run over seeds 0 to seeds-1: what the label buys, with its spread."""
    return [{"_name": "cGAN", "seed": seed} for seed in range(parse_args(arg).seeds)]
