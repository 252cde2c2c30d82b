"""One update of D and one of G, as pure functions; schedule.make_train_step composes them.

Algorithm 1 of Goodfellow et al. 2014: each D update draws a fresh minibatch of data and of noise
and descends D's loss; each G update draws fresh noise and descends its loss against the *updated*
D. A D update touches only D's state (G's samples behind `stop_gradient`), a G update only G's (D's
BatchNorm statistics from it are dropped). Both networks run in training mode, and D sees the real
and the generated batch in separate calls, each normalised by its own statistics, as in the DCGAN
reference code (under jit + sharding, over the global batch).

`d_loss` and `g_loss` are functions of their player's parameters and batch statistics, the other
player's variables, the batches, a key and the `StepContext`, which holds everything else they
read (of the state too); what the objectives and techniques change is a choice held by the GAN:
the `Objective` (losses.py), the penalties and stateful remedies (regularizers.py), the networks
(models/) and the augmentation (augment.py, applied in `discriminate`, through which D sees every
input). The metrics are scalars: from the last D update d_loss, the objective's diagnostics
(`Objective.diagnostics`) and d_grad_norm; from the last G update g_loss and g_grad_norm.
"""

import dataclasses
import functools
from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from gan_jax import losses, regularizers
from gan_jax.data import DataSource
from gan_jax.data.source import sample_epochs
from gan_jax.models.apply import apply_net, generate, sample_labels
from gan_jax.state import GAN, GANState, NetState, data_key

Metrics = dict[str, jax.Array]
Samples = tuple[jax.Array, jax.Array | None]  # a batch of G's samples and their labels (None: unconditional)
# Streams of the run's data key (G's own real batches; the labelled examples) and of a pass's key
# (D's noise layers; the augmentation of D's input).
_G_DATA_STREAM, _LABELLED_STREAM, _NOISE_STREAM, _AUGMENT_STREAM = 1, 2, 3, 4
D_PASSES = ("real", "fake", "labelled", "penalty")  # D's passes in D's update, in key order
G_PASSES = ("fake", "real")  # D's passes in G's update


@dataclasses.dataclass(frozen=True)
class StepContext:
    """What every update needs besides the networks it updates: the GAN (its objective and
    penalties too), its data, the batch size, `shard_batch`, which pins a per-example array to the
    data mesh, and the unrolled D steps G's loss looks ahead by (Schedule.unroll_steps and
    unroll_through_d); within an update, everything it reads of the state besides the networks
    (`at`): the losses below take the networks' variables and this, never the state."""

    gan: GAN
    source: DataSource
    batch_size: int
    shard_batch: Callable[[jax.Array], jax.Array] = lambda x: x
    unroll_steps: int = 0
    unroll_through_d: bool = True
    step: jax.Array | None = None
    data_key: jax.Array | None = None
    augment_p: jax.Array | None = None  # ADA's p
    vbn_reference: dict | None = None  # virtual batch norm's reference batch
    lecam: regularizers.LeCamAnchors | None = None
    d_history: regularizers.RunningMean | None = None  # historical averaging's running means
    g_history: regularizers.RunningMean | None = None

    def at(self, state: GANState) -> "StepContext":
        """This context within an update of `state`."""
        return dataclasses.replace(
            self,
            step=state.step,
            data_key=data_key(state),
            augment_p=None if state.ada is None else state.ada.p,
            vbn_reference=state.vbn_reference,
            lecam=state.lecam,
            d_history=state.d_history,
            g_history=state.g_history,
        )

    @property
    def epoch(self) -> jax.Array:
        """Epochs of training data G's batches have covered (top-k training's clock)."""
        return self.step * self.batch_size / self.source.num_examples

    @property
    def objective(self) -> losses.Objective:
        return self.gan.objective

    def labels(self, batch: dict) -> jax.Array | None:
        """A batch's labels when the networks are conditional (None otherwise)."""
        return batch["label"] if self.gan.num_classes else None


def pass_key(key: jax.Array, passes: tuple[str, ...], name: str) -> jax.Array:
    """The key of D's pass `name` within one update: D's i-th pass (in the order `passes`) draws
    its noise from fold_in(key, i), the first from the update's key itself."""
    i = passes.index(name)
    return key if i == 0 else jax.random.fold_in(key, i)


