r"""PacGAN's 2-D experiments (Lin et al. 2018, Table 1) as its authors' code runs them
(fjxmlzn/PacGAN, synthetic_data_experiments/2DRing_GAN&PacGAN and 2DGrid_GAN&PacGAN).

Command:   python -m experiments.sweep --config=configs/pacgan.py:ring,cpu --workdir=runs/pacgan/ring_cpu
           python -m experiments.report --workdir=runs/pacgan/ring_cpu
           full length (400,000 steps a run; accelerator territory): drop `,cpu`.
           One run: python -m experiments.run --config=configs/pacgan.py:ring,pack=2 --workdir=runs/pac2
Arguments: `ring` or `grid`; `pack=m` (a single run's packing, default 1); `one_g_batch` (G run
           once on all 100 m samples of a step, as this config did before 2026-12-03: the
           ablation of their per-slot G); `ablation` (the sweep of that ablation's cells alone,
           GAN, PacGAN4 and `PacGAN4, one G batch`: for a schedule longer than the table's, e.g.
           `grid,steps=40000,ablation`); `fixed_packs` (D's packs formed once and walked an
           epoch at a time, as their code: below); `packs_ablation` (the sweep of PacGAN4 with
           fixed packs alone, `PacGAN4, fixed packs`: its counterpart with packs drawn afresh is
           `ablation`'s PacGAN4, and experiments.report --join puts both sweeps' runs in one
           report: docs/mode_collapse.md); `cpu` (the shortened
           schedule below); `steps=N` (a schedule of N steps, between the two: for an
           accelerator's lease too short for 400,000); `smoke`; `seeds=N` for the sweep (default
           10, as the paper's 10 trials).
Protocol, read from the authors' code:
  * G: z in R^2 ~ N(0, I); 4 hidden layers of 400 ReLU units, each Linear without bias followed by
    BatchNorm (running averages updated by 0.05 of each batch, epsilon 1e-4: Blocks' defaults as
    their code sets them), then ReLU; a linear output with bias.
  * D: 3 LinearMaxout layers of 200 units with 5 pieces, then a linear output; packing
    concatenates m samples, so D's input is 2m wide.
  * Every weight from N(0, 0.02^2), every bias 0 (IsotropicGaussian(0.02), Constant(0)).
  * Adam lr 1e-4, beta1 0.8 for both; D's loss softplus(-D(x)) + softplus(D(G(z))), G's the
    non-saturating softplus(-D(G(z))).
  * D and G take simultaneous gradient steps (their ali_algorithm: both gradients at the same
    parameters, then both updates) on one batch of G's samples (one z batch a step):
    train.simultaneous=True, train.reuse_fake=True.
  * G runs once per pack slot (their G_sep): slot k's 100 samples, the k-th members of the step's
    100 packs, are normalised by their own BatchNorm statistics; the running averages move by the
    mean of the slots' statistics (their merge of the slots' updates): model.g.norm_slots = m.
  * Batch: 100 packs of real and 100 packs of generated samples a step (batch_size = 100 m here).
  * Data: a training set of 100,000 points drawn from the mixture for each trial (here from
    data.seed = the run's seed); 400 epochs of 1,000 steps = 400,000 steps.
  * Evaluation: 2,500 samples of G in inference mode (BatchNorm's running averages) after
    training, from one fixed z shared by every trial (theirs drawn once with seed 2333; here
    from config.eval.seed, gan_jax/evaluation/bank.py); a sample is high quality within 3
    standard deviations of its nearest mode; a mode is captured by >= 1 high-quality sample;
    reverse KL of the high-quality histogram from uniform (gan_jax/metrics/mixtures.py). 10
    trials per cell.
Differences (each written down, none tuned):
  * Their real packs are formed once: 100,000 packs, slot k of each from its own bootstrap
    resample of the 100,000 points (GaussianPackingMixture), shuffled every epoch and walked 100
    a batch; here every batch draws its 100 m points uniformly with replacement from the 100,000
    and D packs consecutive ones -- the same number of steps and of packs per step, and each pack
    m independent uniform draws from the set as theirs, but a pack is never seen twice. With
    `fixed_packs` (data.fixed_packs) the packs are theirs -- formed once from data.seed, every
    pack once an epoch in an order of the epoch's own (a keyed pseudo-random permutation,
    gan_jax/data/source.py epoch_order, for their uniform shuffle). Not yet the default: every
    table in docs/mode_collapse.md but its ablation (`packs_ablation`: PacGAN4 on the grid at
    40,000 steps, not distinguishable with and without it) was run without it, and it becomes
    the default with their rerun.
  * Their BatchNorm keeps running standard deviations (merged over slots as a mean of standard
    deviations); flax's keeps running variances (a mean of variances). Inference only.
  * Until 2026-12-03 this config ran G once on all 100 m samples (`one_g_batch`), drew G's loss
    from a fresh z batch and shared one training set (data.seed 0) among the seeds.
  * Their reported numbers are after the last epoch; ours too, with the `cpu` schedule the runs
    are 1/80 of theirs (see below). Ours also evaluates at 1/5, 2/5, 3/5 and 4/5 of the run and logs
    about 50 rows, for the diagnosis (gan_jax/diagnosis.py); training is the same either way.
CPU schedule (`cpu`): 5,000 steps a run (1/80 of theirs), the same in every other respect.
CPU time:  see docs/mode_collapse.md (measured runtimes of the sweeps).
Expected:  docs/mode_collapse.md, beside PacGAN's Table 1.
"""

