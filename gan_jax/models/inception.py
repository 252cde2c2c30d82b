"""InceptionV3 as used for FID (the TensorFlow graph of Heusel et al., as ported by pytorch-fid),
returning the 2,048-d pool3 features. Weights are never downloaded: the user supplies them.

The FID network differs from torchvision's InceptionV3: its average-pool branches exclude the
padding from the count, and the last block's pool branch is a max-pool. Module names follow the
PyTorch state dict (Conv2d_1a_3x3, Mixed_5b.branch1x1, ...), so `from_torch_state_dict` converts
pytorch-fid's `pt_inception-2015-12-05-6726825d.pth` (or an .npz of the same arrays) by name.
A test checks the outputs against pytorch-fid itself on random weights.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

INPUT_SIZE = 299


class BasicConv(nn.Module):
    """conv (no bias) -> BatchNorm(eps 1e-3, running statistics) -> ReLU."""

    features: int
    kernel: tuple[int, int]
    stride: int = 1
    padding: tuple[int, int] = (0, 0)

    @nn.compact
    def __call__(self, x):
        pad = tuple((p, p) for p in self.padding)
        x = nn.Conv(self.features, self.kernel, self.stride, pad, use_bias=False, name="conv")(x)
        x = nn.BatchNorm(use_running_average=True, epsilon=1e-3, name="bn")(x)
        return nn.relu(x)


def _avg_pool(x):
    return nn.avg_pool(x, (3, 3), (1, 1), ((1, 1), (1, 1)), count_include_pad=False)


def _max_pool(x, stride=2, pad=0):
    return nn.max_pool(x, (3, 3), (stride, stride), ((pad, pad), (pad, pad)))


class InceptionA(nn.Module):
    pool_features: int

    @nn.compact
    def __call__(self, x):
        b1 = BasicConv(64, (1, 1), name="branch1x1")(x)
        b5 = BasicConv(48, (1, 1), name="branch5x5_1")(x)
        b5 = BasicConv(64, (5, 5), padding=(2, 2), name="branch5x5_2")(b5)
        b3 = BasicConv(64, (1, 1), name="branch3x3dbl_1")(x)
        b3 = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(b3)
        b3 = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_3")(b3)
        bp = BasicConv(self.pool_features, (1, 1), name="branch_pool")(_avg_pool(x))
        return jnp.concatenate([b1, b5, b3, bp], -1)


class InceptionB(nn.Module):
    @nn.compact
    def __call__(self, x):
        b3 = BasicConv(384, (3, 3), stride=2, name="branch3x3")(x)
        bd = BasicConv(64, (1, 1), name="branch3x3dbl_1")(x)
        bd = BasicConv(96, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(bd)
        bd = BasicConv(96, (3, 3), stride=2, name="branch3x3dbl_3")(bd)
        return jnp.concatenate([b3, bd, _max_pool(x)], -1)


class InceptionC(nn.Module):
    channels_7x7: int

    @nn.compact
    def __call__(self, x):
        c7 = self.channels_7x7
        b1 = BasicConv(192, (1, 1), name="branch1x1")(x)
        b7 = BasicConv(c7, (1, 1), name="branch7x7_1")(x)
        b7 = BasicConv(c7, (1, 7), padding=(0, 3), name="branch7x7_2")(b7)
        b7 = BasicConv(192, (7, 1), padding=(3, 0), name="branch7x7_3")(b7)
        bd = BasicConv(c7, (1, 1), name="branch7x7dbl_1")(x)
        bd = BasicConv(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_2")(bd)
        bd = BasicConv(c7, (1, 7), padding=(0, 3), name="branch7x7dbl_3")(bd)
        bd = BasicConv(c7, (7, 1), padding=(3, 0), name="branch7x7dbl_4")(bd)
        bd = BasicConv(192, (1, 7), padding=(0, 3), name="branch7x7dbl_5")(bd)
        bp = BasicConv(192, (1, 1), name="branch_pool")(_avg_pool(x))
        return jnp.concatenate([b1, b7, bd, bp], -1)


class InceptionD(nn.Module):
    @nn.compact
    def __call__(self, x):
        b3 = BasicConv(192, (1, 1), name="branch3x3_1")(x)
        b3 = BasicConv(320, (3, 3), stride=2, name="branch3x3_2")(b3)
        b7 = BasicConv(192, (1, 1), name="branch7x7x3_1")(x)
        b7 = BasicConv(192, (1, 7), padding=(0, 3), name="branch7x7x3_2")(b7)
        b7 = BasicConv(192, (7, 1), padding=(3, 0), name="branch7x7x3_3")(b7)
        b7 = BasicConv(192, (3, 3), stride=2, name="branch7x7x3_4")(b7)
        return jnp.concatenate([b3, b7, _max_pool(x)], -1)


class InceptionE(nn.Module):
    max_pool_branch: bool  # FID's last block (Mixed_7c) pools by max, the one before by average

    @nn.compact
    def __call__(self, x):
        b1 = BasicConv(320, (1, 1), name="branch1x1")(x)
        b3 = BasicConv(384, (1, 1), name="branch3x3_1")(x)
        b3 = jnp.concatenate(
            [
                BasicConv(384, (1, 3), padding=(0, 1), name="branch3x3_2a")(b3),
                BasicConv(384, (3, 1), padding=(1, 0), name="branch3x3_2b")(b3),
            ],
            -1,
        )
        bd = BasicConv(448, (1, 1), name="branch3x3dbl_1")(x)
        bd = BasicConv(384, (3, 3), padding=(1, 1), name="branch3x3dbl_2")(bd)
        bd = jnp.concatenate(
            [
                BasicConv(384, (1, 3), padding=(0, 1), name="branch3x3dbl_3a")(bd),
                BasicConv(384, (3, 1), padding=(1, 0), name="branch3x3dbl_3b")(bd),
            ],
            -1,
        )
        pooled = _max_pool(x, stride=1, pad=1) if self.max_pool_branch else _avg_pool(x)
        bp = BasicConv(192, (1, 1), name="branch_pool")(pooled)
        return jnp.concatenate([b1, b3, bd, bp], -1)


class FIDInceptionV3(nn.Module):
    """images (N, H, W, 3) in [-1, 1] (299x299 for FID) -> (logits (N, 1008), pool3 (N, 2048)).

    The logits are the 1,008-way ImageNet classifier of the same graph, the one the Inception
    Score uses."""

    @nn.compact
    def __call__(self, x):
        x = BasicConv(32, (3, 3), stride=2, name="Conv2d_1a_3x3")(x)
        x = BasicConv(32, (3, 3), name="Conv2d_2a_3x3")(x)
        x = BasicConv(64, (3, 3), padding=(1, 1), name="Conv2d_2b_3x3")(x)
        x = _max_pool(x)
        x = BasicConv(80, (1, 1), name="Conv2d_3b_1x1")(x)
        x = BasicConv(192, (3, 3), name="Conv2d_4a_3x3")(x)
        x = _max_pool(x)
        for name, pool in (("Mixed_5b", 32), ("Mixed_5c", 64), ("Mixed_5d", 64)):
            x = InceptionA(pool, name=name)(x)
        x = InceptionB(name="Mixed_6a")(x)
        for name, c7 in (("Mixed_6b", 128), ("Mixed_6c", 160), ("Mixed_6d", 160), ("Mixed_6e", 192)):
            x = InceptionC(c7, name=name)(x)
        x = InceptionD(name="Mixed_7a")(x)
        x = InceptionE(False, name="Mixed_7b")(x)
        x = InceptionE(True, name="Mixed_7c")(x)
        pool3 = x.mean(axis=(1, 2))
        return nn.Dense(1008, name="fc")(pool3), pool3


def preprocess(images: jax.Array) -> jax.Array:
    """pytorch-fid's input pipeline for images in [-1, 1]: grey -> RGB, bilinear resize to 299
    (align_corners=False, no antialiasing), kept in [-1, 1]."""
    if images.shape[-1] == 1:
        images = jnp.repeat(images, 3, axis=-1)
    shape = (images.shape[0], INPUT_SIZE, INPUT_SIZE, 3)
    if images.shape == shape:  # resized already (feature_nets.clean_prepare)
        return images
    return jax.image.resize(images, shape, "bilinear", antialias=False)


def from_torch_state_dict(state_dict: dict[str, np.ndarray]) -> dict:
    """Flax variables from pytorch-fid's state dict (arrays keyed by the PyTorch names)."""
    variables: dict = {"params": {}, "batch_stats": {}}
    leaf_names = {
        "weight": ("params", "scale"),
        "bias": ("params", "bias"),
        "running_mean": ("batch_stats", "mean"),
        "running_var": ("batch_stats", "var"),
    }
    for key, value in state_dict.items():
        *path, layer, leaf = key.split(".")
        if path and path[0] == "AuxLogits" or leaf == "num_batches_tracked":
            continue
        value = np.asarray(value, np.float32)
        if layer == "fc":
            collection, name = "params", "kernel" if leaf == "weight" else "bias"
            value = value.T if leaf == "weight" else value
        elif layer == "conv":
            collection, name, value = "params", "kernel", value.transpose(2, 3, 1, 0)  # OIHW->HWIO
        else:
            collection, name = leaf_names[leaf]
        node = variables[collection]
        for part in (*path, layer):
            node = node.setdefault(part, {})
        node[name] = value
    return variables
