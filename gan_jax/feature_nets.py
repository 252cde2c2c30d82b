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


RESIZES = {
    "legacy": "grey repeated to RGB, bilinear resize to 299x299 (align_corners=False, no "
    "antialiasing), as pytorch-fid",
    "clean": "grey repeated to RGB, clean-fid's resize to 299x299: each channel in [0, 255] as a "
    "float PIL image, bicubic with antialiasing, clipped to [0, 255]",
}


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


def load_inception(path: str, resize: str = "legacy") -> FeatureNet:
    """InceptionV3 for FID from user-supplied weights (pytorch-fid's .pth, or an .npz of the
    same named arrays), or, with path 'auto', pytorch-fid's file fetched and verified once into
    the cache (gan_jax/weights.py). Inputs: any size, 1 or 3 channels, resized as `resize`
    (RESIZES) says."""
    from gan_jax.models import inception

    if resize not in RESIZES:
        raise ConfigError(f"config.eval.resize={resize!r}: choose one of {list(RESIZES)}.")
    file = weights.fetch(weights.INCEPTION) if path == "auto" else epath.Path(path)
    if not file.is_file():
        raise MissingFileError(
            f"No InceptionV3 weights at {file}. Supply pytorch-fid's "
            "pt_inception-2015-12-05-6726825d.pth (or an .npz of its arrays), or 'auto' to "
            "download and verify it."
        )
    blob = file.read_bytes()
    digest = hashlib.sha256(blob).hexdigest()
    state_dict = inception.load_state_dict(io.BytesIO(blob), npz=file.suffix == ".npz")
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
        "input": RESIZES[resize],
    }
    prepare = (lambda x: clean_prepare(x, inception.INPUT_SIZE)) if resize == "clean" else (lambda x: x)
    return FeatureNet("InceptionV3", protocol, apply, 3, None, 50, prepare)
