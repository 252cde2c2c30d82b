r"""The diagnosis's validation corpus: runs whose failure is known by construction, so that
gan_jax/diagnosis.py's labels can be scored against the truth (docs/diagnosis.md).

Command:   python -m experiments.sweep --config=configs/diagnosis.py --workdir=runs/diagnosis
           python -m experiments.report --workdir=runs/diagnosis --out=docs/diagnosis/corpus
           one run of one cell: python -m experiments.run --config=configs/diagnosis.py \
               --config.data.train_modes=3 --workdir=runs/collapse   (the `mode collapse` cell)
           the batch-reading corpus: the same two commands with configs/diagnosis.py:batch,
               runs/diagnosis_batch and docs/diagnosis/batch; the hand-labelled real runs: with
               configs/diagnosis.py:real_ring, runs/diagnosis_real_ring and
               docs/diagnosis/real_ring (the same with real_grid); the later check of the
               modes-lost clause: real_ring,first_seed=20,seeds=5 into docs/diagnosis/fresh_ring
               (first_seed=25 and 30 likewise, into docs/diagnosis/seeds_25_29_ring and
               seeds_30_34_ring); the modes-lost runs: configs/diagnosis.py:lost into
               docs/diagnosis/lost
Arguments: `built` (default: the corpus built to fail, below), `batch` (discriminators that read
           the batch, below), `lost` (a run that loses modes it had, below), `real_ring` or
           `real_grid` (real runs labelled by hand, below);
           `smoke`; `seeds=N` for the sweep (default 10), from `first_seed=S` (default 0; 10 for
           the real runs).
Model:     the study's small MLP GAN (configs/mode_collapse.py: G 4 x 128 ReLU, D 3 x 128 ReLU,
           Adam 1e-3 beta1 0.5, batch 256, non-saturating G loss) on the ring, 4,000 steps, the
           losses logged every 20 steps (200 rows), evaluated 4 times a run (every 1,000 steps:
           2,500 samples' mode coverage and the equilibrium diagnostics), so that "modes lost"
           can fire.
Cells, named by the label each is built to deserve (the part of the name before " ("):
  divergence     least squares on both players with plain SGD at lr 0.3: gradient descent on a
                 quadratic with a step beyond 2 / curvature grows geometrically, to a non-finite
                 loss within a few steps.
  dead D         every weight of D starts at 0 (biases start at 0): each hidden unit outputs
                 relu(0) = 0 with derivative 0, and D's output bias sits where the minimax loss's
                 derivative, sigmoid(b) - sigmoid(-b), is exactly 0 -- D's gradient is 0 for good.
  D wins         the saturating G loss and a G frozen at the point 0 (all its weights 0,
                 learning rate 0; 5 D steps per G step): the ring's centre is 100 standard
                 deviations from every mode, so D separates G's samples from the data completely
                 and the saturating loss's gradient vanishes as D(G(z)) -> 0 (Goodfellow et al.
                 2014, section 3).
  mode collapse  G trains on 3 of the ring's 8 modes (data.train_modes=3) while the evaluation
                 counts all 8: it cannot capture more than 3, fewer than half.
  oscillation    the Dirac GAN (Mescheder et al. 2018, section 2): data a point mass at 0
                 (`dirac`), G(z) = a z + b with a = b = 0 at the start, a linear D(x) = psi x + c
                 with psi ~ N(0, 2^2), plain SGD at lr 0.1, simultaneous steps. Near (b, psi) = 0
                 the game's Jacobian has purely imaginary eigenvalues: G's output and D's slope
                 circle the equilibrium and never settle (measured here: a limit cycle of ~3
                 logged intervals whose logged D loss swings by ~2.3% of its value).
  converged      the same Dirac GAN with R1 (gamma 1), which makes it locally convergent
                 (Mescheder et al., Theorem 4.1); and two ring cells, R1 (gamma 0.1) and the
                 saturating loss (every run of it converged in docs/study.md's ring table). R1
                 and a loss promise no coverage, so a ring run's truth is `converged` only if its
                 last evaluation captured all 8 modes; otherwise it is unknown and left out of
                 the score (`truth`, below, says so; the report lists such runs).
`batch`: discriminators that see the whole batch, whose D(x) and D(G(z)) -- logged on batches of
one origin -- can separate while G still learns (the PacGAN grid's minibatch-discrimination runs
were once all "D wins" with G's gradient at 65-98% of its peak). Two such Ds on the ring, each
once built to be healthy and once inside the `D wins` construction above:
  converged      Karras et al.'s minibatch standard deviation (groups of 4, as configs/pacgan.py's
                 remedies) and PacGAN's packing of 2 samples (Lin et al. 2018): truth `converged`
                 only if all 8 modes are captured at the end, as above.
  D wins         the same two Ds against the frozen G at the ring's centre with the saturating
                 loss: separation and a vanished gradient, whatever the D reads.
Minibatch discrimination (the D of that audit) is left out: on the ring's batch of 256 its
(N, N, B) distances run at 2.2 steps/s here, 30 minutes a run.
`lost`: partial collapse over time, which the other cells never show (each ends where it started):
  mode collapse  the saturating loss on the ring (every run of it converged in docs/study.md's
                 ring table) while the data hold all 8 modes, then, from step 2,000 on, only the
                 first 5 (data.train_modes_from): G, following the data, loses 3 modes it had --
                 more than half are left, so only the "modes lost" clause can see it. Truth
                 `mode collapse` only if the run captured all 8 modes at step 2,000 (the last
                 evaluation before the switch); otherwise unknown.
  converged      the same runs without the switch (the corpus's `converged (ring, saturating)`
                 cell, its truth as there): the clause must stay silent on them.
`real_ring`, `real_grid`: held-out runs of the study's mode-collapse sweeps (configs/mode_collapse.py:
G loss x D steps per G step, on that data set), seeds 10 on (the study's tables ran seeds 0-9, and the
rules' thresholds were set on them and on the corpus above), each labelled by hand from its
samples at its 4 evaluations and its loss curves before its diagnosis was read (the labels and
the rule of thumb behind them: studies/diagnosis_real_labels.csv, docs/diagnosis.md). Their
settings are the study's but for two: samples plotted at every evaluation (for the labelling),
and the mode coverage drawn until 20 high-quality samples a mode on average (at most 40,000
samples; eval.mode_min_high_quality), so that the counted modes are not the high-quality count.
Evaluation: the Dirac cells have no modes to count: the equilibrium diagnostics only.
CPU time:  the 80-run sweep: 13 minutes on 2 cores (2 workers); `batch` (40 runs): 11 minutes (AMD EPYC);
           `lost` (20 runs): 7.5 minutes (the cores shared with another sweep); `real_ring` and
           `real_grid` (40 runs each): 25 minutes together; seeds 20-24 (20 runs each): 5.5 and
           4.9 minutes; seeds 25-29: 6.0 and 6.3.
Expected:  docs/diagnosis.md (the confusion matrix, each label's recall and precision).
"""

