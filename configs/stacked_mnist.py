r"""Stacked MNIST as VEEGAN and PacGAN count its modes: DCGAN and PacDCGAN2-4 in PacGAN's Table 2
(VEEGAN's setting) and Table 3 (Metz et al.'s, D 1/4 or 1/2 of G), read from PacGAN's code
(fjxmlzn/PacGAN, stacked_MNIST_experiments/VEEGAN_experiment and unrolled_GAN_experiment/D=0.25G,
D=0.5G: config.py, model.py, pacgan_task.py).

Command:   python -m experiments.sweep --config=configs/stacked_mnist.py:cpu --workdir=runs/stacked/cpu
           python -m experiments.report --workdir=runs/stacked/cpu
           full length (100,000 steps a run): drop `cpu`. One run:
           python -m experiments.run --config=configs/stacked_mnist.py:pack=2 --workdir=runs/pacdcgan2
Arguments: the setting -- `veegan` (default: Table 2), `quarter` or `half` (Table 3, D 1/4 or 1/2
           of G); `pack=m` (a single run's packing, default 1: the DCGAN); `cpu` (the shortened
           schedule below) or `steps=N`; `tfds` (MNIST's 60,000 training images through tensorflow-datasets,
           network needed once, instead of this project's offline 10,000); `smoke`; `seeds=N`
           for the sweep (default 10) and `first_seed=k` (seeds k to k+N-1, default 0);
           `max_pack=m` (the sweep's cells DCGAN to PacDCGANm, default 4; 0: none) and
           `min_pack=m` (from PacDCGANm instead, default 1); `unrolled=K` (the sweep gains Metz et
           al.'s unrolled GAN with K unrolled D steps after DCGAN: the rows PacGAN's Table 3 quotes
           have K = 10); `unrolled_loss=saturating` (that cell's G minimises D's own loss after
           unrolling, as Metz et al.'s reference notebook does, instead of the non-saturating loss
           of the other cells); `unrolled_updates=simultaneous` (that cell's D and G step
           simultaneously, G against D as it was before the step's D update, as the notebook
           does, instead of sequentially); `unrolled_grad=held_fixed` (that cell's G plays against
           the unrolled D held fixed, without Metz et al.'s gradient through D's steps:
           train.unroll_through_d). A table longer than one sitting runs as sweeps of some
           of its cells or seeds whose reports are joined (experiments.report --join), e.g. the
           unrolled GAN alone in two halves: `quarter,cpu,max_pack=0,unrolled=10,seeds=5` and the
           same with `first_seed=5`.
Protocol, read from their code:
  * Data: three MNIST digits drawn independently as the three channels of a 28x28 image; 1,000
    modes (gan_jax/data/stacked.py).
  * Networks: carpedm20/DCGAN-tensorflow's at 28 px (models/dcgan_tf.py): G z -> 2x2x512 -> 4x4x256
    -> 7x7x128 -> 14x14x64 -> 28x28x3, D the mirror image, 5x5 kernels, BatchNorm as theirs.
    PacDCGANm: D reads m images stacked along the channels (3 m of them) and G runs once per
    pack slot, each slot's BatchNorm over its own 64 samples (model.g.norm_slots = m).
  * Adam 2e-4, beta1 0.5, both players; batch 64 (packs); z ~ U(-1, 1)^100 (model.z_dist);
    non-saturating G loss.
  * Each iteration: one D update, then two G updates ("to make sure that d_loss does not go to
    zero (different from paper)"), all three on one z batch (train.same_noise), G against the
    updated D; the first G update on the samples D's update judged (train.reuse_fake: the same
    update, one G forward pass fewer).
  * 50 epochs of 128,000 images at batch 64: 100,000 iterations.
  * Evaluation: 26,000 samples of G in inference mode (BatchNorm's running averages) on one
    fixed z; each channel classified by an MNIST classifier; modes = distinct digit triples,
    KL(p_modes || U(1000)) (gan_jax/evaluation/features.py stacked_modes). The table reads the
    last epoch's; the runs here evaluate 5 times, evenly spaced (for the diagnosis).
  * Cells: DCGAN (pack 1), PacDCGAN2, PacDCGAN3, PacDCGAN4; 10 trials. `unrolled=K` adds the
    unrolled GAN (DCGAN's networks, G's loss against D after K more of its steps; G's forward
    pass then runs again for G's update, train.reuse_fake off). Its G loss is the other cells'
    non-saturating one; Metz et al.'s Stacked MNIST code is not public, and their one public
    program (poolio/unrolled_gan, the 2-D notebook; configs/unrolled.py) has G minimise minus D's
    loss after unrolling -- the saturating loss, the objective f_K their paper differentiates --
    and steps D and G simultaneously. `unrolled_loss=saturating` runs the cell with that loss and
    `unrolled_updates=simultaneous` with those updates; both together, the notebook's step
    (docs/mode_collapse.md: the ablation).
Table 3 (`quarter`, `half`), where it differs from the above: G z ~ N(0, I) in R^256 -> 4x4x64 ->
  7x7x32 -> 14x14x16 -> 28x28x8 -> a 3x3 stride-1 convolution to the image; D three 3x3 stride-2
  convolutions of 2, 4, 8 (`half`: 4, 8, 16) channels, BatchNorm after each, LeakyReLU 0.3; Adam
  D 2e-4, G 1e-4, betas (0.5, 0.99); batch 128 fresh triples (their code too); one D and one G
  update an iteration on one z batch (G's forward pass run once for both); 500,000 iterations;
  25,600 samples; 50 trials (the sweep's `seeds=50`).
Differences (each written down, none tuned):
  * Data: their 128,000 training images are fixed triples drawn once from MNIST's 70,000 train
    and test images, walked in order every epoch (and PacDCGAN's packs fixed m-tuples of them);
    here each channel draws from the digits in its own random epochs, triples and packs fresh
    every batch, from the first 8,000 images of the MNIST test split (the only MNIST on this
    project's machines; `tfds`: the 60,000 of the training split). The last 2,000 (`tfds`: the
    test split) are stacked for the real-data reference row of the evaluation.
  * Pixel range: their real images are in [0, 1] while G's tanh spans [-1, 1]; here both are in
    [-1, 1].
  * The mode classifier: theirs is Keras's mnist_cnn trained on MNIST's training images;
    `classifiers/mnist28` here, the project's CNN trained on the first 8,000 images of the MNIST
    test split (99.2% on the last 2,000, its info.json). Offline, G trains on the digits the
    classifier was trained on; the real-data reference row's 2,000 it never saw.
  * Running averages of BatchNorm with per-slot statistics move by the mean of the slots'
    (theirs update once per slot, in turn).
CPU schedule (`cpu`): 2,000 iterations a run (one of their 50 epochs); Table 3: 5,000 (1% of
their 500,000), chosen from the times below so that a table of 10 seeds is hours, not days, of
this CPU; the same in every other respect.
CPU time:  0.69 s an iteration at batch 64 (one D and two G updates of these 4.5M- and
           4.3M-parameter networks) on an idle 2-core AMD EPYC: ~23 minutes a `cpu` run, ~19 hours
           a full one. Table 3's small networks as a sweep's worker runs them (one thread, the
           other core busy; AMD EPYC): 0.056 s an iteration for DCGAN, 0.109 / 0.171 / 0.229 s
           for PacDCGAN2 / 3 / 4, and ~45 s an evaluation (25,600 samples, each channel
           classified): ~9 minutes a DCGAN `cpu` run to ~24 a PacDCGAN4 one, ~5.5 hours of two
           workers for a table of four cells and 10 seeds (`max_pack=2`: ~2 hours); at full
           length ~8 hours a DCGAN run. The unrolled GAN's iteration (K = 10, Table 3) is ~5.6
           times DCGAN's (0.90 s against 0.161, the cores shared with a 2-worker sweep, EPYC, 2
           interleaved rounds); before its G samples were made once for all unrolled steps
           (2026-12-06) it took twice as long. In a sweep's worker a `quarter,cpu` run took
           38-58 minutes (~0.4-0.7 s an iteration, ~11 times DCGAN's there; tests on the cores), a
           `half,cpu` one ~57 (Intel Xeon, idle).
           Full-length tables need an accelerator (docs/mode_collapse.md).
Expected:  docs/mode_collapse.md, beside PacGAN's Tables 2 and 3.
"""

