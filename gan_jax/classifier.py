"""The project's own digit classifier: the feature network of FD/KID/precision-recall on digit
data, and the mode counter of stacked MNIST.

A small CNN (two 3x3 conv pairs with max-pooling, a 128-unit penultimate layer whose activations
are the features, a linear layer to the class logits), trained by `experiments/train_classifier.py`
and saved as a directory with `params.msgpack` and `info.json` (what it was trained on, the
held-out split and its test accuracy, the SHA-256 of the parameters). Every number computed with
it is named after it (e.g. FD-CNN-mnist32), so that nobody mistakes it for Inception FID.
"""

import hashlib
import json

import flax.linen as nn
import flax.serialization
import jax
import jax.numpy as jnp
import numpy as np
import optax
from etils import epath

import gan_jax
from gan_jax.errors import DataError, MissingFileError
from gan_jax.feature_nets import FeatureNet

PARAMS_FILE, INFO_FILE = "params.msgpack", "info.json"


class CNN(nn.Module):
    num_classes: int
    features: int = 128

    @nn.compact
    def __call__(self, x: jax.Array) -> tuple[jax.Array, jax.Array]:
        """images (N, H, W, C) in [-1, 1] -> (logits (N, classes), features (N, 128))."""
        for width in (32, 64):
            x = nn.relu(nn.Conv(width, (3, 3))(x))
            x = nn.relu(nn.Conv(width, (3, 3))(x))
            x = nn.max_pool(x, (2, 2), (2, 2))
        features = nn.relu(nn.Dense(self.features)(x.reshape(x.shape[0], -1)))
        return nn.Dense(self.num_classes)(features), features


def train(
    images: np.ndarray,
    labels: np.ndarray,
    num_classes: int,
    epochs: int,
    seed: int = 0,
    batch_size: int = 128,
    lr: float = 1e-3,
) -> dict:
    """Adam on cross-entropy; images uint8 (N, H, W, C). Returns the parameters."""
    model = CNN(num_classes)
    params = model.init(jax.random.PRNGKey(seed), jnp.zeros((1, *images.shape[1:])))["params"]
    tx = optax.adam(lr)
    opt_state = tx.init(params)

    @jax.jit
    def step(params, opt_state, x, y):
        def loss(p):
            logits, _ = model.apply({"params": p}, x.astype(jnp.float32) / 127.5 - 1.0)
            return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

        grads = jax.grad(loss)(params)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    rng = np.random.default_rng(seed)
    for _ in range(epochs):
        order = rng.permutation(len(images))
        for start in range(0, len(order) - batch_size + 1, batch_size):
            idx = order[start : start + batch_size]
            params, opt_state = step(params, opt_state, images[idx], labels[idx])
    return params


def save(directory: epath.Path, params: dict, info: dict) -> dict:
    directory.mkdir(parents=True, exist_ok=True)
    blob = flax.serialization.to_bytes(params)
    (directory / PARAMS_FILE).write_bytes(blob)
    info = {**info, "sha256": hashlib.sha256(blob).hexdigest()}
    (directory / INFO_FILE).write_text(json.dumps(info, indent=2) + "\n")
    return info


def load(directory: str | epath.Path) -> FeatureNet:
    """Loads and verifies a classifier saved by `save`; clear errors when missing or altered."""
    directory = gan_jax.in_repo(directory)
    if not (directory / INFO_FILE).exists() or not (directory / PARAMS_FILE).exists():
        raise MissingFileError(
            f"No classifier in {directory} (expected {INFO_FILE} and {PARAMS_FILE}). Train one "
            "with: python -m experiments.train_classifier --data=<source> --image_size=<px> "
            f"--out={directory}"
        )
    info = json.loads((directory / INFO_FILE).read_text())
    blob = (directory / PARAMS_FILE).read_bytes()
    digest = hashlib.sha256(blob).hexdigest()
    if digest != info["sha256"]:
        raise DataError(
            f"Classifier {directory} fails its checksum: {PARAMS_FILE} has SHA-256 {digest}, "
            f"{INFO_FILE} says {info['sha256']}. The file was altered or damaged; retrain it."
        )
    model = CNN(info["num_classes"])
    shape = (1, info["image_size"], info["image_size"], info["channels"])
    # the parameters' structure only: initialising them would compile every layer's ops for
    # values the file overwrites
    template = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), jnp.zeros(shape)))["params"]
    return feature_net(flax.serialization.from_bytes(template, blob), info)


def feature_net(params: dict, info: dict) -> FeatureNet:
    model = CNN(info["num_classes"])
    apply = jax.jit(lambda x: model.apply({"params": params}, x))
    keys = ("name", "data", "image_size", "test_accuracy", "num_test", "split", "sha256", "note")
    protocol = {k: info[k] for k in keys if k in info}
    return FeatureNet(info["name"], protocol, apply, info["channels"], info["image_size"])
