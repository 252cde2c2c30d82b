r"""The vanilla GAN of Goodfellow et al. 2014 on a 2-D Gaussian mixture.

MLP generator (ReLU) and MLP discriminator (maxout), the minimax value function, k D steps per G
step, the non-saturating G loss (`--config.loss.g=saturating` for the minimax one): z in R^2, G
with 4 hidden layers of 400 ReLU units (no BatchNorm), D with 3 hidden layers of 200 maxout units
(5 pieces), Adam 1e-4 (beta1 0.5) for both, batch 128, 10,000 steps at a constant learning rate.
The layer widths are those of VEEGAN's and PacGAN's 2-D experiments; the rest is not their
protocol (their G has BatchNorm, and their beta1, batch size and training schedule differ), so
its numbers do not stand beside theirs.

Command:   python -m experiments.run --config=configs/gan_mlp.py --workdir=runs/ring
Arguments: `ring` (default), `grid`, `hd1200` (VEEGAN's 1200-D, 10-mode set), `gaussian1d`;
           `smoke` shrinks any of them to a seconds-long run (e.g. --config=configs/gan_mlp.py:grid,smoke).
           The objective (gan_jax/config.py OBJECTIVES, each with its paper's settings):
           `minimax` (default), `hinge` (Lim and Ye 2017, Miyato et al. 2018), `wgan_gp`
           (Gulrajani et al. 2017: lambda 10, 5 critic steps, Adam 1e-4 betas (0, 0.9)), `lsgan`
           (Mao et al. 2017), `rsgan` (relativistic average, Jolicoeur-Martineau 2018); `r1` adds
           R1 with gamma 10 (Mescheder et al. 2018), `sn` spectral normalisation of every D layer
           (Miyato et al. 2018); e.g. `grid,hinge,sn`.
Metrics:   mode coverage every 2,500 steps (optimal-D distance for gaussian1d), in eval.jsonl and
           eval_<step>.json; `python -m experiments.evaluate --workdir=runs/ring` adds Parzen.
CPU time:  about 2.5 minutes on a 2-core CPU (10,000 steps, ~70 steps/s; arithmetic-bound).
Expected:  runs/ring/samples/step_0010000.png shows G's 2,500 samples over the 8 mode centres:
           with seed 0 all 8 are covered (eval_10000.json: 8/8 modes, 61% high-quality samples,
           reverse KL 0.067). Unlike DCGAN on digits, this game does settle near the theory's
           equilibrium: over the last 500 steps D(x) = 0.505, D(G(z)) = 0.495, V = -1.379
           (-log 4 = -1.386).
           Other seeds and settings collapse onto fewer modes; measuring how often is the job
           of the sweeps.
"""

import ml_collections

from gan_jax import models
from gan_jax.config import OBJECTIVES, apply_objective, arguments, base_config

DATASETS = ("ring", "grid", "hd1200", "gaussian1d")


parse_args = arguments(
    "gan_mlp.py", dataset=DATASETS, objective=tuple(OBJECTIVES), r1=False, sn=False, smoke=False
)


def get_config(arg: str = "ring") -> ml_collections.ConfigDict:
    return build(**parse_args(arg))


def build(
    dataset: str = "ring", objective: str = "minimax", r1: bool = False, sn: bool = False, smoke: bool = False
) -> ml_collections.ConfigDict:
    """The config of the argument `dataset[,objective][,r1][,sn][,smoke]`, for other configs to build on."""
    c = base_config()
    c.data.name = dataset
    # Every option of models/mlp.py's MLPGenerator / MLPDiscriminator is a key of model.g / model.d.
    c.model = models.model_config(
        "mlp", z_dim=2, g=dict(width=400, depth=4), d=dict(width=200, depth=3, activation="maxout")
    )
    c.optim.g.lr = c.optim.d.lr = 1e-4
    c.train.update(batch_size=128, total_steps=10_000, steps_per_call=100)
    c.log.update(every=500, sample_every=2_500, num_samples=2_500)
    c.checkpoint.update(every=2_500, keep=3)
    c.eval.update(
        every=2_500,
        metrics="optimal_d" if dataset == "gaussian1d" else "modes",
        parzen_log10_bandwidths=(-3.0, 0.0, 13),
    )  # the ring's std is 0.01

    if smoke:
        c.model.g.update(width=32, depth=2)
        c.model.d.update(width=16, depth=2)
        c.train.update(batch_size=64, total_steps=40, steps_per_call=10)
        c.log.update(every=20, sample_every=40, num_samples=256)  # samples at the end only
        c.checkpoint.update(every=20, keep=2)
        c.eval.update(every=20, parzen_samples=500, parzen_valid=100, parzen_test=500)
    apply_objective(c, objective, r1, sn)
    c.lock()  # a mistyped key now fails instead of silently adding a new one
    return c