import ml_collections

from gan_jax import models, sweep
from gan_jax.config import arguments, base_config, evaluate_often
from gan_jax.errors import ConfigError

SETTINGS = {
    # PacGAN's Table 2, VEEGAN's setting (VEEGAN_experiment): 50 epochs of 128,000 images at batch
    # 64; `cpu`: one epoch
    "veegan": dict(
        batch=64, steps=100_000, cpu_steps=2_000, z_dim=100, z_dist="uniform", g={}, d={},
        g_lr=2e-4, d_lr=2e-4, b2=0.999, g_steps=2, samples=26_000,
    ),
    # PacGAN's Table 3, Metz et al.'s setting (unrolled_GAN_experiment/D=0.25G): 500,000 iterations
    # of fresh batches of 128; `cpu`: 1% of them, chosen from the measured iteration (docstring)
    "quarter": dict(
        batch=128, steps=500_000, cpu_steps=5_000, z_dim=256, z_dist="normal",
        g=dict(width=8, kernel=3, layers=3, output="conv"),
        d=dict(width=2, kernel=3, layers=3, leak=0.3, norm_first=True),
        g_lr=1e-4, d_lr=2e-4, b2=0.99, g_steps=1, samples=25_600,
    ),
}  # fmt: skip
SETTINGS["half"] = {**SETTINGS["quarter"], "d": {**SETTINGS["quarter"]["d"], "width": 4}}  # D=0.5G
parse_args = arguments(
    "stacked_mnist.py",
    setting=tuple(SETTINGS),
    pack=1,
    cpu=False,
    steps=0,
    tfds=False,
    smoke=False,
    seeds=10,
    first_seed=0,
    min_pack=1,
    max_pack=4,
    unrolled=0,
    unrolled_loss=("non_saturating", "saturating"),
    unrolled_updates=("sequential", "simultaneous"),
    unrolled_grad=("through_d", "held_fixed"),
)
CALL = 10  # steps a compiled call
# (data.name, the digits stacked for training, the held-out digits of the real-data reference row)
DATA = {
    False: ("stacked:idx:../shared/data/mnist", "test[:8000]", "test[8000:]"),
    True: ("stacked:tfds:mnist", "train", "test"),
}


