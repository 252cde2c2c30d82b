"""Generators and discriminators, built by name from `config.model`.

`config.model` holds the architecture's `name` ('mlp', 'dcgan', 'dcgan_tf' or 'resnet'), `z_dim`,
`conditional`, and two sections `g` and `d` that are passed to the G and D modules as keyword
arguments (as big_vision passes `config.model`): a new option is one module field, and the
modules' fields with their defaults are the schema (`model_config`). What the data and the
objective decide -- the data's shape, the number of classes, D's outputs -- is set here, never in
a config.

Every G maps z (N, z_dim) [and labels y (N,)] to samples (N, *data_shape); every D maps samples
[and labels] to logits (N,), or (N, K) class logits for the semi-supervised discriminator. Both
take `train` (batch statistics vs running averages) so steps treat all models alike.
Capacity: `width` is the paper's size (hidden units; channels at full resolution) and
`width_mult` scales it, the knob for unbalancing G and D on purpose (1.0: as published).
"""

import dataclasses

import flax.linen as nn
import ml_collections

from gan_jax.errors import ConfigError
from gan_jax.models.dcgan import DCGANDiscriminator, DCGANGenerator
from gan_jax.models.dcgan_tf import DCGANTFDiscriminator, DCGANTFGenerator
from gan_jax.models.mlp import MLPDiscriminator, MLPGenerator
from gan_jax.models.resnet import ResNetDiscriminator, ResNetGenerator

ARCHITECTURES: dict[str, tuple[type[nn.Module], type[nn.Module]]] = {
    "mlp": (MLPGenerator, MLPDiscriminator),
    "dcgan": (DCGANGenerator, DCGANDiscriminator),
    "dcgan_tf": (DCGANTFGenerator, DCGANTFDiscriminator),
    "resnet": (ResNetGenerator, ResNetDiscriminator),
}
DTYPES = ("float32", "bfloat16")  # compute dtypes; parameters and statistics stay float32
_SET_HERE = {"data_shape", "image_size", "channels", "num_classes", "outputs", "parent", "name"}


def _architecture(name: str) -> tuple[type[nn.Module], type[nn.Module]]:
    if name not in ARCHITECTURES:
        raise ConfigError(f"Unknown config.model.name {name!r}; choose one of {sorted(ARCHITECTURES)}.")
    return ARCHITECTURES[name]


def options(module: type[nn.Module]) -> dict:
    """A module's configurable fields and their defaults: what config.model.g / .d may hold."""
    return {
        f.name: f.default
        for f in dataclasses.fields(module)
        if f.name not in _SET_HERE and f.default is not dataclasses.MISSING
    }


def _checked(module: type[nn.Module], values: dict, section: str) -> dict:
    """`values` as keyword arguments of `module`: an unknown option or a value outside the
    module's CHOICES is a ConfigError naming config.model.<section>.<option>."""
    allowed = options(module)
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise ConfigError(
            f"config.model.{section} has no option {unknown} ({module.__name__} takes {sorted(allowed)})."
        )
    for key, choices in module.CHOICES.items():
        if key in values and values[key] not in choices:
            raise ConfigError(f"config.model.{section}.{key}={values[key]!r} is not one of {choices}.")
    return dict(values)


def model_config(
    name: str, z_dim: int, conditional: bool = False, g: dict | None = None, d: dict | None = None
) -> ml_collections.ConfigDict:
    """config.model for architecture `name`: every option of its G and D at the module's default,
    then `g` and `d` (an unknown option is an error here, when the config file is read)."""
    generator, discriminator = _architecture(name)
    return ml_collections.ConfigDict(
        dict(
            name=name,
            z_dim=z_dim,
            z_dist="normal",  # G's noise: N(0, I), or 'uniform' U(-1, 1) (state.GAN.noise)
            conditional=conditional,  # condition G and D on the data's class labels
            dtype="float32",  # compute dtype of G and D ('bfloat16': mixed precision, models/apply.py)
            g={**options(generator), **_checked(generator, g or {}, "g")},
            d={**options(discriminator), **_checked(discriminator, d or {}, "d")},
        )
    )


def build(
    cfg: ml_collections.ConfigDict, data_shape: tuple[int, ...], num_classes: int = 0, d_outputs: int = 1
) -> tuple[nn.Module, nn.Module]:
    """(generator, discriminator) for `cfg.name` and data of per-example shape `data_shape`.

    num_classes > 0: condition both networks on labels; d_outputs > 1: D outputs that many class
    logits (the semi-supervised D)."""
    generator, discriminator = _architecture(cfg.name)
    if cfg.get("dtype", "float32") not in DTYPES:
        raise ConfigError(f"config.model.dtype={cfg.dtype!r} is not one of {DTYPES}.")
    if "g" not in cfg or "d" not in cfg:
        raise ConfigError(
            "config.model has no `g` and `d` sections: this config predates them (G's and D's options "
            "were flat keys such as model.g_width). Rebuild it from the config file (models.model_config)."
        )
    g, d = _checked(generator, cfg.g.to_dict(), "g"), _checked(discriminator, cfg.d.to_dict(), "d")
    if d["pack"] < 1 or (d["pack"] > 1 and (num_classes or d_outputs > 1)):
        raise ConfigError(
            f"config.model.d.pack={d['pack']}: packing (PacGAN) takes a whole number >= 1, and "
            "judges unlabelled packs: not with a conditional or semi-supervised D (set it to 1)."
        )
    std = d.get("minibatch_std", 0)  # (not every D has the option)
    if std < 0 or std == 1:
        raise ConfigError(
            f"config.model.d.minibatch_std={std}: the group size of the minibatch "
            "standard deviation is 0 (off) or at least 2 (Karras et al. use 4)."
        )
    if not 0 <= d.get("dropout", 0.0) < 1:
        raise ConfigError(f"config.model.d.dropout={d['dropout']}: a dropout rate is in [0, 1) (0: off).")
    if d_outputs > 1 and num_classes and d.get("condition") == "projection":
        raise ConfigError(
            "A projection discriminator has one output; it cannot be the semi-supervised K-class D."
        )
    data_shape = tuple(data_shape)
    return (
        generator(**g, **generator.data_fields(data_shape), num_classes=num_classes),
        discriminator(
            **d, **discriminator.data_fields(data_shape), num_classes=num_classes, outputs=d_outputs
        ),
    )
