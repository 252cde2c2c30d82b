"""GANState: everything that changes during training, as one pytree.

Pure data (no modules, no optimiser functions), so it can be jitted, donated, sharded and
checkpointed as is. The functions that act on it live in `GAN` (below) and in `steps.py`.
Randomness: `base_key` never changes; the key of step t is fold_in(base_key, t) (see `step_key`),
so a resumed run draws exactly the numbers the uninterrupted run would have drawn. State that a
technique needs lives here too, so checkpoints and resumption keep it: the running means of
historical averaging, the reference batch of virtual batch normalisation, ADA's probability and
LeCam's anchors.
"""

import dataclasses
import functools
from typing import Any

import flax
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from gan_jax import losses, regularizers
from gan_jax.anneal import OFF, Anneal
from gan_jax.augment import AdaState, Augment
from gan_jax.errors import ConfigError

# Independent random streams derived from the base key.
_STEP_STREAM, _DATA_STREAM, _REFERENCE_STREAM = 0, 1, 2
NOISES = ("normal", "uniform")  # config.model.z_dist


@flax.struct.dataclass
class NetState:
    params: Any
    batch_stats: Any  # running BatchNorm statistics; {} for networks without BatchNorm
    opt_state: Any

    @property
    def variables(self) -> dict:
        return {"params": self.params, "batch_stats": self.batch_stats}


@flax.struct.dataclass
class GANState:
    step: jax.Array  # int32 scalar: completed training steps
    g: NetState
    d: NetState
    g_ema: dict | None  # EMA of G's variables (params and batch_stats); None when off
    base_key: jax.Array  # uint32[2]
    g_history: regularizers.RunningMean | None = None  # historical averaging of G (None when off)
    d_history: regularizers.RunningMean | None = None
    vbn_reference: dict | None = None  # {'z': (R, z_dim), 'y': (R,)}: VBN's reference batch
    ada: AdaState | None = None  # ADA's probability p and its sign statistics (None: no ADA)
    lecam: regularizers.LeCamAnchors | None = None  # LeCam's moving anchors (None: no LeCam)


@dataclasses.dataclass(frozen=True)
class GAN:
    """The static half of a GAN: networks, optimisers, sizes and objective (never checkpointed),
    resolved from the config once (experiment.build_gan)."""

    generator: nn.Module
    discriminator: nn.Module
    g_optimizer: optax.GradientTransformation
    d_optimizer: optax.GradientTransformation
    z_dim: int
    num_classes: int = 0  # > 0: G and D are conditioned on labels in [0, num_classes)
    vbn_ref_size: int = 0  # > 0: G uses virtual batch norm with a reference batch this big
    objective: losses.Objective = losses.Objective()  # what D and G minimise
    reg: regularizers.Regularization = regularizers.Regularization()  # penalties on D
    augment: Augment = Augment()  # what D's every input goes through (augment.py)
    anneal: Anneal = OFF  # R3GAN's annealed hyperparameters (anneal.py): the optimisers', penalties', EMA's
    dtype: str = "float32"  # G's and D's compute dtype (models.apply.apply_net); the state stays float32
    num_labelled: int = 0  # > 0: the semi-supervised D's labelled examples (the train step's data holds them)
    d_group: int = 1  # examples D reads together (packing x minibatch-stddev groups): D is built on one group
    z_dist: str = "normal"  # G's noise: 'normal' N(0, I) or 'uniform' U(-1, 1) per coordinate

    def __post_init__(self):
        if self.z_dist not in NOISES:
            raise ConfigError(f"config.model.z_dist={self.z_dist!r} is not one of {NOISES}.")

    def noise(self, key: jax.Array, n: int) -> jax.Array:
        """n draws of z (n, z_dim): every z G sees -- training, evaluation, sample grids -- comes
        from here. 'uniform' is U(-1, 1) per coordinate, as DCGAN's, VEEGAN's and PacGAN's code."""
        if self.z_dist == "uniform":
            return jax.random.uniform(key, (n, self.z_dim), minval=-1.0, maxval=1.0)
        return jax.random.normal(key, (n, self.z_dim))


