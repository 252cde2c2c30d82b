r"""The limited-data study: which augmentation or regulariser keeps a GAN working when it has few
training images, and which makes it copy them?

Command:   python -m experiments.sweep --config=configs/limited_data.py:digits --workdir=runs/limited/digits
           python -m experiments.report --workdir=runs/limited/digits --out=docs/limited_data/digits
           one run of one cell:
           python -m experiments.run --config=configs/limited_data.py:digits,cell=lecam --workdir=runs/lecam
Arguments: `digits` (the 1,438 training digits, all of them) or `fashion_mnist` (the first
           `train_size` of its 60,000 training images, default 1,000, from the IDX files in
           ../shared/data/fashion_mnist; `tfds`: through tensorflow-datasets, network needed once);
           `cell=` one of the cells below: a run of it (default `none`), or a sweep of its seeds
           alone (default every cell); `bcr=W`: bCR's weight, real and fake alike (default 10, the
           paper's; any other names the cell `bcr (lambda W)`); `bcr_flip=false`: bCR's T without
           its x-flip, the shift alone (the cell `bcr (no flip)`); `bcr_shift=R`: T's shift by up to
           R of the side (default 0.125, the paper's; `bcr_shift=0.0625`: 1 of the digits' 16
           pixels, the cell `bcr (shift 0.0625)`); `steps=N` (default 1,000 G steps, each with 5 D
           steps); `smoke`; `seeds=N` for the sweep (default 10).
Cells:     none, diffaugment (color,translation,cutout), ada (adaptive p, target 0.6), bcr (lambda 10
           real and fake), lecam (lambda 0.3), diffaugment + lecam -- each on configs/sngan.py's
           model and protocol (ResNet, hinge, 5 D steps, Adam 2e-4 betas (0, 0.9), batch 64, linear
           decay), shortened from Mimicry's 100,000 steps and narrowed to 32 channels (configs/sngan.py)
           for this CPU. The metrics compare with the held-out split
           (digits: the last 359; Fashion-MNIST: its test split), recall included, and the report
           carries the held-out data and a memoriser as reference rows (small data invites copying).
Published: none comparable: the papers measure Inception FID on CIFAR-10 / FFHQ subsets (DiffAugment
           Table 2: BigGAN on 10% / 20% of CIFAR-10; LeCam Table 2; ADA Fig. 7). The comparable runs
           for users with those data and weights are configs/sngan.py:cifar10,train_size=5000 with
           diffaugment / ada / lecam and --config.eval.inception_weights=auto.
CPU time:  a digits run of 1,000 steps ~5.5 minutes alone on 2 cores; the 60-run sweep of ten
           seeds ~5 hours with two workers (9.8 worker-hours, bCR's runs ~2x the others'; AMD EPYC).
           Fashion-MNIST at 32 px: ~3 s a G step with a sweep's two workers sharing the cores
           (AMD EPYC), ~1 hour a run: its sweeps are for an accelerator.
Expected:  docs/limited_data.md (the digits table, its records and its statistics).
"""

import ml_collections

from configs import sngan
from gan_jax import regularizers, sweep
from gan_jax.config import apply_overrides, arguments

CELLS = {
    "none": {},
    "diffaugment": sngan.AUGMENTATIONS["diffaugment"],
    "ada": sngan.AUGMENTATIONS["ada"],
    "bcr": sngan.REGULARISERS["bcr"],  # lambda 10 (the `bcr=` argument sets another)
    "lecam": sngan.REGULARISERS["lecam"],
    "diffaugment + lecam": {**sngan.AUGMENTATIONS["diffaugment"], **sngan.REGULARISERS["lecam"]},
}
OFFLINE_FASHION_MNIST = "idx:../shared/data/fashion_mnist"
parse_args = arguments(
    "limited_data.py",
    dataset=("digits", "fashion_mnist"),
    cell=("every", *CELLS),
    bcr=sngan.REGULARISERS["bcr"]["reg.bcr_real"],
    bcr_flip=True,
    bcr_shift=regularizers.Regularization.bcr_shift,
    train_size=0,
    steps=1_000,
    tfds=False,
    smoke=False,
    seeds=10,
)


def base_config(
    dataset: str, train_size: int, steps: int, tfds: bool, smoke: bool
) -> ml_collections.ConfigDict:
    """configs/sngan.py's model and protocol, shortened to `steps` G steps (the learning rates
    still decay to 0 over the run); Fashion-MNIST from this project's offline files unless `tfds`
    (the same splits: a sweep takes no --config.data.name)."""
    if dataset == "fashion_mnist":
        train_size = train_size or 1_000
    config = sngan.build(dataset, train_size=train_size, smoke=smoke)
    if dataset == "fashion_mnist" and not tfds:
        config.data.name = OFFLINE_FASHION_MNIST
    if smoke:
        return config
    d_steps = config.train.d_steps
    config.train.total_steps = steps
    config.optim.g.decay_steps, config.optim.d.decay_steps = steps, steps * d_steps
    config.checkpoint.every = steps
    config.eval.every = steps // 2
    return config


def cells(args: ml_collections.ConfigDict) -> dict[str, tuple[str, dict]]:
    """Each cell's name in a report and its overrides, bCR's at the parsed argument's weight `bcr`,
    with or without its flip and with its shift: a setting other than the paper's names its cell
    after it."""
    found = {name: (name, overrides) for name, overrides in CELLS.items()}
    paper = sngan.REGULARISERS["bcr"]["reg.bcr_real"]
    details = (
        ([] if args.bcr == paper else [f"lambda {args.bcr:g}"])
        + ([] if args.bcr_flip else ["no flip"])
        + ([] if args.bcr_shift == regularizers.Regularization.bcr_shift else [f"shift {args.bcr_shift:g}"])
    )
    if details:
        overrides = {
            "reg.bcr_real": args.bcr,
            "reg.bcr_fake": args.bcr,
            "reg.bcr_flip": args.bcr_flip,
            "reg.bcr_shift": args.bcr_shift,
        }
        found["bcr"] = (f"bcr ({', '.join(details)})", overrides)
    return found


def get_config(arg: str = "digits") -> ml_collections.ConfigDict:
    args = parse_args(arg)
    config = base_config(args.dataset, args.train_size, args.steps, args.tfds, args.smoke)
    _, overrides = cells(args)["none" if args.cell == "every" else args.cell]
    return apply_overrides(config, overrides)


def get_sweep(arg: str = "digits") -> list[dict]:
    """Every cell (`cell=`'s alone where named), seeds 0 to seeds - 1, as overrides of
    get_config(<data set>)."""
    args = parse_args(arg)
    grid = [
        {"_name": name, **overrides}
        for cell, (name, overrides) in cells(args).items()
        if args.cell in ("every", cell)
    ]
    return sweep.product(grid, sweep.sweep("seed", range(args.seeds)))
