"""Generators and discriminators, built by name from `config.model`.

Every G maps z (N, z_dim) to samples (N, *data_shape); every D maps samples to logits (N,).
Both take `train` (batch statistics vs running averages) so steps treat all models alike.
Capacity: `g_width`/`d_width` are the paper's sizes (hidden units; channels at full resolution),
`g_mult`/`d_mult` scale them, the knob for unbalancing G and D on purpose (1.0: as published).
"""

from collections.abc import Callable

import flax.linen as nn
import ml_collections

from gan_jax.models.dcgan import CONV_IMPLS, DCGANDiscriminator, DCGANGenerator
from gan_jax.models.mlp import ACTIVATIONS, OUTPUTS, MLPDiscriminator, MLPGenerator


def _check_choice(value: str, choices: tuple[str, ...], key: str) -> None:
    if value not in choices:
        raise ValueError(f"config.model.{key}={value!r} is not one of {choices}.")


def _build_mlp(cfg: ml_collections.ConfigDict, data_shape: tuple[int, ...]):
    for key in ("g_activation", "d_activation"):
        _check_choice(cfg[key], ACTIVATIONS, key)
    _check_choice(cfg.g_output, OUTPUTS, "g_output")
    generator = MLPGenerator(data_shape, cfg.g_width, cfg.g_depth, cfg.g_mult, cfg.g_activation, cfg.g_output)
    discriminator = MLPDiscriminator(
        cfg.d_width, cfg.d_depth, cfg.d_mult, cfg.d_activation, cfg.maxout_pieces
    )
    return generator, discriminator


def _build_dcgan(cfg: ml_collections.ConfigDict, data_shape: tuple[int, ...]):
    _check_choice(cfg.conv_impl, CONV_IMPLS, "conv_impl")
    if len(data_shape) != 3 or data_shape[0] != data_shape[1]:
        raise ValueError(f"DCGAN needs square images (H, W, C); the data source gives shape {data_shape}.")
    size, _, channels = data_shape
    generator = DCGANGenerator(size, channels, cfg.g_width, cfg.g_mult, cfg.conv_impl)
    discriminator = DCGANDiscriminator(size, cfg.d_width, cfg.d_mult, cfg.conv_impl)
    return generator, discriminator


BUILDERS: dict[str, Callable] = {"mlp": _build_mlp, "dcgan": _build_dcgan}


def build(cfg: ml_collections.ConfigDict, data_shape: tuple[int, ...]) -> tuple[nn.Module, nn.Module]:
    """(generator, discriminator) for `cfg.name` and data of per-example shape `data_shape`."""
    if cfg.name not in BUILDERS:
        raise ValueError(f"Unknown config.model.name {cfg.name!r}; choose one of {sorted(BUILDERS)}.")
    return BUILDERS[cfg.name](cfg, tuple(data_shape))