import ml_collections

from configs import gan_mlp
from gan_jax import sweep
from gan_jax.config import arguments, evaluate_often, objective_overrides
from gan_jax.errors import ConfigError

DATASETS = ("ring", "grid")
parse_args = arguments(
    "pacgan.py",
    dataset=DATASETS,
    pack=1,
    one_g_batch=False,
    ablation=False,
    fixed_packs=False,
    packs_ablation=False,
    cpu=False,
    steps=0,
    smoke=False,
    seeds=10,
)
PACKS_PER_BATCH = 100
FULL_STEPS, CPU_STEPS = 400_000, 5_000
TRAIN_SIZE = 100_000
CALL = 100  # steps a compiled call
# Their code evaluates once, after the last epoch; the runs here evaluate 5 times and log ~50 rows
# for the diagnosis (config.evaluate_often).
ONE_G_BATCH = "PacGAN4, one G batch"  # the ablation cell: G once on all 400 samples of a step
FIXED_PACKS_CELL = "PacGAN4, fixed packs"  # packs_ablation's cell: PacGAN4 with data.fixed_packs


def get_config(arg: str = "ring") -> ml_collections.ConfigDict:
    args = parse_args(arg)
    c = gan_mlp.build(args.dataset, smoke=args.smoke)
    init = dict(weight_init="normal", weight_scale=0.02)
    c.model.g.update(norm="batch", norm_slots=1 if args.one_g_batch else args.pack, **init)
    c.model.d.update(pack=args.pack, **init)
    for player in (c.optim.g, c.optim.d):
        player.update(lr=1e-4, b1=0.8)
    c.loss.g = "non_saturating"
    c.train.update(simultaneous=True, reuse_fake=True)
    c.data.update(train_size=TRAIN_SIZE, fixed_packs=args.fixed_packs)
    c.eval.update(metrics="modes", mode_samples=2_500)
    if args.smoke:
        c.data.train_size = 2_000
        c.train.batch_size = batch(args, args.pack)
        return c
    steps = schedule(args)
    c.train.update(batch_size=batch(args, args.pack), total_steps=steps, steps_per_call=CALL)
    c.checkpoint.keep = 1
    return evaluate_often(c)


