"""The train step: `d_steps` updates of D, then `g_steps` updates of G, as one pure function.

Algorithm 1 of Goodfellow et al. 2014: each D update draws a fresh minibatch of data and of
noise and ascends V(D, G) in D's parameters (descends the D loss); each G update draws fresh
noise and descends its loss against the *updated* D. A D update only touches D's state and a G
update only touches G's: G is run with its output behind `stop_gradient` in D's update, and D's
BatchNorm statistics from G's update are dropped.

Both networks run in training mode (BatchNorm on the batch's own statistics), and D sees the real
and the generated batch in separate calls, each normalised by its own statistics, as in the DCGAN
reference code. Under jit + sharding those statistics are over the global batch.

`make_train_step` returns `train_step(state, arrays) -> (state, metrics)`, not jitted here; its
metrics are scalars: from the last D update, d_loss, V (the value function on that batch),
d_real = mean D(x), d_fake = mean D(G(z)) and d_grad_norm; from the last G update, g_loss and
g_grad_norm. `make_multi_step` runs `steps_per_call` steps in one `lax.scan`, returning the
metrics of every step stacked (shape [steps_per_call]).
"""

from collections.abc import Callable

import jax
import jax.numpy as jnp
import optax

from gan_jax import losses
from gan_jax.data import DataSource
from gan_jax.state import GAN, GANState, NetState, data_key, step_key

Metrics = dict[str, jax.Array]
TrainStep = Callable[[GANState, dict], tuple[GANState, Metrics]]


def apply_net(module, variables: dict, x: jax.Array, train: bool) -> tuple[jax.Array, dict]:
    """(output, new batch_stats): one call for networks with and without BatchNorm."""
    if not train:
        return module.apply(variables, x, train=False), variables["batch_stats"]
    out, mutated = module.apply(variables, x, train=True, mutable=["batch_stats"])
    return out, mutated.get("batch_stats", {})


def _update(tx: optax.GradientTransformation, net: NetState, grads, batch_stats) -> NetState:
    updates, opt_state = tx.update(grads, net.opt_state, net.params)
    return NetState(optax.apply_updates(net.params, updates), batch_stats, opt_state)


def make_updates(
    gan: GAN,
    source: DataSource,
    batch_size: int,
    d_loss: str = "minimax",
    g_loss: str = "non_saturating",
    shard_batch: Callable[[jax.Array], jax.Array] = lambda x: x,
):
    """(d_update, g_update): one optimiser step of D, and of G; `shard_batch` pins per-example
    arrays to the data mesh.

    d_update(state, arrays, key, draw) -> (state, metrics) uses data batch number `draw`;
    g_update(state, key) -> (state, metrics).
    """
    d_loss_fn, g_loss_fn = losses.d_loss_fn(d_loss), losses.g_loss_fn(g_loss)

    def noise(key):
        return shard_batch(jax.random.normal(key, (batch_size, gan.z_dim)))

    def d_update(state: GANState, arrays: dict, key: jax.Array, draw: jax.Array):
        real = shard_batch(source.sample(arrays, data_key(state), draw, batch_size)["x"])
        fake, _ = apply_net(gan.generator, state.g.variables, noise(key), train=True)
        fake = jax.lax.stop_gradient(fake)

        def loss(params):
            variables = {"params": params, "batch_stats": state.d.batch_stats}
            real_logits, stats = apply_net(gan.discriminator, variables, real, train=True)
            variables = {"params": params, "batch_stats": stats}
            fake_logits, stats = apply_net(gan.discriminator, variables, fake, train=True)
            return d_loss_fn(real_logits, fake_logits), (real_logits, fake_logits, stats)

        (value, (real_logits, fake_logits, stats)), grads = jax.value_and_grad(loss, has_aux=True)(
            state.d.params
        )
        metrics = {
            "d_loss": value,
            "V": losses.value_function(real_logits, fake_logits),
            "d_real": jnp.mean(jax.nn.sigmoid(real_logits)),
            "d_fake": jnp.mean(jax.nn.sigmoid(fake_logits)),
            "d_grad_norm": optax.tree.norm(grads),
        }
        return state.replace(d=_update(gan.d_optimizer, state.d, grads, stats)), metrics

    def g_update(state: GANState, key: jax.Array):
        z = noise(key)

        def loss(params):
            variables = {"params": params, "batch_stats": state.g.batch_stats}
            fake, stats = apply_net(gan.generator, variables, z, train=True)
            fake_logits, _ = apply_net(gan.discriminator, state.d.variables, fake, train=True)
            return g_loss_fn(fake_logits), stats

        (value, stats), grads = jax.value_and_grad(loss, has_aux=True)(state.g.params)
        metrics = {"g_loss": value, "g_grad_norm": optax.tree.norm(grads)}
        return state.replace(g=_update(gan.g_optimizer, state.g, grads, stats)), metrics

    return d_update, g_update


def make_train_step(
    gan: GAN,
    source: DataSource,
    batch_size: int,
    d_steps: int = 1,
    g_steps: int = 1,
    d_loss: str = "minimax",
    g_loss: str = "non_saturating",
    ema_decay: float = 0.0,
    shard_batch: Callable[[jax.Array], jax.Array] = lambda x: x,
) -> TrainStep:
    """See the module docstring. D update j of step t uses data batch t * d_steps + j and noise
    from fold_in(key_t, j); G update j uses fold_in(key_t, d_steps + j)."""
    d_update, g_update = make_updates(gan, source, batch_size, d_loss, g_loss, shard_batch)

    def train_step(state: GANState, arrays: dict) -> tuple[GANState, Metrics]:
        key = step_key(state)
        for j in range(d_steps):
            draw = state.step * d_steps + j
            state, metrics_d = d_update(state, arrays, jax.random.fold_in(key, j), draw)
        for j in range(g_steps):
            state, metrics_g = g_update(state, jax.random.fold_in(key, d_steps + j))
        if state.g_ema is not None:
            state = state.replace(
                g_ema=optax.incremental_update(state.g.variables, state.g_ema, step_size=1.0 - ema_decay)
            )
        return state.replace(step=state.step + 1), {**metrics_d, **metrics_g}

    return train_step


def make_multi_step(train_step: TrainStep, steps_per_call: int) -> TrainStep:
    """`steps_per_call` train steps in one compiled call, so small models are not dispatch-bound."""

    def multi_step(state: GANState, arrays: dict) -> tuple[GANState, Metrics]:
        return jax.lax.scan(lambda s, _: train_step(s, arrays), state, length=steps_per_call)

    return multi_step
