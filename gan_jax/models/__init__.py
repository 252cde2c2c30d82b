"""Generators and discriminators, built by name from `config.model`.

Every G maps z (N, z_dim) [and labels y (N,)] to samples (N, *data_shape); every D maps samples
[and labels] to logits (N,), or (N, K) class logits for the semi-supervised discriminator. Both
take `train` (batch statistics vs running averages) so steps treat all models alike.
Capacity: `g_width`/`d_width` are the paper's sizes (hidden units; channels at full resolution),
`g_mult`/`d_mult` scale them, the knob for unbalancing G and D on purpose (1.0: as published).
"""

from collections.abc import Callable

import flax.linen as nn
import ml_collections

from gan_jax.errors import ConfigError
from gan_jax.models.dcgan import CONV_IMPLS, D_NORMS, G_NORMS, DCGANDiscriminator, DCGANGenerator
from gan_jax.models.mlp import ACTIVATIONS, OUTPUTS, MLPDiscriminator, MLPGenerator

G_CONDITIONS, D_CONDITIONS = ("concat", "conditional_bn"), ("concat", "projection")


def _check_choice(value: str, choices: tuple[str, ...], key: str) -> None:
    if value not in choices:
        raise ConfigError(f"config.model.{key}={value!r} is not one of {choices}.")


def _head_options(cfg: ml_collections.ConfigDict, num_classes: int, d_outputs: int) -> dict:
    _check_choice(cfg.d_condition, D_CONDITIONS, "d_condition")
    if d_outputs > 1 and num_classes and cfg.d_condition == "projection":
        raise ConfigError(
            "A projection discriminator has one output; it cannot be the semi-supervised K-class D."
        )
    return dict(
        num_classes=num_classes,
        condition=cfg.d_condition,
        outputs=d_outputs,
        minibatch_kernels=cfg.minibatch_kernels,
        minibatch_kernel_dim=cfg.minibatch_kernel_dim,
        spectral_norm=cfg.get("d_spectral_norm", False),  # runs saved before the option: off
    )


def _build_mlp(cfg, data_shape, num_classes, d_outputs):
    for key in ("g_activation", "d_activation"):
        _check_choice(cfg[key], ACTIVATIONS, key)
    _check_choice(cfg.g_output, OUTPUTS, "g_output")
    if cfg.g_condition != "concat":
        raise ConfigError(
            "The MLP generator conditions by concatenation only (config.model.g_condition='concat')."
        )
    generator = MLPGenerator(
        data_shape, cfg.g_width, cfg.g_depth, cfg.g_mult, cfg.g_activation, cfg.g_output, num_classes
    )
    discriminator = MLPDiscriminator(
        cfg.d_width,
        cfg.d_depth,
        cfg.d_mult,
        cfg.d_activation,
        cfg.maxout_pieces,
        noise_std=cfg.d_noise,
        **_head_options(cfg, num_classes, d_outputs),
    )
    return generator, discriminator


def _build_dcgan(cfg, data_shape, num_classes, d_outputs):
    _check_choice(cfg.conv_impl, CONV_IMPLS, "conv_impl")
    _check_choice(cfg.g_condition, G_CONDITIONS, "g_condition")
    _check_choice(cfg.g_norm, G_NORMS, "g_norm")
    if len(data_shape) != 3 or data_shape[0] != data_shape[1]:
        raise ConfigError(f"DCGAN needs square images (H, W, C); the data source gives shape {data_shape}.")
    size, _, channels = data_shape
    ref_size = cfg.vbn_ref_size if cfg.g_norm == "virtual_batch" else 0
    generator = DCGANGenerator(
        size,
        channels,
        cfg.g_width,
        cfg.g_mult,
        cfg.conv_impl,
        num_classes,
        cfg.g_condition,
        cfg.g_norm,
        ref_size,
    )
    d_norm = cfg.get("d_norm", "batch")  # runs saved before the option: BatchNorm
    _check_choice(d_norm, D_NORMS, "d_norm")
    discriminator = DCGANDiscriminator(
        size,
        cfg.d_width,
        cfg.d_mult,
        cfg.conv_impl,
        norm=d_norm,
        **_head_options(cfg, num_classes, d_outputs),
    )
    return generator, discriminator


BUILDERS: dict[str, Callable] = {"mlp": _build_mlp, "dcgan": _build_dcgan}


def build(
    cfg: ml_collections.ConfigDict, data_shape: tuple[int, ...], num_classes: int = 0, d_outputs: int = 1
) -> tuple[nn.Module, nn.Module]:
    """(generator, discriminator) for `cfg.name` and data of per-example shape `data_shape`.

    num_classes > 0: condition both networks on labels; d_outputs > 1: D outputs that many class
    logits (the semi-supervised D)."""
    if cfg.name not in BUILDERS:
        raise ConfigError(f"Unknown config.model.name {cfg.name!r}; choose one of {sorted(BUILDERS)}.")
    return BUILDERS[cfg.name](cfg, tuple(data_shape), num_classes, d_outputs)