import ml_collections

from configs import gan_mlp, mode_collapse
from gan_jax import sweep
from gan_jax.config import arguments

CORPORA = ("built", "batch", "lost", "real_ring", "real_grid")
parse_args = arguments("diagnosis.py", corpus=CORPORA, smoke=False, seeds=10, first_seed=0)
STEPS, EVALUATIONS = 4_000, 4

SGD = {"optim.g.name": "sgd", "optim.d.name": "sgd", "optim.g.b1": 0.0, "optim.d.b1": 0.0}  # no momentum
LSQ = {"loss.d": "least_squares", "loss.g": "least_squares", **SGD}
G_AT_ZERO = {"model.g.weight_init": "normal", "model.g.weight_scale": 0.0}  # every weight of G 0
DIRAC = {
    **SGD,
    **G_AT_ZERO,
    "data.name": "dirac",
    "eval.metrics": "equilibrium",
    "model.g.depth": 0,
    "model.d.depth": 0,
    "model.d.weight_init": "normal",
    "model.d.weight_scale": 2.0,
    "optim.g.lr": 0.1,
    "optim.d.lr": 0.1,
    "train.simultaneous": True,
}
CELLS = {
    "divergence": {**LSQ, "optim.g.lr": 0.3, "optim.d.lr": 0.3},
    "dead D": {"model.d.weight_init": "normal", "model.d.weight_scale": 0.0},
    "D wins": {**G_AT_ZERO, "loss.g": "saturating", "optim.g.lr": 0.0, "train.d_steps": 5},
    "mode collapse": {"data.train_modes": 3},
    "oscillation": DIRAC,
    "converged (Dirac, R1)": {**DIRAC, "reg.r1": 1.0},
    "converged (ring, R1)": {"reg.r1": 0.1},
    "converged (ring, saturating)": {"loss.g": "saturating"},
}
MBSTD, PACK = {"model.d.minibatch_std": 4}, {"model.d.pack": 2}
BATCH_CELLS = {
    "converged (ring, minibatch stddev)": MBSTD,
    "converged (ring, packing 2)": PACK,
    "D wins (minibatch stddev)": {**CELLS["D wins"], **MBSTD},
    "D wins (packing 2)": {**CELLS["D wins"], **PACK},
}
SWITCH = STEPS // 2  # `lost`: the data keeps the first 5 of the 8 modes from this step on
LOST_CELLS = {
    "mode collapse (modes lost)": {
        "loss.g": "saturating",
        "data.train_modes": 5,
        "data.train_modes_from": SWITCH,
    },
    "converged (ring, saturating)": CELLS["converged (ring, saturating)"],
}
# The label each built cell is built to have: its name up to " (".
BUILT = {name: name.split(" (")[0] for name in [*CELLS, *BATCH_CELLS, *LOST_CELLS]}
REAL_FIRST_SEED = 10  # `real_*` starts here unless first_seed says otherwise: the study ran seeds 0-9