def get_config(arg: str = "") -> ml_collections.ConfigDict:
    args = parse_args(arg)
    s = SETTINGS[args.setting]
    c = base_config()
    name, split, heldout = DATA[args.tfds]
    c.data.update(name=name, split=split, eval_split=heldout, image_size=28)
    g, d = {**s["g"], "norm_slots": args.pack}, {**s["d"], "pack": args.pack}
    c.model = models.model_config("dcgan_tf", z_dim=s["z_dim"], g=g, d=d)
    c.model.z_dist = s["z_dist"]
    c.optim.g.update(lr=s["g_lr"], b1=0.5, b2=s["b2"])
    c.optim.d.update(lr=s["d_lr"], b1=0.5, b2=s["b2"])
    c.loss.g = "non_saturating"
    # G's first update on the samples D's update judged: the same step, one G forward pass fewer
    c.train.update(g_steps=s["g_steps"], same_noise=True, reuse_fake=True)
    c.eval.update(metrics="stacked_modes", classifier="classifiers/mnist28", stacked_samples=s["samples"])
    if args.smoke:
        c.model.g.width = c.model.d.width = 4
        c.train.update(batch_size=batch(args, args.pack), total_steps=4, steps_per_call=2)
        c.log.update(every=2, sample_every=4, num_samples=16)
        c.checkpoint.update(every=2, keep=2)
        c.eval.update(every=4, stacked_samples=500)
    else:
        c.train.update(batch_size=batch(args, args.pack), total_steps=schedule(args), steps_per_call=CALL)
        c.checkpoint.keep = 1
        evaluate_often(c)
    c.lock()  # a mistyped key now fails instead of silently adding a new one
    return c


