r"""The unrolled GAN (Metz et al. 2017) on the 2-D mixtures, as the authors' reference notebook runs it
(poolio/unrolled_gan, "Unrolled GAN demo.ipynb").

Command:   python -m experiments.sweep --config=configs/unrolled.py:ring,cpu --workdir=runs/unrolled/ring_cpu
           python -m experiments.report --workdir=runs/unrolled/ring_cpu
           full length (25,000 steps a run): drop `,cpu`.
           One run: python -m experiments.run --config=configs/unrolled.py:ring,unroll=5 --workdir=runs/u5
Arguments: `ring` or `grid`; `unroll=k` (a single run's unrolling steps, default 5); `cpu` (the
           shortened schedule below); `smoke`; `seeds=N` for the sweep (default 10).
Protocol, read from the notebook:
  * z in R^256 ~ N(0, I); G and D: 2 hidden layers of 128 tanh units, linear outputs; weights
    orthogonal with gain 1.4, biases 0 (slim.fully_connected under orthogonal_initializer(1.4)).
  * D's loss: the cross-entropy of D(x) against 1 and D(G(z)) against 0; G minimises the
    negative of D's loss after unrolling: the saturating (minimax) G loss, real-data term included
    (the value V at the unrolled D; steps.g_objective), since E log D_k(x) depends on G through
    D's unrolled steps (dropped until 2026-12-07: docs/mode_collapse.md).
  * Adam, D lr 1e-4, G lr 1e-3, beta1 0.5, epsilon 1e-8; batch 512; 25,000 steps.
  * Unrolling: 5 steps of D's own Adam update (its moments too) from the current D, on the same
    batch and noise, differentiated through; D then takes its ordinary step. D and G step
    simultaneously (one session.run of both train ops): train.simultaneous=True.
  * Cells: unrolling 0 (the GAN) and 5.
Differences (each written down, none tuned):
  * The notebook's ring places the modes at linspace(0, 2 pi, 8): the first and last coincide,
    so it has 7 distinct modes; ours has 8 (2 pi k / 8), radius 1, std 0.01, as VEEGAN and PacGAN.
  * The notebook has no grid and no evaluation; the grid here is PacGAN's (25 modes, std 0.05)
    with the notebook's networks and schedule, and the evaluation is VEEGAN/PacGAN's (2,500
    samples, 3-standard-deviation rule; gan_jax/metrics/mixtures.py). VEEGAN's Table 1 reports
    its own unrolled-GAN runs, whose architecture it does not give in full: our unrolled rows
    stand beside it as the same method under another protocol, not a reproduction.
  * G's unrolled D steps and G's loss use G's own noise batch and a real batch of G's data
    stream; the notebook's D step shares them with G's step.
  * The notebook evaluates nothing; a run here evaluates 5 times, evenly spaced (the tables read
    the last; the diagnosis's "modes lost" needs the others), and logs ~50 rows.
CPU schedule (`cpu`): 5,000 steps a run (1/5 of the notebook's), the same in every other respect.
CPU time:  see docs/mode_collapse.md (measured runtimes of the sweeps).
Expected:  docs/mode_collapse.md, beside VEEGAN's Table 1.
"""

import ml_collections

from configs import gan_mlp
from gan_jax import models, sweep
from gan_jax.config import arguments, evaluate_often

DATASETS = ("ring", "grid")
parse_args = arguments("unrolled.py", dataset=DATASETS, unroll=5, cpu=False, smoke=False, seeds=10)
FULL_STEPS, CPU_STEPS = 25_000, 5_000


def get_config(arg: str = "ring") -> ml_collections.ConfigDict:
    args = parse_args(arg)
    c = gan_mlp.build(args.dataset, smoke=args.smoke)
    net = dict(width=128, depth=2, activation="tanh", weight_init="orthogonal", weight_scale=1.4)
    c.model = models.model_config("mlp", z_dim=256, g=net, d=net)
    c.optim.d.update(lr=1e-4, b1=0.5)
    c.optim.g.update(lr=1e-3, b1=0.5)
    c.loss.g = "saturating"
    c.train.update(unroll_steps=args.unroll, simultaneous=True)
    c.eval.update(metrics="modes", mode_samples=2_500)
    if args.smoke:
        c.model.g.width = c.model.d.width = 16
        return c
    steps = CPU_STEPS if args.cpu else FULL_STEPS
    c.train.update(batch_size=512, total_steps=steps, steps_per_call=100)
    c.checkpoint.keep = 1
    return evaluate_often(c)


def get_sweep(arg: str = "ring") -> list[dict]:
    """Unrolling 0 ('GAN') and 5 ('unrolled, 5 steps'), seeds 0 to seeds-1."""
    cells = [
        {"_name": "GAN", "train.unroll_steps": 0},
        {"_name": "unrolled, 5 steps", "train.unroll_steps": 5},
    ]
    return sweep.product(cells, sweep.sweep("seed", range(parse_args(arg).seeds)))