def real_batch(ctx: StepContext, arrays: dict, stream: int | None, draw: jax.Array) -> dict:
    """Data batch number `draw` of a data stream: the run's own (None), G's (feature matching and
    other G losses that look at real data) or the semi-supervised D's labelled examples."""
    key = ctx.data_key if stream is None else jax.random.fold_in(ctx.data_key, stream)
    if stream == _LABELLED_STREAM:
        subset = {"x": arrays["x"][arrays["labelled"]], "label": arrays["label"][arrays["labelled"]]}
        batch = sample_epochs(subset, key, draw, min(ctx.batch_size, arrays["labelled"].shape[0]))
    else:
        batch = ctx.source.sample(arrays, key, draw, ctx.batch_size)
    return {k: ctx.shard_batch(v) for k, v in batch.items()}


def fake_batch(ctx: StepContext, g_variables: dict, key: jax.Array):
    """(samples, their labels or None, G's new batch_stats) for a batch of fresh noise from `key`."""
    k_z, k_y = jax.random.split(key)
    z = ctx.shard_batch(ctx.gan.noise(k_z, ctx.batch_size))
    y = ctx.shard_batch(sample_labels(ctx.gan, k_y, ctx.batch_size))
    x, new_stats = generate(ctx.gan, g_variables, z, y, True, ctx.vbn_reference)
    return x, y if ctx.gan.num_classes else None, new_stats


def discriminate(ctx: StepContext, variables: dict, x: jax.Array, y, key: jax.Array, features: bool = False):
    """D on one batch in training mode: every input D sees in training goes through here, augmented
    when config.augment says so (fresh draws from `key`). Returns (outputs, new batch_stats[, sown
    features])."""
    noise = jax.random.fold_in(key, _NOISE_STREAM)
    x = ctx.gan.augment.apply(jax.random.fold_in(key, _AUGMENT_STREAM), x, ctx.augment_p)
    return apply_net(ctx.gan.discriminator, variables, x, True, y, noise, features, ctx.gan.dtype)


def d_loss(
    d_params,
    d_stats,
    g_variables: dict | None,
    ctx: StepContext,
    batches: dict,
    key: jax.Array,
    stop_gradient_fake: bool = True,
    samples: Samples | None = None,
):
    """D's loss on a real batch and a fresh generated one from G's `g_variables` (or `samples`,
    G's batch made once for several uses: then no G variables), with its penalties; aux: (real
    outputs, fake outputs, D's new batch_stats). With `stop_gradient_fake` False the loss is
    differentiable in G's variables (or in `samples`) too."""
    if samples is None:
        fake, fake_y, _ = fake_batch(ctx, g_variables, key)
    else:
        fake, fake_y = samples
    if stop_gradient_fake:
        fake = jax.lax.stop_gradient(fake)
    real = batches["real"]

    def d_pass(stats, x, y, name):  # D's passes in order, each with the statistics of the last
        return discriminate(
            ctx, {"params": d_params, "batch_stats": stats}, x, y, pass_key(key, D_PASSES, name)
        )

    real_out, stats = d_pass(d_stats, real["x"], ctx.labels(real), "real")
    fake_out, stats = d_pass(stats, fake, fake_y, "fake")
    r, f = losses.real_fake_logit(real_out), losses.real_fake_logit(fake_out)
    value = ctx.objective.d_loss(r, f)
    if ctx.objective.semi_supervised:
        labelled = batches["labelled"]
        class_logits, stats = d_pass(stats, labelled["x"], None, "labelled")
        value = value + losses.classification_loss(class_logits, labelled["label"])
    if ctx.gan.reg.penalties:
        variables = {"params": d_params, "batch_stats": stats}
        penalty_key = pass_key(key, D_PASSES, "penalty")

        def critic(y):  # D's real/fake outputs on a batch; this pass's statistics are dropped
            return lambda x: losses.real_fake_logit(discriminate(ctx, variables, x, y, penalty_key)[0])

        value = value + ctx.gan.reg.d_penalty(
            critic(ctx.labels(real)), critic(fake_y), real["x"], fake, penalty_key, ctx.step, ctx.gan.anneal
        )
    value = value + regularizers.lecam_penalty(ctx.gan.reg.lecam, ctx.lecam, r, f)
    value = value + regularizers.historical_penalty(ctx.objective.d_historical, ctx.d_history, d_params)
    return value, (r, f, stats)


