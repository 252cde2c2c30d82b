"""Feature networks for the sample-quality metrics: the project's classifiers and InceptionV3.

A FeatureNet maps images in [-1, 1] to (logits, features) in batches, and carries the protocol
that every number computed with it records: its name, what it was trained on, its checksum, and
for InceptionV3 the resize that brings images to its 299x299 input -- part of the metric's
protocol (Parmar et al. 2022, clean-fid): `legacy`, pytorch-fid's bilinear resize without
antialiasing inside the network, or `clean`, clean-fid's PIL bicubic resize with antialiasing on
the host (checked against clean-fid's own resizer, tests/test_inception.py).
"""

import dataclasses
import hashlib
import io
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from etils import epath
from PIL import Image

from gan_jax import weights
from gan_jax.errors import ConfigError, MissingFileError


@dataclasses.dataclass(frozen=True)
class FeatureNet:
    name: str
    protocol: dict  # recorded with every metric computed with this network
    apply: Callable[[jax.Array], tuple[jax.Array, jax.Array]]
    channels: int  # input channels it takes (1: grey digits, 3: RGB)
    image_size: int | None  # input size it requires; None: any (it resizes)
    batch_size: int = 1000
    prepare: Callable[[np.ndarray], np.ndarray] = lambda images: images  # on the host, per batch

    def logits_and_features(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        outs = [
            jax.device_get(self.apply(jnp.asarray(self.prepare(images[i : i + self.batch_size]))))
            for i in range(0, len(images), self.batch_size)
        ]
        return np.concatenate([o[0] for o in outs]), np.concatenate([o[1] for o in outs])

    def accuracy(self, images: np.ndarray, labels: np.ndarray) -> float:
        logits, _ = self.logits_and_features(images)
        return float((logits.argmax(1) == labels).mean())


# How images reach each network, by config.eval.resize: part of every metric's protocol.
INPUTS = {
    "inception": {
        "legacy": "grey repeated to RGB, bilinear resize to 299x299 (align_corners=False, no "
        "antialiasing), as pytorch-fid",
        "clean": "grey repeated to RGB, clean-fid's resize to 299x299: each channel in [0, 255] as a "
        "float PIL image, bicubic with antialiasing, clipped to [0, 255]",
    },
    "dinov2": {
        "legacy": "8-bit RGB (grey repeated), PIL bicubic resize of the image to 224x224 (dgm-eval's "
        "default: torchvision's Resize on a PIL image), /255, ImageNet mean/std",
        "clean": "8-bit RGB (grey repeated), each channel a float PIL image resized bicubic to 224x224 "
        "and clipped (dgm-eval's clean_resize, clean-fid's), /255, ImageNet mean/std",
    },
}
RESIZES = tuple(INPUTS["inception"])


def clean_resize(images: np.ndarray, size: int) -> np.ndarray:
    """clean-fid's resize of images (N, H, W, C) with values in [0, 255] -> float32 (N, size,
    size, C): every channel a float PIL image, bicubic (PIL antialiases when it shrinks)."""

    def channel(x: np.ndarray) -> np.ndarray:
        resized = Image.fromarray(x.astype(np.float32)).resize((size, size), Image.Resampling.BICUBIC)
        return np.asarray(resized).clip(0, 255)

    return np.stack([np.stack([channel(im[..., c]) for c in range(im.shape[-1])], -1) for im in images])


def clean_prepare(images: np.ndarray, size: int) -> np.ndarray:
    """Images in [-1, 1] (grey or RGB) -> RGB at size x size in [-1, 1], by clean_resize."""
    images = np.asarray(images, np.float32)
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    return clean_resize((images + 1.0) * 127.5, size) / 127.5 - 1.0


def _check_resize(resize: str) -> None:
    if resize not in RESIZES:
        raise ConfigError(f"config.eval.resize={resize!r}: choose one of {list(RESIZES)}.")


def _read_weights(file: epath.Path, missing: str) -> tuple[dict[str, np.ndarray], str]:
    """(state dict, SHA-256) of a PyTorch .pth (reading it needs the `bench` extra's torch) or
    an .npz of the same named arrays."""
    if not file.is_file():
        raise MissingFileError(f"No weights at {file}. {missing}")
    blob = file.read_bytes()
    if file.suffix == ".npz":
        with np.load(io.BytesIO(blob)) as archive:
            state_dict = dict(archive)
    else:
        import torch

        loaded = torch.load(io.BytesIO(blob), map_location="cpu", weights_only=True)
        state_dict = {k: v.numpy() for k, v in loaded.items()}
    return state_dict, hashlib.sha256(blob).hexdigest()


def load_inception(path: str, resize: str = "legacy") -> FeatureNet:
    """InceptionV3 for FID from user-supplied weights (pytorch-fid's .pth, or an .npz of the
    same named arrays), or, with path 'auto', pytorch-fid's file fetched and verified once into
    the cache (gan_jax/weights.py). Inputs: any size, 1 or 3 channels, resized as `resize`
    (INPUTS) says."""
    from gan_jax.models import inception

    _check_resize(resize)
    file = weights.fetch(weights.INCEPTION) if path == "auto" else epath.Path(path)
    state_dict, digest = _read_weights(
        file,
        "Supply pytorch-fid's pt_inception-2015-12-05-6726825d.pth (or an .npz of its arrays), or "
        "'auto' to download and verify it.",
    )
    variables = inception.from_torch_state_dict(state_dict)
    net = inception.FIDInceptionV3()
    apply = jax.jit(lambda x: net.apply(variables, inception.preprocess(x)))
    protocol = {
        "name": "InceptionV3-FID",
        "weights": str(file),
        "sha256": digest,
        "official_fid_weights": digest.startswith(weights.INCEPTION.sha256),
        "features": "pool3, 2048-d; logits: the graph's 1,008-way classifier",
        "resize": resize,
        "input": INPUTS["inception"][resize],
    }
    prepare = (lambda x: clean_prepare(x, inception.INPUT_SIZE)) if resize == "clean" else (lambda x: x)
    return FeatureNet("InceptionV3", protocol, apply, 3, None, 50, prepare)


# DINOv2's input as dgm-eval (Stein et al. 2023) builds it from image files: 8-bit RGB, resized
# to 224x224 on the host, scaled to [0, 1], normalised by ImageNet's statistics.
DINOV2_SIZE = 224
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


def _pil_bicubic(image: np.ndarray, size: int) -> np.ndarray:
    return np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BICUBIC))


