"""One factory for a run: the data, the networks, the state and the compiled step.

The trainer, `restore_run`, the population, the benchmarks and the tests all build a run here, so
they train the same program: a change to how a run is assembled is made once.
"""

import dataclasses
import itertools
from collections.abc import Callable, Iterator, Sequence

import jax
import ml_collections
import numpy as np
from jax.sharding import Mesh, NamedSharding

from gan_jax import anneal, augment, data, losses, models, optim, parallel, regularizers
from gan_jax import state as state_lib
from gan_jax.data import DataSource
from gan_jax.data.stream import Feed
from gan_jax.errors import ConfigError
from gan_jax.models.layers import group_size
from gan_jax.schedule import Schedule, make_multi_step, make_train_step
from gan_jax.state import GAN, GANState


def build_gan(config: ml_collections.ConfigDict, source: DataSource) -> GAN:
    """Networks and optimisers for the config and the data (its shape, its classes)."""
    objective = losses.objective(config.loss)
    needs_labels = config.model.conditional or objective.semi_supervised
    if needs_labels and not source.num_classes:
        raise ConfigError(
            f"config.model.conditional / config.loss.d='semi_supervised' need labelled data; "
            f"{source.name!r} has no labels."
        )
    num_classes = source.num_classes if config.model.conditional else 0
    d_outputs = source.num_classes if objective.semi_supervised else 1
    generator, discriminator = models.build(config.model, source.shape, num_classes, d_outputs)
    annealing, t = anneal.annealing(config.anneal), config.train
    return GAN(
        generator,
        discriminator,
        optim.make(config.optim.g, "g", annealing, t.g_steps),
        optim.make(config.optim.d, "d", annealing, t.d_steps),
        config.model.z_dim,
        num_classes=num_classes,
        vbn_ref_size=generator.reference_batch_size,
        objective=objective,
        reg=regularizers.regularization(config.reg),
        augment=augment.augmentation(config.augment),
        anneal=annealing,
        dtype=config.model.dtype,
        num_labelled=config.loss.num_labelled if objective.semi_supervised else 0,
        d_group=group_size(discriminator),
        z_dist=config.model.get("z_dist", "normal"),
    )


def initial_state(config: ml_collections.ConfigDict, gan: GAN, source: DataSource) -> GANState:
    """The fresh state of config.seed, on the default device (`Experiment.initial_state` places it)."""
    return state_lib.create(
        gan, config.seed, source.shape, use_ema=config.train.ema_decay > 0 or gan.anneal.ema_images > 0
    )


def train_step(config: ml_collections.ConfigDict, gan: GAN, source: DataSource, mesh: Mesh | None = None):
    """The un-jitted multi-step function (state, arrays) -> (state, stacked metrics)."""
    t = config.train
    schedule, shard = Schedule.from_config(t), parallel.batch_constraint(mesh)
    one_step = make_train_step(gan, source, t.batch_size, schedule, shard)
    return make_multi_step(one_step, t.steps_per_call)


