"""DINOv2 (Oquab et al. 2023), the feature network of FD_DINOv2 (Stein et al. 2023).

The official model as torch.hub builds it (facebookresearch/dinov2: models/vision_transformer.py,
hub/backbones.py): 14x14 patches, a 37x37 grid of position embeddings (518 px pretraining),
pre-norm blocks with LayerScale, no register tokens; the feature is the final LayerNorm's CLS token
(the model's output, what dgm-eval reads: 384-d for ViT-S/14, 768 for ViT-B/14, 1,024 for ViT-L/14).
At another input size the position embeddings are resampled as the official code does it: torch's
bicubic interpolation (A = -0.75, align_corners=False, no antialiasing) at the scale factor
(grid + 0.1) / 37 -- the authors' `interpolate_offset` -- which `resampling_matrix` reproduces.
Weights: the official `dinov2_vit*14_pretrain.pth` files, converted by their names
(`from_torch_state_dict`); checked against the official code on random weights
(tests/test_dinov2.py, reference made by tests/dinov2_reference.py).
"""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

PATCH = 14
GRID = 37  # position embeddings per side: 518 / 14
INTERPOLATE_OFFSET = 0.1
CUBIC_A = -0.75  # torch's bicubic coefficient (PIL and jax.image use -0.5)
LAYER_NORM_EPS = 1e-6
HEAD_DIM = 64  # every official DINOv2 ViT: ViT-S/14 6 heads of 64, ViT-B/14 12, ViT-L/14 16


NAMES = {(384, 12): "ViT-S/14", (768, 12): "ViT-B/14", (1024, 24): "ViT-L/14"}


@dataclasses.dataclass(frozen=True)
class Arch:
    dim: int
    depth: int

    @property
    def heads(self) -> int:
        return self.dim // HEAD_DIM

    @property
    def name(self) -> str:
        return NAMES.get((self.dim, self.depth), f"ViT-{self.dim}x{self.depth}/14 (not an official DINOv2)")