def g_loss(g_params, g_stats, d: NetState, ctx: StepContext, batches: dict, key: jax.Array):
    """G's loss on a fresh generated batch against D (`d`), or, with `ctx.unroll_steps`, against D
    after that many more of its steps on these samples (the unrolled GAN); aux: G's new
    batch_stats. The samples are made once for G's loss and every unrolled step, as the authors'
    graph has them (poolio/unrolled_gan), and every step's gradient reaches G through their one
    VJP: made in each step, they took half of Table 3's unrolled iteration (docs/mode_collapse.md)."""
    fake, fake_y, stats = fake_batch(ctx, {"params": g_params, "batch_stats": g_stats}, key)
    d_variables = unrolled_d(ctx, d, (fake, fake_y), batches, key) if ctx.unroll_steps else d.variables
    history = regularizers.historical_penalty(ctx.objective.g_historical, ctx.g_history, g_params)
    return g_objective(fake, fake_y, d_variables, ctx, batches, key) + history, stats


def g_objective(fake: jax.Array, fake_y, d_variables: dict, ctx: StepContext, batches: dict, key: jax.Array):
    """The part of G's loss that sees G only through its samples `fake` (labels `fake_y`)."""
    objective = ctx.objective

    def g_pass(x, y, name, features=False):  # D on one batch, its statistics dropped
        return discriminate(ctx, d_variables, x, y, pass_key(key, G_PASSES, name), features)

    if objective.feature_matching:
        real, layer = batches["real"], objective.feature_layer
        fake_features = g_pass(fake, fake_y, "fake", True)[2][layer]
        real_features = g_pass(real["x"], ctx.labels(real), "real", True)[2][layer]
        return losses.feature_matching_loss(real_features, fake_features)
    fake_out, _ = g_pass(fake, fake_y, "fake")
    real_logits = None
    # The relativistic G compares with D's outputs on real data; the unrolled minimax G minimises
    # the whole value V at the unrolled D, whose real-data term depends on G through D's steps.
    if objective.g_needs_real or (ctx.unroll_steps and objective.g_is_the_game):
        real = batches["real"]
        real_logits = losses.real_fake_logit(g_pass(real["x"], ctx.labels(real), "real")[0])
    epoch = ctx.epoch if objective.top_k else None
    return objective.g_loss(losses.real_fake_logit(fake_out), real_logits, epoch)


@dataclasses.dataclass(frozen=True)
class SharedFake:
    """One generated batch for both players' updates (train.reuse_fake, as PyTorch's DCGAN
    example): G's samples `x` (labels `y`), G's batch statistics from that forward pass, and
    `pullback`, G's VJP at it, which carries a gradient on the samples back to G's parameters."""

    x: jax.Array
    y: jax.Array | None
    batch_stats: dict
    pullback: Callable


def shared_fake(ctx: StepContext, g: NetState, key: jax.Array) -> SharedFake:
    """G's forward pass on the noise of `key`, kept with its VJP for G's update after D's."""

    def sample(g_params):
        x, y, stats = fake_batch(ctx, {"params": g_params, "batch_stats": g.batch_stats}, key)
        return x, (y, stats)

    x, pullback, (y, stats) = jax.vjp(sample, g.params, has_aux=True)
    return SharedFake(x, y, stats, pullback)


def apply_update(tx: optax.GradientTransformation, net: NetState, grads, batch_stats) -> NetState:
    """One optimiser step of a player, with the batch statistics of its own loss's passes."""
    updates, opt_state = tx.update(grads, net.opt_state, net.params)
    return NetState(optax.apply_updates(net.params, updates), batch_stats, opt_state)


def d_step(
    ctx: StepContext,
    d: NetState,
    g_variables: dict | None,
    batches: dict,
    key: jax.Array,
    stop_gradient_fake: bool = True,
    samples: Samples | None = None,
):
    """One optimiser step of D from `d` (weight clipping included) -> (new D, (loss, real
    outputs, fake outputs, gradients)). The train step's D update, and each unrolled step."""
    loss = lambda p: d_loss(p, d.batch_stats, g_variables, ctx, batches, key, stop_gradient_fake, samples)  # noqa: E731
    (value, (r, f, stats)), grads = jax.value_and_grad(loss, has_aux=True)(d.params)
    new_d = apply_update(ctx.gan.d_optimizer, d, grads, stats)
    if ctx.gan.reg.weight_clip:
        new_d = new_d.replace(params=regularizers.clip_weights(new_d.params, ctx.gan.reg.weight_clip))
    return new_d, (value, r, f, grads)


def d_batches(ctx: StepContext, arrays: dict, stream: int | None, draw: jax.Array) -> dict:
    """The data of one D step: a real batch of `stream` and, when D is semi-supervised, labelled
    examples."""
    batches = {"real": real_batch(ctx, arrays, stream, draw)}
    if ctx.objective.semi_supervised:
        batches["labelled"] = real_batch(ctx, arrays, _LABELLED_STREAM, draw)
    return batches


