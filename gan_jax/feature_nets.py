"""Feature networks for the sample-quality metrics: the project's classifiers and InceptionV3.

A FeatureNet maps images in [-1, 1] to (logits, features) in batches, and carries the protocol
that every number computed with it records: its name, what it was trained on, its checksum.
"""

import dataclasses
import hashlib
import io
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from etils import epath

from gan_jax import weights
from gan_jax.errors import MissingFileError


@dataclasses.dataclass(frozen=True)
class FeatureNet:
    name: str
    protocol: dict  # recorded with every metric computed with this network
    apply: Callable[[jax.Array], tuple[jax.Array, jax.Array]]
    channels: int  # input channels it takes (1: grey digits, 3: RGB)
    image_size: int | None  # input size it requires; None: any (it resizes)
    batch_size: int = 1000

    def logits_and_features(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        outs = [
            jax.device_get(self.apply(jnp.asarray(images[i : i + self.batch_size])))
            for i in range(0, len(images), self.batch_size)
        ]
        return np.concatenate([o[0] for o in outs]), np.concatenate([o[1] for o in outs])

    def accuracy(self, images: np.ndarray, labels: np.ndarray) -> float:
        logits, _ = self.logits_and_features(images)
        return float((logits.argmax(1) == labels).mean())


def load_inception(path: str) -> FeatureNet:
    """InceptionV3 for FID from user-supplied weights (pytorch-fid's .pth, or an .npz of the
    same named arrays), or, with path 'auto', pytorch-fid's file fetched and verified once into
    the cache (gan_jax/weights.py). Inputs: any size, 1 or 3 channels."""
    from gan_jax.models import inception

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
        "input": "grey repeated to RGB, bilinear resize to 299x299 (align_corners=False)",
    }
    return FeatureNet("InceptionV3", protocol, apply, channels=3, image_size=None, batch_size=50)