def get_sweep(arg: str = "ring") -> list[dict]:
    """GAN and PacGAN2-4 (cells 'GAN', 'PacGAN2', ...), then the GAN with the other remedies of D
    for mode collapse -- minibatch discrimination (Salimans et al. 2016; B = 50 kernels of
    dimension 5, as configs/improved_gan.py) and the minibatch standard deviation (Karras et al.
    2018; groups of 4, as theirs) -- and two of the objectives every modern ablation compares (the
    hinge loss, least squares; gan_jax/config.py OBJECTIVES, nothing else changed); after PacGAN4,
    PacGAN4 with G run once on all 400 samples of a step (the ablation of their per-slot G; with
    `ablation`, GAN, PacGAN4 and that cell alone: the share's fall with the pack size, and
    whether their per-slot G explains it; with `packs_ablation`, PacGAN4 with their fixed packs
    alone, for a report joined to `ablation`'s runs). Seeds 0 to seeds-1, each with its own training set
    (data.seed = seed, as their trials)."""
    args = parse_args(arg)
    if args.ablation and args.one_g_batch:
        raise ConfigError("pacgan.py: `ablation` compares per-slot G with `one_g_batch`; give one of them.")
    if args.packs_ablation and (args.fixed_packs or args.ablation):
        raise ConfigError(
            "pacgan.py: `packs_ablation` is PacGAN4 with data.fixed_packs; "
            "give it without `fixed_packs`, `ablation`."
        )
    packs = [pac_cell(args, m, 1 if args.one_g_batch else m) for m in (1, 2, 3, 4)]
    if not args.one_g_batch:
        packs.append({**pac_cell(args, 4, 1), "_name": ONE_G_BATCH})
    seeds = range(args.seeds)
    runs = sweep.zip_(sweep.sweep("seed", seeds), sweep.sweep("data.seed", seeds))
    if args.ablation:
        return sweep.product([p for p in packs if p["_name"] in ("GAN", "PacGAN4", ONE_G_BATCH)], runs)
    if args.packs_ablation:
        pac4 = next(p for p in packs if p["_name"] == "PacGAN4")
        return sweep.product([{**pac4, "_name": FIXED_PACKS_CELL, "data.fixed_packs": True}], runs)
    others = [
        {
            "_name": "minibatch discrimination",
            "model.d.minibatch_kernels": 50,
            "train.batch_size": batch(args, 1),
        },
        {"_name": "minibatch stddev", "model.d.minibatch_std": 4, "train.batch_size": batch(args, 1)},
    ]
    others += [
        {"_name": objective, **objective_overrides(get_config(arg), objective, False, False)}
        for objective in ("hinge", "lsgan")
    ]
    return sweep.product(packs + others, runs)


def pac_cell(args: ml_collections.ConfigDict, pack: int, slots: int) -> dict:
    """The cell of packs of `pack` samples, G's BatchNorm over `slots` slices of the batch."""
    return {
        "_name": "GAN" if pack == 1 else f"PacGAN{pack}",
        "model.d.pack": pack,
        "model.g.norm_slots": slots,
        "train.batch_size": batch(args, pack),
    }


def schedule(args: ml_collections.ConfigDict) -> int:
    """Steps a run: the paper's 400,000, the `cpu` 5,000, or `steps=N`; whatever its length a run
    logs about 50 times (at most once a call), checkpoints and evaluates 5 times."""
    if args.steps and args.cpu:
        raise ConfigError("pacgan.py: `cpu` and `steps=N` both set the schedule; give one.")
    if args.steps < 0 or args.steps % 1_000:  # log and checkpoint intervals of whole 100-step calls
        raise ConfigError(f"pacgan.py: steps={args.steps}; give a positive multiple of 1,000.")
    return args.steps or (CPU_STEPS if args.cpu else FULL_STEPS)


def batch(args: ml_collections.ConfigDict, pack: int) -> int:
    """The batch of `pack`-sample packs: 100 packs (the smoke run's 16)."""
    return (16 if args.smoke else PACKS_PER_BATCH) * pack