def get_config(arg: str = "") -> ml_collections.ConfigDict:
    args = parse_args(arg)
    if dataset := real_dataset(args.corpus):
        return real_runs(dataset, args.smoke)
    config = gan_mlp.build("ring", smoke=args.smoke)
    if not args.smoke:
        mode_collapse.small_gan(config, total_steps=STEPS)
    steps = config.train.total_steps
    config.train.steps_per_call = min(config.train.steps_per_call, 20)
    config.log.every = 20 if not args.smoke else 10
    config.eval.update(every=steps // EVALUATIONS, metrics="modes,equilibrium")
    config.checkpoint.update(every=steps // EVALUATIONS)
    return config


def real_dataset(corpus: str) -> str:
    """The data set of a `real_*` corpus ('' for the built ones)."""
    return corpus.removeprefix("real_") if corpus.startswith("real_") else ""


def real_runs(dataset: str, smoke: bool) -> ml_collections.ConfigDict:
    """The study's mode-collapse run on `dataset` (configs/mode_collapse.py), its samples plotted
    at every evaluation and its mode coverage drawn until 20 high-quality samples a mode (module
    docstring)."""
    config = mode_collapse.build(dataset, smoke)
    config.log.sample_every = config.eval.every
    config.eval.mode_min_high_quality = 20
    return config


def get_sweep(arg: str = "") -> list[dict]:
    args = parse_args(arg)
    if dataset := real_dataset(args.corpus):  # in the cells' names: one labels file for both
        cells = [{**cell, "_name": f"{dataset}: {cell['_name']}"} for cell in mode_collapse.cells()]
        first = args.first_seed or REAL_FIRST_SEED
    else:
        chosen = {"batch": BATCH_CELLS, "lost": LOST_CELLS}.get(args.corpus, CELLS)
        cells, first = [{"_name": name, **overrides} for name, overrides in chosen.items()], args.first_seed
    return sweep.product(cells, sweep.sweep("seed", range(first, first + args.seeds)))