def d_update(
    ctx: StepContext,
    state: GANState,
    arrays: dict,
    key: jax.Array,
    draw: jax.Array,
    shared: SharedFake | None = None,
):
    """One optimiser step of D on data batch `draw` and noise from `key` (or `shared`'s samples)
    -> (state, metrics); with ADA, also its p and the mean sign of D's real outputs."""
    ctx = ctx.at(state)
    batches = d_batches(ctx, arrays, None, draw)
    samples = None if shared is None else (shared.x, shared.y)
    new_d, (value, r, f, grads) = d_step(ctx, state.d, state.g.variables, batches, key, samples=samples)
    state = state.replace(
        d=new_d,
        d_history=regularizers.remember(state.d_history, new_d.params),
        lecam=regularizers.lecam_anchors(state.lecam, r, f),
        ada=ctx.gan.augment.adapt(state.ada, r, ctx.batch_size),
    )
    metrics = {"d_loss": value, **ctx.objective.diagnostics(r, f), "d_grad_norm": optax.tree.norm(grads)}
    if state.ada is not None:
        metrics.update(ada_p=ctx.augment_p, ada_sign=jnp.mean(jnp.sign(r)))
    return state, metrics


def unrolled_d(ctx: StepContext, d: NetState, samples: Samples, batches: dict, key: jax.Array) -> dict:
    """D's variables after `ctx.unroll_steps` optimiser steps from `d` against G's `samples`
    (Metz et al. 2017), differentiable in them unless `ctx.unroll_through_d` is off: D's update
    (its optimiser's too) runs inside lax.scan. Every unrolled step sees the same batches, samples
    and key as G's loss, as in the authors' code (poolio/unrolled_gan); the unrolled copies'
    BatchNorm statistics end here."""
    held_fixed = not ctx.unroll_through_d

    def step(d: NetState, _):
        return d_step(ctx, d, None, batches, key, stop_gradient_fake=held_fixed, samples=samples)[0], None

    d, _ = jax.lax.scan(step, d, length=ctx.unroll_steps)
    return d.variables


def g_update(
    ctx: StepContext,
    state: GANState,
    arrays: dict,
    key: jax.Array,
    draw: jax.Array,
    shared: SharedFake | None = None,
):
    """One optimiser step of G with noise from `key` against the current D (or, unrolled, against
    D a few steps on) -> (state, metrics); `draw` numbers the real batch of G's own data stream
    when its loss (or D's unrolled steps) needs one. With `shared` (train.reuse_fake), G's loss is
    taken on D's samples and its gradient carried back through their stored VJP: no second
    forward pass of G."""
    ctx = ctx.at(state)
    batches = {}
    if ctx.unroll_steps:  # D's unrolled steps need what D's own steps need
        batches = d_batches(ctx, arrays, _G_DATA_STREAM, draw)
    elif ctx.objective.g_needs_real:
        batches = {"real": real_batch(ctx, arrays, _G_DATA_STREAM, draw)}

    if shared is None:
        loss = lambda p: g_loss(p, state.g.batch_stats, state.d, ctx, batches, key)  # noqa: E731
        (value, stats), grads = jax.value_and_grad(loss, has_aux=True)(state.g.params)
    else:
        value, on_samples = jax.value_and_grad(g_objective)(
            shared.x, shared.y, state.d.variables, ctx, batches, key
        )
        penalty = functools.partial(
            regularizers.historical_penalty, ctx.objective.g_historical, ctx.g_history
        )
        history, on_params = jax.value_and_grad(penalty)(state.g.params)
        (grads,) = shared.pullback(on_samples)
        value, grads, stats = value + history, jax.tree.map(jnp.add, grads, on_params), shared.batch_stats
    new_g = apply_update(ctx.gan.g_optimizer, state.g, grads, stats)
    state = state.replace(g=new_g, g_history=regularizers.remember(state.g_history, new_g.params))
    return state, {"g_loss": value, "g_grad_norm": optax.tree.norm(grads)}


def make_updates(gan: GAN, source: DataSource, batch_size: int, unroll_steps: int = 0):
    """(d_update, g_update) bound to one GAN: each (state, arrays, key, draw) -> (state, metrics)."""
    ctx = StepContext(gan, source, batch_size, unroll_steps=unroll_steps)
    return functools.partial(d_update, ctx), functools.partial(g_update, ctx)