def schedule(args: ml_collections.ConfigDict) -> int:
    """Iterations a run: the setting's (100,000; 500,000), its `cpu` ones, or `steps=N` (a multiple
    of 500)."""
    if args.steps and args.cpu:
        raise ConfigError("stacked_mnist.py: `cpu` and `steps=N` both set the schedule; give one.")
    if args.steps < 0 or args.steps % 500:  # 5 evaluations and ~50 log rows at whole 10-step calls
        raise ConfigError(f"stacked_mnist.py: steps={args.steps}; give a positive multiple of 500.")
    setting = SETTINGS[args.setting]
    return args.steps or setting["cpu_steps" if args.cpu else "steps"]


def batch(args: ml_collections.ConfigDict, pack: int) -> int:
    """The setting's batch of packs of `pack` images (the smoke run's 4)."""
    return (4 if args.smoke else SETTINGS[args.setting]["batch"]) * pack


def get_sweep(arg: str = "") -> list[dict]:
    """DCGAN, the unrolled GAN if `unrolled=K`, and PacDCGAN2 to PacDCGAN`max_pack` (from
    PacDCGAN`min_pack`); seeds `first_seed` to `first_seed` + `seeds` - 1."""
    args = parse_args(arg)
    packs = sweep_packs(args)
    cells = [cell(args, "DCGAN" if m == 1 else f"PacDCGAN{m}", m) for m in packs]
    if k := args.unrolled:  # G's loss looks ahead of D's update: G's samples cannot be shared with it
        unrolled = {"train.unroll_steps": k, "train.reuse_fake": False}
        details = [f"{k} step" if k == 1 else f"{k} steps"]
        if args.unrolled_loss == "saturating":  # the loss of the authors' notebook (docstring)
            unrolled["loss.g"] = "saturating"
            details.append("saturating G loss")
        if args.unrolled_updates == "simultaneous":  # the notebook's update order
            unrolled["train.simultaneous"] = True
            details.append("simultaneous updates")
        if args.unrolled_grad == "held_fixed":  # the ablation of the gradient through D's steps
            unrolled["train.unroll_through_d"] = False
            details.append("D held fixed")
        cells.insert(int(1 in packs), cell(args, f"Unrolled GAN ({', '.join(details)})", 1, **unrolled))
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    return sweep.product(cells, sweep.sweep("seed", seeds))


def sweep_packs(args: ml_collections.ConfigDict) -> range:
    """The sweep's packs, `min_pack` to `max_pack`, once its arguments are checked to make a sweep
    (a one-line ConfigError naming the argument otherwise)."""
    packs = range(args.min_pack, args.max_pack + 1)
    none = args.max_pack == 0 and args.unrolled  # the unrolled GAN alone
    if not 1 <= args.min_pack <= 4 or not 0 <= args.max_pack <= 4 or not (packs or none):
        raise ConfigError(
            f"stacked_mnist.py: min_pack={args.min_pack}, max_pack={args.max_pack}; PacGAN's tables "
            "have packs 1 to 4: give 1 <= min_pack <= max_pack <= 4 (max_pack=0 only beside unrolled=K)."
        )
    if args.unrolled < 0:
        raise ConfigError(f"stacked_mnist.py: unrolled={args.unrolled}; K >= 1 unrolled D steps, or 0.")
    unrolled_args = (args.unrolled_loss, args.unrolled_updates, args.unrolled_grad)
    if not args.unrolled and unrolled_args != ("non_saturating", "sequential", "through_d"):
        raise ConfigError(
            "stacked_mnist.py: unrolled_loss, unrolled_updates and unrolled_grad set the unrolled cell; "
            "give unrolled=K too."
        )
    if args.first_seed < 0:
        raise ConfigError(f"stacked_mnist.py: first_seed={args.first_seed}; seeds start at 0 or later.")
    return packs


def cell(args: ml_collections.ConfigDict, name: str, pack: int, **overrides) -> dict:
    """A sweep cell of packs of `pack` images, G run once per pack slot."""
    return {
        "_name": name,
        "model.d.pack": pack,
        "model.g.norm_slots": pack,
        "train.batch_size": batch(args, pack),
        **overrides,
    }
