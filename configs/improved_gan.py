r"""The Improved-GAN techniques of Salimans et al. 2016, each alone and all together: the ablation.

Command:   python -m experiments.run --config=configs/improved_gan.py:grid,feature_matching \
               --workdir=runs/improved/grid/feature_matching
Arguments: the data and model -- `grid` (the vanilla GAN of configs/gan_mlp.py on the 25-mode grid,
           5,000 steps, evaluated 5 times for the diagnosis) or `digits` (the DCGAN of
           configs/dcgan.py on digits, 1,500 steps) -- and one technique: `baseline`,
           `feature_matching`, `minibatch`, `virtual_batch_norm` (DCGAN's G only), `historical`,
           `label_smoothing`, or `all` (every one that applies);
           `smoke` shrinks the run to seconds; `seeds=N` for the sweep (default 5);
           `digits,d_norm_probe`: the sweep of the baseline and minibatch discrimination without
           D's BatchNorm, and the latter with 3 G updates per D update or input noise
           (docs/improved_gan.md, "Why minibatch discrimination fails").
Sweep:     python -m experiments.sweep --config=configs/improved_gan.py:grid --workdir=runs/improved/grid
           runs every technique with seeds 0-4 (get_sweep); experiments.report makes the table.
Settings:  feature matching on D's last hidden layer; minibatch discrimination with B = 50 kernels
           of C = 5 dimensions; historical averaging with weight 0.01 for both players; one-sided
           label smoothing to 0.9; virtual batch norm with a 64-example reference batch.
CPU time:  grid ~1 minute a run (~80 steps/s); digits ~2 minutes a run (minibatch discrimination
           ~2.5x slower); the digits sweep took 68 min on 2 cores (partly shared with other work).
Expected:  see docs/improved_gan.md for the table (mode coverage on the grid, FD-CNN-digits16 on
           digits) and the command that regenerates it.
"""

import ml_collections

from configs import dcgan, gan_mlp
from gan_jax.config import apply_overrides, arguments, evaluate_often
from gan_jax.errors import ConfigError

TECHNIQUES = {
    "baseline": {},
    "feature_matching": {"loss.g": "feature_matching"},
    "minibatch": {"model.d.minibatch_kernels": 50},
    "virtual_batch_norm": {"model.g.norm": "virtual_batch"},
    "historical": {"loss.g_historical": 0.01, "loss.d_historical": 0.01},
    "label_smoothing": {"loss.real_label": 0.9},
}
DATASETS = ("grid", "digits")
parse_args = arguments(
    "improved_gan.py",
    dataset=DATASETS,
    technique=(*TECHNIQUES, "all"),
    smoke=False,
    seeds=5,
    d_norm_probe=False,
)


def applicable(dataset: str) -> list[str]:
    """Virtual batch norm replaces G's BatchNorm, which only the DCGAN has."""
    return [t for t in TECHNIQUES if dataset == "digits" or t != "virtual_batch_norm"] + ["all"]


def overrides(dataset: str, technique: str) -> dict:
    if technique == "all":
        merged = {}
        for name in applicable(dataset)[:-1]:
            merged.update(TECHNIQUES[name])
        return merged
    return TECHNIQUES[technique]


def get_config(arg: str = "grid,baseline") -> ml_collections.ConfigDict:
    args = parse_args(arg)
    return build(args.dataset, args.technique, args.smoke)


def build(
    dataset: str = "grid", technique: str = "baseline", smoke: bool = False
) -> ml_collections.ConfigDict:
    """`technique` on `dataset`'s baseline, for other configs to build on."""
    if technique not in applicable(dataset):
        raise ConfigError(
            f"improved_gan.py: {technique} does not apply to {dataset}; use one of {applicable(dataset)}."
        )
    if dataset == "grid":
        config = gan_mlp.build("grid", smoke=smoke)
        if not smoke:
            config.train.total_steps = 5_000
            evaluate_often(config)
    else:
        config = dcgan.build("digits", smoke=smoke)
        if not smoke:
            config.train.total_steps = 1_500
            config.log.update(sample_every=500)
            config.checkpoint.update(every=500)
            config.eval.update(every=500)
    return apply_overrides(config, overrides(dataset, technique))


def get_sweep(arg: str = "grid") -> list[dict]:
    """Every technique that applies to the data set (the cell's `_name`), each with seeds 0-4
    (`seeds=N`: 0 to N-1), as overrides of get_config(<data set>) (its baseline)."""
    args = parse_args(arg)
    if args.d_norm_probe:
        return d_norm_probe(args)
    return [
        {"_name": technique, **overrides(args.dataset, technique), "seed": seed}
        for technique in applicable(args.dataset)
        for seed in range(args.seeds)
    ]


def d_norm_probe(args: ml_collections.ConfigDict) -> list[dict]:
    """Why minibatch discrimination fails on the DCGAN (`digits,d_norm_probe`): the baseline and
    minibatch discrimination without D's BatchNorm (as the code released with the paper, whose D
    has weight normalisation and no BatchNorm); the same two with it are the ablation's own
    `baseline` and `minibatch` cells. Then minibatch discrimination with three of the restraints
    on D in that code (train_cifar_minibatch_discrimination.py), one at a time: three G updates per
    D update; Gaussian noise of std 0.2 on D's input; dropout 0.5 after D's down-sampling blocks --
    the last two on the baseline too, the control that says whether a restraint helps minibatch
    discrimination or any D."""
    if args.dataset != "digits":
        raise ConfigError("improved_gan.py: d_norm_probe is a DCGAN probe; use digits,d_norm_probe.")
    cells = [
        {"_name": f"{technique}, D norm none", **TECHNIQUES[technique], "model.d.norm": "none"}
        for technique in ("baseline", "minibatch")
    ]
    cells.append({**cells[1], "_name": "minibatch, D norm none, 3 G steps", "train.g_steps": 3})
    for restraint, key, value in (
        ("input noise 0.2", "model.d.input_noise_std", 0.2),
        ("dropout 0.5", "model.d.dropout", 0.5),
    ):
        for cell in (cells[1], cells[0]):  # minibatch discrimination, then the baseline (the control)
            cells.append({**cell, "_name": f"{cell['_name']}, {restraint}", key: value})
    return [{**cell, "seed": seed} for cell in cells for seed in range(args.seeds)]
