r"""Conditional GAN (Mirza & Osindero 2014): G and D see the class label, G models P(x | y).

Command:   python -m experiments.run --config=configs/cgan.py --workdir=runs/cgan
           python -m experiments.sample --workdir=runs/cgan --label=3 --n=64
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
           FD-CNN-digits16 34.6 against the 359 held-out digits (docs/improved_gan.md).
"""

import ml_collections

from configs import dcgan, gan_mlp

DATASETS = ("digits", "mnist", "ring", "grid")
OPTIONS = ("concat", "projection", "cbn", "smoke")


def get_config(arg: str = "digits") -> ml_collections.ConfigDict:
    options = [a for a in arg.split(",") if a]
    unknown = set(options) - set(DATASETS) - set(OPTIONS)
    if unknown:
        raise ValueError(
            f"Unknown cgan.py argument(s) {sorted(unknown)}; use one of {DATASETS} and {OPTIONS}."
        )
    dataset = next((a for a in options if a in DATASETS), "digits")
    smoke = ",smoke" if "smoke" in options else ""
    if dataset in ("ring", "grid"):
        config = gan_mlp.get_config(dataset + smoke)
        config.eval.metrics = "modes,conditional"
        if "cbn" in options:
            raise ValueError("cbn (conditional BatchNorm) applies to the DCGAN generator only.")
    else:
        config = dcgan.get_config(dataset + smoke)
        if config.eval.metrics:
            config.eval.metrics += ",conditional"
        config.model.g_condition = "conditional_bn" if "cbn" in options else "concat"
    config.model.conditional = True
    config.model.d_condition = "projection" if "projection" in options else "concat"
    config.log.num_samples = 100 if config.data.name not in gan_mlp.DATASETS else config.log.num_samples
    return config