def _cubic(t: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with torch's A, at distances t >= 0."""
    a = CUBIC_A
    near = ((a + 2) * t - (a + 3)) * t * t + 1
    far = ((a * t - 5 * a) * t + 8 * a) * t - 4 * a
    return np.where(t <= 1, near, np.where(t < 2, far, 0.0))


def resampling_matrix(size_in: int, size_out: int, scale: float) -> np.ndarray:
    """(size_out, size_in) weights of torch's 1-D bicubic interpolation at `scale_factor` (its
    align_corners=False source coordinate, border indices clamped): out = W @ in."""
    source = (np.arange(size_out) + 0.5) / scale - 0.5
    floor = np.floor(source)
    weights = np.zeros((size_out, size_in))
    for offset in (-1, 0, 1, 2):
        index = np.clip(floor + offset, 0, size_in - 1).astype(int)
        np.add.at(weights, (np.arange(size_out), index), _cubic(np.abs(source - (floor + offset))))
    return weights


def resample_positions(pos_embed: jax.Array, height: int, width: int) -> jax.Array:
    """The (1, 1 + GRID^2, D) position embeddings for a height x width grid of patches."""
    if (height, width) == (GRID, GRID):
        return pos_embed
    patches = pos_embed[0, 1:].reshape(GRID, GRID, -1)
    rows = resampling_matrix(GRID, height, (height + INTERPOLATE_OFFSET) / GRID)
    cols = resampling_matrix(GRID, width, (width + INTERPOLATE_OFFSET) / GRID)
    patches = jnp.einsum("hi,wj,ijd->hwd", rows, cols, patches, precision=jax.lax.Precision.HIGHEST)
    return jnp.concatenate([pos_embed[:, :1], patches.reshape(1, height * width, -1)], axis=1)


class Block(nn.Module):
    """x + ls1 * attention(norm1(x)), then x + ls2 * mlp(norm2(x))."""

    dim: int
    heads: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        b, n, _ = x.shape
        h = nn.LayerNorm(LAYER_NORM_EPS, name="norm1")(x)
        q, k, v = jnp.moveaxis(nn.Dense(3 * self.dim, name="qkv")(h).reshape(b, n, 3, self.heads, -1), 2, 0)
        attention = nn.softmax(jnp.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(q.shape[-1]), axis=-1)
        h = jnp.einsum("bhqk,bkhd->bqhd", attention, v).reshape(b, n, self.dim)
        x = x + self.param("ls1", nn.initializers.ones, (self.dim,)) * nn.Dense(self.dim, name="proj")(h)
        h = nn.LayerNorm(LAYER_NORM_EPS, name="norm2")(x)
        h = nn.Dense(self.dim, name="fc2")(nn.gelu(nn.Dense(4 * self.dim, name="fc1")(h), approximate=False))
        return x + self.param("ls2", nn.initializers.ones, (self.dim,)) * h


class DinoV2(nn.Module):
    """Images (N, H, W, 3), ImageNet-normalised, H and W multiples of 14 -> CLS features (N, dim)."""

    dim: int
    depth: int
    heads: int

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        x = nn.Conv(self.dim, (PATCH, PATCH), strides=PATCH, padding="VALID", name="patch_embed")(x)
        b, height, width, _ = x.shape
        x = x.reshape(b, height * width, self.dim)
        cls = self.param("cls_token", nn.initializers.zeros, (1, 1, self.dim))
        pos_embed = self.param("pos_embed", nn.initializers.zeros, (1, 1 + GRID * GRID, self.dim))
        x = jnp.concatenate([jnp.broadcast_to(cls, (b, 1, self.dim)), x], axis=1)
        x = x + resample_positions(pos_embed, height, width)
        for i in range(self.depth):
            x = Block(self.dim, self.heads, name=f"blocks_{i}")(x)
        return nn.LayerNorm(LAYER_NORM_EPS, name="norm")(x)[:, 0]


def arch_of(state_dict: dict[str, np.ndarray]) -> Arch:
    """The architecture the weights describe: their width and number of blocks."""
    depth = sum(1 for name in state_dict if name.startswith("blocks.") and name.endswith(".norm1.weight"))
    return Arch(state_dict["cls_token"].shape[-1], depth)


def from_torch_state_dict(state_dict: dict[str, np.ndarray]) -> dict:
    """Flax variables from the official state dict, by name (torch Linear (out, in) -> Dense
    (in, out); Conv (out, in, kh, kw) -> (kh, kw, in, out)). Registers and the masking token are
    not used at inference; any other name left over is an error."""
    sd = {k: np.asarray(v, np.float32) for k, v in state_dict.items() if k != "mask_token"}
    used = set()

    def take(name: str) -> np.ndarray:
        used.add(name)
        return sd[name]

    def dense(prefix: str) -> dict:
        return {"kernel": take(f"{prefix}.weight").T, "bias": take(f"{prefix}.bias")}

    def norm(prefix: str) -> dict:
        return {"scale": take(f"{prefix}.weight"), "bias": take(f"{prefix}.bias")}

    params = {
        "patch_embed": {
            "kernel": take("patch_embed.proj.weight").transpose(2, 3, 1, 0),
            "bias": take("patch_embed.proj.bias"),
        },
        "cls_token": take("cls_token"),
        "pos_embed": take("pos_embed"),
        "norm": norm("norm"),
    }
    for i in range(arch_of(sd).depth):  # a name missing here is a KeyError naming it
        p = f"blocks.{i}"
        params[f"blocks_{i}"] = {
            "norm1": norm(f"{p}.norm1"),
            "qkv": dense(f"{p}.attn.qkv"),
            "proj": dense(f"{p}.attn.proj"),
            "ls1": take(f"{p}.ls1.gamma"),
            "norm2": norm(f"{p}.norm2"),
            "fc1": dense(f"{p}.mlp.fc1"),
            "fc2": dense(f"{p}.mlp.fc2"),
            "ls2": take(f"{p}.ls2.gamma"),
        }
    unused = sorted(set(sd) - used)
    if unused:
        raise ValueError(f"DINOv2 weights hold names this model does not use: {unused[:5]}")
    return {"params": params}


def model_for(state_dict: dict[str, np.ndarray]) -> DinoV2:
    arch = arch_of(state_dict)
    return DinoV2(arch.dim, arch.depth, arch.heads)