def dinov2_prepare(images: np.ndarray, resize: str) -> np.ndarray:
    """Images in [-1, 1] (grey or RGB) -> DINOv2's normalised 224x224 RGB input, through the 8-bit
    image a saved sample would be."""
    rgb = np.clip(np.rint((np.asarray(images, np.float32) + 1.0) * 127.5), 0, 255).astype(np.uint8)
    if rgb.shape[-1] == 1:
        rgb = np.repeat(rgb, 3, axis=-1)
    if resize == "legacy":
        resized = np.stack([_pil_bicubic(im, DINOV2_SIZE) for im in rgb])
    else:
        resized = clean_resize(rgb.astype(np.float32), DINOV2_SIZE)
    return ((resized.astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD).astype(np.float32)


def load_dinov2(path: str, resize: str = "legacy") -> FeatureNet:
    """DINOv2 for FD_DINOv2 (Stein et al. 2023) from the official weights (ViT-S/B/L/14
    `dinov2_vit*14_pretrain.pth`, or an .npz of the same named arrays); its features are the
    CLS token (gan_jax/models/dinov2.py). It has no classifier head: no score on its logits.
    There is no 'auto': the authors publish no checksum of their files to verify a download by."""
    from gan_jax.models import dinov2

    _check_resize(resize)
    url = "https://dl.fbaipublicfiles.com/dinov2/dinov2_vitl14/dinov2_vitl14_pretrain.pth"
    state_dict, digest = _read_weights(
        epath.Path(path), f"Supply the official DINOv2 weights ({url}, as Stein et al.; or vits14/vitb14)."
    )
    arch, variables = dinov2.arch_of(state_dict), dinov2.from_torch_state_dict(state_dict)
    model = dinov2.model_for(state_dict)

    def apply(x):
        features = model.apply(variables, x)
        return jnp.zeros((x.shape[0], 0), features.dtype), features

    protocol = {
        "name": f"DINOv2-{arch.name}",
        "weights": str(path),
        "sha256": digest,
        "features": f"the final LayerNorm's CLS token, {arch.dim}-d (dgm-eval's)",
        "resize": resize,
        "input": INPUTS["dinov2"][resize],
    }
    prepare = lambda x: dinov2_prepare(x, resize)  # noqa: E731
    return FeatureNet(f"DINOv2-{arch.name}", protocol, jax.jit(apply), 3, None, 50, prepare)
