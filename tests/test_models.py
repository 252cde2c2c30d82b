"""DCGAN's guidelines checked on the built networks; MLP G/D shapes, maxout and width knobs."""

import itertools

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from helpers import load_config, normal

from gan_jax import models
from gan_jax.models.dcgan import DCGANDiscriminator, DCGANGenerator
from gan_jax.models.layers import drawn_as, normal_init
from gan_jax.models.mlp import Maxout, MLPDiscriminator, MLPGenerator


def record_calls(module, variables, x):
    """Runs module in training mode, recording (name, type, input, output) of every sub-layer."""
    calls = []

    def interceptor(next_fun, args, kwargs, context):
        out = next_fun(*args, **kwargs)
        if context.method_name == "__call__" and len(context.module.path) == 1:
            calls.append((context.module.name, type(context.module).__name__, args[0], out))
        return out

    with nn.intercept_methods(interceptor):
        out, _ = module.apply(variables, x, train=True, mutable=["batch_stats"])
    return calls, out


def leaky(x):
    return jnp.where(x >= 0, x, 0.2 * x)


def check_chain(calls, first_activation, later_activation):
    """Each layer's input is activation(previous layer's output) or the previous output itself
    when the previous layer is a linear map that BatchNorm directly follows."""
    for (name_a, type_a, _, out_a), (name_b, type_b, in_b, _) in itertools.pairwise(calls):
        if type_b == "BatchNorm":
            assert type_a in ("Conv", "ConvTranspose", "Dense"), (name_a, name_b)
            np.testing.assert_allclose(in_b, out_a.reshape(in_b.shape), rtol=1e-6)
        else:
            act = first_activation if name_a == calls[0][0] else later_activation
            np.testing.assert_allclose(in_b, act(out_a.reshape(in_b.shape)), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
@pytest.mark.parametrize("size,channels", [(16, 1), (32, 3), (64, 1)])
def test_dcgan_guidelines(size, channels):
    n_changes = {16: 2, 32: 3, 64: 4}[size]
    g = DCGANGenerator(size, channels, width=8)
    d = DCGANDiscriminator(size, width=8)
    z = normal(0, (4, 100))[0]
    gv = g.init(jax.random.PRNGKey(1), z)
    dv = d.init(jax.random.PRNGKey(2), jnp.zeros((4, size, size, channels)))

    g_calls, images = record_calls(g, gv, z)
    g_types = [t for _, t, _, _ in g_calls]
    # G: one projection of z (the paper's "project and reshape"), then only fractional-strided
    # convolutions, each doubling the resolution; no other dense layer.
    assert g_types.count("Dense") == 1 and g_types[0] == "Dense"
    ups = [c for c in g_calls if c[1] == "ConvTranspose"]
    assert len(ups) == n_changes
    for _, _, x_in, x_out in ups:
        assert x_out.shape[1] == 2 * x_in.shape[1]
    # BatchNorm after every G layer except the output one.
    hidden = ["ConvTranspose", "BatchNorm"] * (n_changes - 1)
    assert g_types == ["Dense", "BatchNorm", *hidden, "ConvTranspose"]
    check_chain(g_calls, nn.relu, nn.relu)  # ReLU in G
    np.testing.assert_allclose(images, jnp.tanh(g_calls[-1][3]), rtol=1e-6)  # Tanh output
    assert images.shape == (4, size, size, channels)

    d_calls, logits = record_calls(d, dv, images)
    d_types = [t for _, t, _, _ in d_calls]
    # Strided convolutions halve the resolution; no BatchNorm at D's input layer; no hidden
    # fully-connected layer: the last conv map, flattened, feeds one linear output (the head).
    assert d_types == ["Conv"] + ["Conv", "BatchNorm"] * (n_changes - 1) + ["DiscriminatorHead"]
    for _, _, x_in, x_out in [c for c in d_calls if c[1] == "Conv"]:
        assert x_out.shape[1] == x_in.shape[1] // 2
    last_channels = d_calls[-2][3].shape[-1] if n_changes > 1 else d_calls[0][3].shape[-1]
    assert d_calls[-1][2].shape == (4, 4 * 4 * last_channels) and logits.shape == (4,)
    assert set(dv["params"]["head"]) == {"to_logit"}  # a single linear layer
    check_chain(d_calls, leaky, leaky)  # LeakyReLU(0.2) in D

    # Weights from N(0, 0.02); BatchNorm scales from N(1, 0.02); biases zero.
    for tree in (gv["params"], dv["params"]):
        for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
            name = jax.tree_util.keystr(path)
            if "kernel" in name and leaf.size >= 1000:
                assert abs(float(leaf.std()) - 0.02) < 0.003, name
                assert abs(float(leaf.mean())) < 0.003, name
            if "scale" in name:
                assert abs(float(leaf.mean()) - 1.0) < 0.02 and float(leaf.std()) < 0.05, name
            if "bias" in name:
                assert not np.any(leaf), name


def test_width_multipliers_scale_channels():
    base = DCGANDiscriminator(16, width=8)
    wide = DCGANDiscriminator(16, width=8, width_mult=2.0)
    x = jnp.zeros((2, 16, 16, 1))
    k_base = jax.eval_shape(base.init, jax.random.PRNGKey(0), x)["params"]["from_image"]["kernel"]
    k_wide = jax.eval_shape(wide.init, jax.random.PRNGKey(0), x)["params"]["from_image"]["kernel"]
    assert k_base.shape[-1] == 8 and k_wide.shape[-1] == 16


def test_dcgan_rejects_unsupported_sizes():
    with pytest.raises(ValueError, match="16, 32 or 64"):
        DCGANGenerator(28, 1).init(jax.random.PRNGKey(0), jnp.zeros((1, 10)))


def test_maxout_and_its_input_gradient_match_direct_computation():
    """The value is the max piece; d(sum(c * maxout(x)))/dx sums, over the units, c times the
    input weights of each unit's max piece."""
    layer = Maxout(features=3, pieces=4)
    x, c = normal(0, (5, 2), (5, 3))
    params = layer.init(jax.random.PRNGKey(1), x)
    w, b = params["params"]["Dense_0"]["kernel"], params["params"]["Dense_0"]["bias"]
    affine = (x @ w + b).reshape(5, 3, 4)
    np.testing.assert_allclose(layer.apply(params, x), affine.max(-1), rtol=1e-6)
    pieces, weights = affine.argmax(-1), np.asarray(w).reshape(2, 3, 4)
    want = [sum(c[n, f] * weights[:, f, pieces[n, f]] for f in range(3)) for n in range(5)]
    got = jax.grad(lambda v: jnp.sum(c * layer.apply(params, v)))(x)
    np.testing.assert_allclose(got, np.stack(want), rtol=1e-5, atol=1e-7)


def test_mlp_shapes_and_widths():
    g = MLPGenerator((2,), width=400, depth=4, width_mult=0.5)
    d = MLPDiscriminator(width=200, depth=3, width_mult=2.0, activation="maxout")
    z = jnp.zeros((7, 2))
    shape = jax.eval_shape  # shapes are what is asserted here: nothing to compute
    gv, dv = shape(g.init, jax.random.PRNGKey(0), z), shape(d.init, jax.random.PRNGKey(1), z)
    assert shape(g.apply, gv, z).shape == (7, 2)
    assert shape(d.apply, dv, z).shape == (7,)
    assert gv["params"]["hidden0"]["kernel"].shape == (2, 200)
    assert len([k for k in gv["params"] if k.startswith("hidden")]) == 4
    assert dv["params"]["hidden0"]["Dense_0"]["kernel"].shape == (2, 400 * 5)
    image_g = MLPGenerator((8, 8, 1), output="tanh")
    out = image_g.apply(image_g.init(jax.random.PRNGKey(0), z), z * 100)
    assert out.shape == (7, 8, 8, 1) and float(jnp.abs(out).max()) <= 1.0


def test_build_by_name_and_errors():
    cfg = load_config("configs/dcgan.py").model
    cfg.g.width, cfg.d.width, cfg.d.width_mult = 8, 8, 0.5
    g, d = models.build(cfg, (32, 32, 3))
    assert isinstance(g, DCGANGenerator) and g.channels == 3 and d.width_mult == 0.5
    assert (g.width, g.image_size, d.image_size, d.outputs) == (8, 32, 32, 1)  # the options passed through
    with pytest.raises(ValueError, match="square images"):
        models.build(cfg, (2,))
    cfg.d.conv_impl = "cudnn"
    with pytest.raises(ValueError, match=r"config.model.d.conv_impl='cudnn' is not one of"):
        models.build(cfg, (32, 32, 3))
    cfg.d.conv_impl = "custom_vjp"
    with cfg.unlocked():
        cfg.g.depth = 3  # an MLP option on the DCGAN
    with pytest.raises(ValueError, match=r"config.model.g has no option \['depth'\]"):
        models.build(cfg, (32, 32, 3))
    with pytest.raises(ValueError, match=r"config.model.d has no option \['widht'\]"):
        models.model_config("mlp", z_dim=2, d=dict(widht=3))
    with pytest.raises(ValueError, match="Unknown config.model.name"):
        models.build(ml_collections.ConfigDict(dict(name="stylegan")), (2,))


def test_mlp_generator_batch_norm_matches_a_hand_computation():
    """PacGAN's G: Linear without bias -> BatchNorm on the batch's statistics (epsilon 1e-4) ->
    unit, in training; the running averages move by 0.05 of each batch's statistics; inference
    normalises with them."""
    g = MLPGenerator(data_shape=(2,), width=8, depth=2, norm="batch", activation="tanh")
    z = normal(0, (32, 3))[0]
    variables = g.init(jax.random.PRNGKey(1), z, train=False)
    assert "bias" not in variables["params"]["hidden0"]
    out, mutated = g.apply(variables, z, train=True, mutable=["batch_stats"])
    p, x, means = variables["params"], np.asarray(z, np.float64), []
    for i in range(2):
        h = x @ np.asarray(p[f"hidden{i}"]["kernel"])
        mean, var = h.mean(0), h.var(0)
        means.append(mean)
        x = np.tanh(
            (h - mean) / np.sqrt(var + 1e-4) * np.asarray(p[f"bn{i}"]["scale"])
            + np.asarray(p[f"bn{i}"]["bias"])
        )
    want = x @ np.asarray(p["out"]["kernel"]) + np.asarray(p["out"]["bias"])
    np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(mutated["batch_stats"]["bn0"]["mean"], 0.05 * means[0], rtol=1e-4, atol=1e-6)
    inference = g.apply({**variables, "batch_stats": mutated["batch_stats"]}, z, train=False)
    assert not np.allclose(inference, out, atol=1e-3)  # running averages, not the batch's


@pytest.mark.parametrize("module", [MLPGenerator, MLPDiscriminator])
def test_mlp_weight_init_options(module):
    """normal: N(0, scale^2) (PacGAN's 0.02); orthogonal: W^T W = gain^2 I (the unrolled GAN's 1.4);
    biases start at 0. Every weight matrix, the head's and the output's included."""
    kwargs = {"data_shape": (2,)} if module is MLPGenerator else {"activation": "tanh"}
    x = jnp.ones((4, 256)) if module is MLPGenerator else jnp.ones((4, 2))
    for init, scale in (("normal", 0.02), ("orthogonal", 1.4)):
        net = module(width=256, depth=2, weight_init=init, weight_scale=scale, **kwargs)
        params = net.init(jax.random.PRNGKey(0), x, train=False)["params"]
        kernels = [
            leaf for path, leaf in jax.tree_util.tree_leaves_with_path(params) if "kernel" in str(path)
        ]
        assert len(kernels) == 3
        for name, leaf in jax.tree_util.tree_leaves_with_path(params):
            if "bias" in str(name):
                assert not np.any(leaf)
        hidden = np.asarray(params["hidden1"]["kernel"])  # 256 x 256
        if init == "normal":
            assert abs(hidden.std() - scale) < 0.02 * scale  # 65,536 draws: s.e. of the std ~0.3%
        else:
            np.testing.assert_allclose(hidden.T @ hidden, scale**2 * np.eye(256), atol=1e-4)


@pytest.mark.slow
def test_a_bfloat16_dcgan_tracks_the_float32_one(tmp_path):
    """config.model.dtype='bfloat16': G and D compute in bf16 (XLA:CPU itself runs each
    convolution in f32 on bf16-rounded operands), the state stays float32, and 300 steps of the
    smoke DCGAN log D(x), D(G(z)) within 0.02 and the D loss within 0.03 of the float32 run at every
    20-step interval (measured: at most 0.005 and 0.009) -- close, but not the
    float32 numbers (so bf16 is in effect)."""
    import json

    from gan_jax import trainer

    rows, states = {}, {}
    for dtype in models.DTYPES:
        config = load_config("configs/dcgan.py:smoke")
        config.model.dtype = dtype
        config.train.total_steps = 300
        config.log.update(every=20, sample_every=300)
        config.checkpoint.every, config.eval.every = 300, 0
        states[dtype] = trainer.train_and_evaluate(config, str(tmp_path / dtype), devices=jax.devices()[:1])
        lines = (tmp_path / dtype / "metrics.jsonl").read_text().splitlines()
        rows[dtype] = [json.loads(line) for line in lines]
    dtypes = [{x.dtype for x in jax.tree.leaves(states[dtype])} for dtype in models.DTYPES]
    assert dtypes[0] == dtypes[1] and jnp.bfloat16 not in dtypes[1]
    full, half = rows["float32"], rows["bfloat16"]
    assert [r["step"] for r in full] == [r["step"] for r in half] == list(range(20, 301, 20))
    for key, tolerance in (("d_real", 0.02), ("d_fake", 0.02), ("d_loss", 0.03)):
        gaps = [abs(a[key] - b[key]) for a, b in zip(full, half, strict=True)]
        assert max(gaps) < tolerance and max(gaps) > 0, (key, gaps)


def test_an_unknown_compute_dtype_is_a_config_error():
    config = models.model_config("mlp", z_dim=2)
    config.dtype = "float16"
    with pytest.raises(
        ValueError, match=r"config.model.dtype='float16' is not one of \('float32', 'bfloat16'\)"
    ):
        models.build(config, (2,))


def test_dcgan_d_dropout_drops_each_down_sampling_blocks_output_in_training_only():
    """model.d.dropout (the reference code's DropoutLayer, p 0.5): in training each block's output
    is zeroed with probability p and the rest scaled by 1 / (1 - p), a mask from the 'noise'
    stream; in inference mode D is the plain D."""
    x = normal(0, (64, 16, 16, 1))[0]
    dropped, plain = DCGANDiscriminator(16, width=8, dropout=0.5), DCGANDiscriminator(16, width=8)
    variables = plain.init(jax.random.PRNGKey(1), x, train=False)
    np.testing.assert_array_equal(
        dropped.apply(variables, x, train=False), plain.apply(variables, x, train=False)
    )

    def run(key):  # (the blocks' sown features, what each Dropout passed on)
        _, state = dropped.apply(
            variables,
            x,
            train=True,
            rngs={"noise": jax.random.PRNGKey(key)},
            mutable=["batch_stats", "intermediates"],
            capture_intermediates=lambda module, _: isinstance(module, nn.Dropout),
        )
        inter = state["intermediates"]
        outs = [inter[name]["__call__"][0] for name in sorted(inter) if name.startswith("Dropout")]
        return inter["features"], outs

    features, outs = run(5)
    assert len(features) == len(outs) == 2  # 16 px: from_image (16 -> 8) and down0 (8 -> 4)
    for block, out in zip(features, outs, strict=True):
        kept = out != 0
        np.testing.assert_allclose(np.where(kept, out, 0), np.where(kept, 2 * block, 0), rtol=1e-6)
        assert abs(float(kept.mean()) - 0.5) < 0.03, float(kept.mean())
    assert not np.array_equal(outs[0] != 0, run(6)[1][0] != 0)  # another key, another mask
    config = models.model_config("dcgan", z_dim=8, d=dict(dropout=1.0))
    with pytest.raises(
        models.ConfigError, match=r"config.model.d.dropout=1.0: a dropout rate is in \[0, 1\)"
    ):
        models.build(config, (16, 16, 1))


def test_dcgan_d_input_noise_is_gaussian_noise_on_the_image_in_training_only():
    """model.d.input_noise_std (the reference code's GaussianNoiseLayer, std 0.2): D in training
    judges x + std * eps, eps the 'noise' stream's normal draw; in inference mode x itself."""

    class Draw(nn.Module):  # the root module's first 'noise' draw, as D's own
        @nn.compact
        def __call__(self, x):
            return jax.random.normal(self.make_rng("noise"), x.shape)

    x = normal(0, (4, 16, 16, 1))[0]
    rngs = {"noise": jax.random.PRNGKey(5)}
    noisy, plain = DCGANDiscriminator(16, width=4, input_noise_std=0.2), DCGANDiscriminator(16, width=4)
    variables = plain.init(jax.random.PRNGKey(1), x, train=False)
    train = dict(train=True, rngs=rngs, mutable=["batch_stats"])
    eps = Draw().apply({}, x, rngs=rngs)
    want = plain.apply(variables, x + 0.2 * eps, **train)[0]
    np.testing.assert_array_equal(noisy.apply(variables, x, **train)[0], want)
    assert not np.allclose(want, plain.apply(variables, x, **train)[0])
    np.testing.assert_array_equal(
        noisy.apply(variables, x, train=False), plain.apply(variables, x, train=False)
    )


@pytest.mark.parametrize("shape", [(7,), (16, 256), (4, 4, 8, 16), (5, 5, 3, 2)])
def test_weights_drawn_as_a_vector_are_flaxs_to_the_bit(shape):
    """The project's normal initialisers draw a vector and reshape it (it compiles faster): the
    values must be exactly those of flax's initialisers, which draw the shape itself."""
    key = jax.random.PRNGKey(11)
    for ours, flax_init in (
        (normal_init(0.02), nn.initializers.normal(0.02)),
        (drawn_as(nn.initializers.truncated_normal(0.02)), nn.initializers.truncated_normal(0.02)),
    ):
        want = flax_init(key, shape, jnp.float32)
        np.testing.assert_array_equal(ours(key, shape, jnp.float32), want)
        np.testing.assert_array_equal(ours(key, shape), want)  # flax's default dtype when none is given