@dataclasses.dataclass(frozen=True)
class Experiment:
    """What a run is made of, placed on a mesh of devices (every device of every host by default)."""

    config: ml_collections.ConfigDict
    source: DataSource
    gan: GAN
    mesh: Mesh

    def initial_state(self) -> GANState:
        """The fresh state, replicated on the mesh."""
        return parallel.put_replicated(initial_state(self.config, self.gan, self.source), self.mesh)

    def training_arrays(self) -> dict:
        """The training data, replicated on the mesh (the step samples its batches on the device)."""
        return parallel.put_replicated(data.training_arrays(self.source, self.gan.num_labelled), self.mesh)

    @property
    def arrays_sharding(self) -> NamedSharding:
        """Where the step's data argument lives: replicated (the whole set), or a streamed call's
        batches (draws, batch, ...) split along the batch axis."""
        return parallel.stream_sharded(self.mesh) if self.source.streamed else parallel.replicated(self.mesh)

    def feed(self, state: GANState, start_step: int) -> Iterator[dict]:
        """The data argument of every call from `start_step` on: the training arrays, always the
        same; or, streamed, each call's batches (data/stream.py) in the order the arrays would
        give them (`state`'s data key)."""
        if not self.source.streamed:
            return itertools.repeat(self.training_arrays())
        t = self.config.train
        key = np.asarray(jax.device_get(state_lib.data_key(state)))
        calls = range(start_step // t.steps_per_call, -(-t.total_steps // t.steps_per_call))
        return Feed(
            self.source.examples,
            key,
            t.batch_size,
            t.steps_per_call * t.d_steps,
            self.arrays_sharding,
            calls,
            self.config.data.stream_threads,
        )

    def lower(
        self, state: GANState, arrays: dict, vmapped: bool = False, per_member_data: bool = False
    ) -> jax.stages.Lowered:
        """The multi-step traced for exactly these inputs' shapes and placements, not yet compiled
        (its cost analysis needs no compile). `vmapped`: over a population's stacked states
        (leading axis), all on the same data, or with `per_member_data` each on its own (the
        arrays stacked on the same axis)."""
        step = train_step(self.config, self.gan, self.source, self.mesh)
        if vmapped:
            step = jax.vmap(step, in_axes=(0, 0 if per_member_data else None))
        jitted = parallel.jit_replicated(step, self.mesh, arrays_sharding=self.arrays_sharding)
        return jitted.lower(state, arrays)

    def compile(
        self, state: GANState, arrays: dict, vmapped: bool = False, per_member_data: bool = False
    ) -> Callable:
        """`lower`'s program compiled: a later change of the inputs' shapes or placements is an
        error, never a silent recompile. The state argument is donated."""
        return self.lower(state, arrays, vmapped, per_member_data).compile()


def load_data(config: ml_collections.ConfigDict) -> data.DataSource:
    """config's training data, with its packs formed for config's D where data.fixed_packs asks."""
    return data.load(config.data, pack=config.model.d.get("pack", 1))


def build(config: ml_collections.ConfigDict, devices: Sequence[jax.Device] | None = None) -> Experiment:
    """Load the data and build the networks of `config` for a mesh over `devices`; a global batch
    that does not split evenly over them is an error before anything is loaded."""
    mesh = parallel.make_mesh(devices)
    parallel.check_batch_divides(config.train.batch_size, mesh)
    source = load_data(config)
    gan = build_gan(config, source)
    d, n, group = gan.discriminator, mesh.devices.size, gan.d_group
    if config.train.batch_size // n % group:
        std = getattr(d, "minibatch_std", 0)  # (not every D has the option)
        raise ConfigError(
            f"config.model.d.pack={d.pack} x minibatch_std={std} does not divide the batch "
            f"on each device ({config.train.batch_size // n}: config.train.batch_size="
            f"{config.train.batch_size} over {n} devices); packs and groups do not straddle devices: "
            f"use a batch that is a multiple of {group * n}."
        )
    slots = getattr(gan.generator, "norm_slots", 1)
    if config.train.batch_size % slots:
        raise ConfigError(
            f"config.model.g.norm_slots={slots} does not divide config.train.batch_size="
            f"{config.train.batch_size}: G's BatchNorm normalises each of that many slices of the batch; "
            f"use a batch that is a multiple of {slots}."
        )
    if gan.objective.top_k and not source.num_examples:
        raise ConfigError(
            "config.loss.top_k anneals k once per epoch of the training set; this data source draws "
            "fresh samples (no epochs). Give it a fixed training set (config.data.train_size) or set top_k=0."
        )
    extra_real = gan.objective.semi_supervised or gan.objective.g_needs_real or config.train.unroll_steps
    if source.streamed and extra_real:
        raise ConfigError(
            "A streamed data set (config.data.pipeline) feeds D's batches only; the semi-supervised D, "
            "feature matching and the unrolled GAN draw more real batches. Use config.data.pipeline="
            "'device' (config.data.device_budget_mb sets what 'auto' keeps on the device)."
        )
    return Experiment(config, source, gan, mesh)