def step_key(state: GANState) -> jax.Array:
    return jax.random.fold_in(jax.random.fold_in(state.base_key, _STEP_STREAM), state.step)


def data_key(state: GANState) -> jax.Array:
    """Key of the run's data stream (one key, so epochs are permutations of the whole set)."""
    return jax.random.fold_in(state.base_key, _DATA_STREAM)


def _init_net(module: nn.Module, optimizer, key, *inputs: jax.ShapeDtypeStruct) -> NetState:
    """A network's variables from its initialisers, and its optimiser's state."""
    variables = _draw_variables(module, key, inputs)
    params = variables["params"]
    return NetState(params, variables.get("batch_stats", {}), optimizer.init(params))


@functools.partial(jax.jit, static_argnums=(0, 2))
def _draw_variables(module: nn.Module, key: jax.Array, inputs: tuple[jax.ShapeDtypeStruct, ...]) -> dict:
    """A network's initialisers' draws as one compiled program, keyed by the module, so a rebuilt
    GAN's equal networks reuse it (a test worker builds many): eagerly, each draw compiles once per
    weight shape (~0.1-0.3 s each on XLA:CPU). flax's lazy init traces only what the variables
    depend on, not the forward pass."""
    return module.lazy_init(key, *inputs, train=False)


def create(
    gan: GAN,
    seed: int,
    data_shape: tuple[int, ...],
    use_ema: bool,
) -> GANState:
    """Fresh state: weights from each network's initialisers, seeded by `seed` alone; a history
    for each player its objective averages historically."""
    k_g, k_d, k_run = jax.random.split(jax.random.PRNGKey(seed), 3)
    rows = gan.vbn_ref_size + 1
    g = _init_net(
        gan.generator,
        gan.g_optimizer,
        k_g,
        jax.ShapeDtypeStruct((rows, gan.z_dim), jnp.float32),
        jax.ShapeDtypeStruct((rows,), jnp.int32),
    )
    rows = gan.d_group  # one group of packs (1 without packing or minibatch stddev)
    d = _init_net(
        gan.discriminator,
        gan.d_optimizer,
        k_d,
        jax.ShapeDtypeStruct((rows, *data_shape), jnp.float32),
        jax.ShapeDtypeStruct((rows,), jnp.int32),
    )
    reference = None
    if gan.vbn_ref_size:
        k_z, k_y = jax.random.split(jax.random.fold_in(k_run, _REFERENCE_STREAM))
        reference = {
            "z": gan.noise(k_z, gan.vbn_ref_size),
            "y": jax.random.randint(k_y, (gan.vbn_ref_size,), 0, max(gan.num_classes, 1)),
        }
    return GANState(
        step=jnp.zeros((), jnp.int32),
        g=g,
        d=d,
        g_ema=jax.tree.map(jnp.copy, g.variables) if use_ema else None,
        base_key=k_run,
        g_history=regularizers.RunningMean.start(g.params) if gan.objective.g_historical else None,
        d_history=regularizers.RunningMean.start(d.params) if gan.objective.d_historical else None,
        vbn_reference=reference,
        ada=gan.augment.start(),
        lecam=regularizers.LeCamAnchors.start() if gan.reg.lecam else None,
    )


def fixed_noise(seed: int, num: int, gan: GAN) -> jax.Array:
    """The z behind every sample grid of a run: the same at every step and after resume."""
    return gan.noise(jax.random.fold_in(jax.random.PRNGKey(seed), 0x5A3B1E), num)


def leaf_names(tree) -> list[str]:
    """'g.params.Dense_0.kernel', ... in the order of jax.tree.leaves."""
    paths = jax.tree_util.tree_flatten_with_path(tree)[0]
    return [jax.tree_util.keystr(path, simple=True, separator=".") for path, _ in paths]
