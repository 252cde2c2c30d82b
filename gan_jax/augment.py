"""Augmentation that D sees on every input (steps.discriminate is the one place it acts), for
training with limited data: every transform is differentiable, so G's gradient flows through it.

* DiffAugment (Zhao et al. 2020), as the authors' DiffAugment_pytorch.py: a policy of
  'color' (brightness + U[-0.5, 0.5], saturation x U[0, 2] about the per-pixel channel mean,
  contrast x U[0.5, 1.5] about the image mean), 'translation' (integer shifts in [-H/8, H/8],
  zero fill) and 'cutout' (a zeroed H/2 x W/2 square at a uniform centre, clipped at the border),
  applied to every image, with fresh draws for every batch D sees.
* ADA (Karras et al. 2020), the 'bgc' pipeline of stylegan2-ada-pytorch's augment.py: each
  transform applied to an example with probability p -- pixel blitting (x-flip, 90-degree
  rotations, integer translation up to 1/8), general geometry (isotropic scaling, rotation before
  and after anisotropic scaling, fractional translation) and colour (brightness, contrast, luma
  flip, hue rotation, saturation), with the paper's ranges. The geometric transforms are one
  inverse affine map per example, executed by bilinear sampling with reflection at the border.
  Difference from the authors' code: they upsample 2x with a sym6 wavelet filter before sampling
  and filter down after (less aliasing); this samples the image as it is.
  p is fixed (`ada_p`), or adaptive (`ada_target` > 0): every `ada_interval` D updates,
  r_t = E[sign D(augmented x)] over those updates, and p moves by sign(r_t - target) x
  (batch x interval) / (ada_kimg x 1000), floored at 0 -- the authors' training_loop.py.
  p and the sign sums live in the GANState (`AdaState`), so a resumed run is bit-identical.
* `consistency_transform`: bCR's T (Zhao et al. 2021): a random x-flip and DiffAugment's
  translation (the papers shift by a few pixels; the exact fill is not stated); the shift alone
  where `flip` is off (a mirrored digit is not a digit: the paper's images were CIFAR-10's), and
  by up to `ratio` of the side (default 1/8, DiffAugment's: 4 of CIFAR-10's 32 pixels).
Images are NHWC, in G's range [-1, 1].
"""

import dataclasses
import math

import flax
import jax
import jax.numpy as jnp
import ml_collections

from gan_jax.errors import ConfigError

DIFFAUGMENT_POLICIES = ("color", "translation", "cutout")
ADA_GROUPS = "bgc"  # blit, geometric, colour


def _uniform(key: jax.Array, n: int, low: float = 0.0, high: float = 1.0, dims: int = 0) -> jax.Array:
    """U[low, high), one per example, shaped (n,) + (1,) * dims to broadcast against images."""
    return jax.random.uniform(key, (n,) + (1,) * dims, minval=low, maxval=high)


def brightness(key: jax.Array, x: jax.Array) -> jax.Array:
    return x + _uniform(key, x.shape[0], -0.5, 0.5, 3)


def saturation(key: jax.Array, x: jax.Array) -> jax.Array:
    mean = x.mean(axis=-1, keepdims=True)
    return (x - mean) * _uniform(key, x.shape[0], 0.0, 2.0, 3) + mean


def contrast(key: jax.Array, x: jax.Array) -> jax.Array:
    mean = x.mean(axis=(1, 2, 3), keepdims=True)
    return (x - mean) * _uniform(key, x.shape[0], 0.5, 1.5, 3) + mean


def shift(x: jax.Array, rows: jax.Array, cols: jax.Array) -> jax.Array:
    """out[n, i, j] = x[n, i + rows[n], j + cols[n]], zero where that falls outside the image."""
    h, w = x.shape[1:3]
    r = jnp.arange(h)[None, :] + rows[:, None]  # (N, H)
    c = jnp.arange(w)[None, :] + cols[:, None]
    inside = ((r >= 0) & (r < h))[:, :, None] & ((c >= 0) & (c < w))[:, None, :]
    gathered = jax.vmap(lambda img, rr, cc: img[rr][:, cc])(x, jnp.clip(r, 0, h - 1), jnp.clip(c, 0, w - 1))
    return gathered * inside[..., None]


def translation(key: jax.Array, x: jax.Array, ratio: float = 1 / 8) -> jax.Array:
    """Integer shifts in [-H*ratio, H*ratio] (whole pixels, both ends included), zero fill."""
    h, w = x.shape[1:3]
    k_r, k_c = jax.random.split(key)
    rows = jax.random.randint(k_r, (x.shape[0],), -int(h * ratio), int(h * ratio) + 1)
    cols = jax.random.randint(k_c, (x.shape[0],), -int(w * ratio), int(w * ratio) + 1)
    return shift(x, rows, cols)


def cutout_mask(centre_rows: jax.Array, centre_cols: jax.Array, h: int, w: int) -> jax.Array:
    """(N, H, W, 1): 0 on the (H/2) x (W/2) square whose top-left corner is centre - size // 2
    (clipped at the border), 1 elsewhere."""
    size_r, size_c = h // 2, w // 2
    top, left = centre_rows - size_r // 2, centre_cols - size_c // 2
    r, c = jnp.arange(h)[None, :], jnp.arange(w)[None, :]
    in_r = (r >= top[:, None]) & (r < top[:, None] + size_r)
    in_c = (c >= left[:, None]) & (c < left[:, None] + size_c)
    return 1.0 - (in_r[:, :, None] & in_c[:, None, :])[..., None].astype(jnp.float32)


def cutout(key: jax.Array, x: jax.Array) -> jax.Array:
    h, w = x.shape[1:3]
    k_r, k_c = jax.random.split(key)
    rows = jax.random.randint(k_r, (x.shape[0],), 0, h + (1 - (h // 2) % 2))
    cols = jax.random.randint(k_c, (x.shape[0],), 0, w + (1 - (w // 2) % 2))
    return x * cutout_mask(rows, cols, h, w).astype(x.dtype)


_POLICY_FUNCTIONS = {
    "color": (brightness, saturation, contrast),
    "translation": (translation,),
    "cutout": (cutout,),
}


def diffaugment(key: jax.Array, x: jax.Array, policy: tuple[str, ...]) -> jax.Array:
    """The policy's transforms in DiffAugment's order, each with its own key."""
    functions = [f for name in policy for f in _POLICY_FUNCTIONS[name]]
    for i, f in enumerate(functions):
        x = f(jax.random.fold_in(key, i), x)
    return x


def consistency_transform(key: jax.Array, x: jax.Array, flip: bool = True, ratio: float = 1 / 8) -> jax.Array:
    """bCR's T: x-flip with probability 1/2 (where `flip`), then DiffAugment's translation by up to
    `ratio` of the side (the same shift with or without the flip)."""
    k_flip, k_shift = jax.random.split(key)
    if flip:
        mirrored = jax.random.bernoulli(k_flip, 0.5, (x.shape[0], 1, 1, 1))
        x = jnp.where(mirrored, x[:, :, ::-1], x)
    return translation(k_shift, x, ratio)


# --- ADA -------------------------------------------------------------------------------------


def _affine(a, b, c, d, tx=0.0, ty=0.0) -> jax.Array:
    """(N, 3, 3) homogeneous 2-D maps [[a, b, tx], [c, d, ty], [0, 0, 1]] (entries broadcast to N)."""
    a, b, c, d, tx, ty = jnp.broadcast_arrays(*map(jnp.asarray, (a, b, c, d, tx, ty)))
    zero, one = jnp.zeros_like(a), jnp.ones_like(a)
    return jnp.stack(
        [jnp.stack([a, b, tx], -1), jnp.stack([c, d, ty], -1), jnp.stack([zero, zero, one], -1)], -2
    )


def _rotation_inverse(theta: jax.Array) -> jax.Array:
    """The inverse of a rotation by theta, as the authors' rotate2d_inv."""
    return _affine(jnp.cos(-theta), -jnp.sin(-theta), jnp.sin(-theta), jnp.cos(-theta))


def _with_probability(key: jax.Array, p, value: jax.Array, identity: float) -> jax.Array:
    """`value` per example with probability p, the identity value otherwise."""
    chosen = jax.random.uniform(key, value.shape[:1]) < p
    return jnp.where(chosen.reshape((-1,) + (1,) * (value.ndim - 1)), value, identity)


def geometry_inverse(key: jax.Array, n: int, size: int, p, blit: bool, general: bool) -> jax.Array:
    """(N, 3, 3): output pixel (x, y, 1), centred -> input pixel, the authors' G_inv composed in
    their order (x-flip, rotate90, integer translation; scale, pre-rotation, aniso, post-rotation,
    fractional translation)."""
    keys = iter(jax.random.split(key, 16))
    g_inv = jnp.broadcast_to(jnp.eye(3), (n, 3, 3))
    if blit:
        flip = _with_probability(next(keys), p, jnp.floor(jax.random.uniform(next(keys), (n,)) * 2), 0.0)
        g_inv = g_inv @ _affine(1 / (1 - 2 * flip), 0.0, 0.0, 1.0)
        quarter = _with_probability(next(keys), p, jnp.floor(jax.random.uniform(next(keys), (n,)) * 4), 0.0)
        g_inv = g_inv @ _rotation_inverse(-math.pi / 2 * quarter)
        t = _with_probability(next(keys), p, jax.random.uniform(next(keys), (n, 2), minval=-1) * 0.125, 0.0)
        t = jnp.round(t * size)
        g_inv = g_inv @ _affine(1.0, 0.0, 0.0, 1.0, -t[:, 0], -t[:, 1])
    if general:
        s = _with_probability(next(keys), p, jnp.exp2(jax.random.normal(next(keys), (n,)) * 0.2), 1.0)
        g_inv = g_inv @ _affine(1 / s, 0.0, 0.0, 1 / s)
        p_rot = 1 - jnp.sqrt(jnp.clip(1 - p, 0, 1))  # P(pre or post) = p
        theta = _with_probability(
            next(keys), p_rot, jax.random.uniform(next(keys), (n,), minval=-1) * math.pi, 0.0
        )
        g_inv = g_inv @ _rotation_inverse(-theta)
        s = _with_probability(next(keys), p, jnp.exp2(jax.random.normal(next(keys), (n,)) * 0.2), 1.0)
        g_inv = g_inv @ _affine(1 / s, 0.0, 0.0, s)
        theta = _with_probability(
            next(keys), p_rot, jax.random.uniform(next(keys), (n,), minval=-1) * math.pi, 0.0
        )
        g_inv = g_inv @ _rotation_inverse(-theta)
        t = _with_probability(next(keys), p, jax.random.normal(next(keys), (n, 2)) * 0.125, 0.0)
        g_inv = g_inv @ _affine(1.0, 0.0, 0.0, 1.0, -t[:, 0] * size, -t[:, 1] * size)
    return g_inv


def warp(x: jax.Array, g_inv: jax.Array) -> jax.Array:
    """Each image resampled at g_inv @ (its pixel centres about the image centre): bilinear,
    reflected at the border (PyTorch's 'reflect' padding, scipy's 'mirror')."""
    n, h, w, c = x.shape
    ys, xs = jnp.meshgrid(jnp.arange(h) - (h - 1) / 2, jnp.arange(w) - (w - 1) / 2, indexing="ij")
    points = jnp.stack([xs.ravel(), ys.ravel(), jnp.ones(h * w)])  # (3, HW)
    source = g_inv @ points  # (N, 3, HW)
    cols, rows = source[:, 0] + (w - 1) / 2, source[:, 1] + (h - 1) / 2

    def one(image, r, cc):  # image (H, W, C); r, cc (HW,)
        sample = lambda channel: jax.scipy.ndimage.map_coordinates(channel, [r, cc], order=1, mode="mirror")  # noqa: E731
        return jax.vmap(sample, in_axes=-1, out_axes=-1)(image).reshape(h, w, c)

    return jax.vmap(one)(x, rows, cols)


def color_matrix(key: jax.Array, n: int, p, channels: int) -> jax.Array:
    """(N, 4, 4): the authors' C (brightness, contrast, luma flip; hue and saturation for RGB)."""
    keys = iter(jax.random.split(key, 10))
    eye = jnp.eye(4)
    v = jnp.array([1.0, 1.0, 1.0, 0.0]) / math.sqrt(3)  # the luma axis
    vv = jnp.outer(v, v)
    b = _with_probability(next(keys), p, jax.random.normal(next(keys), (n,)) * 0.2, 0.0)
    c = jnp.broadcast_to(eye, (n, 4, 4)).at[:, :3, 3].set(b[:, None])
    k = _with_probability(next(keys), p, jnp.exp2(jax.random.normal(next(keys), (n,)) * 0.5), 1.0)
    c = jax.vmap(jnp.diag)(jnp.stack([k, k, k, jnp.ones(n)], -1)) @ c
    flip = _with_probability(next(keys), p, jnp.floor(jax.random.uniform(next(keys), (n,)) * 2), 0.0)
    c = (eye - 2 * vv * flip[:, None, None]) @ c
    if channels > 1:
        theta = _with_probability(
            next(keys), p, jax.random.uniform(next(keys), (n,), minval=-1) * math.pi, 0.0
        )
        c = _rotation_about(v, theta) @ c
        s = _with_probability(next(keys), p, jnp.exp2(jax.random.normal(next(keys), (n,)) * 1.0), 1.0)
        c = (vv + (eye - vv) * s[:, None, None]) @ c
    return c


def _rotation_about(v: jax.Array, theta: jax.Array) -> jax.Array:
    """(N, 4, 4): rotation by theta about the unit axis v (Rodrigues), homogeneous."""
    k = jnp.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])
    s, c = jnp.sin(theta)[:, None, None], jnp.cos(theta)[:, None, None]
    r = c * jnp.eye(3) + s * k + (1 - c) * jnp.outer(v[:3], v[:3])
    return jnp.zeros((theta.shape[0], 4, 4)).at[:, :3, :3].set(r).at[:, 3, 3].set(1.0)


def recolor(x: jax.Array, c: jax.Array) -> jax.Array:
    """Apply (N, 4, 4) colour maps to RGB images; to grey images as the authors do (each pixel
    times the mean row's gain, plus its offset)."""
    if x.shape[-1] == 3:
        return jnp.einsum("nij,nhwj->nhwi", c[:, :3, :3], x) + c[:, None, None, :3, 3]
    if x.shape[-1] == 1:
        mean_row = c[:, :3, :].mean(axis=1)  # (N, 4)
        return x * mean_row[:, None, None, :3].sum(-1, keepdims=True) + mean_row[:, None, None, 3:]
    raise ConfigError(f"ADA's colour transforms take 1 or 3 channels, not {x.shape[-1]}.")


def ada(key: jax.Array, x: jax.Array, p, groups: str) -> jax.Array:
    """ADA's pipeline `groups` (a subset of 'bgc') with probability p per transform."""
    k_geometry, k_color = jax.random.split(key)
    if "b" in groups or "g" in groups:
        g_inv = geometry_inverse(k_geometry, x.shape[0], x.shape[1], p, "b" in groups, "g" in groups)
        x = warp(x, g_inv.astype(x.dtype))
    if "c" in groups:
        x = recolor(x, color_matrix(k_color, x.shape[0], p, x.shape[-1]).astype(x.dtype))
    return x


def _check_policy(text: str, policy: tuple[str, ...]) -> None:
    unknown = [name for name in policy if name not in DIFFAUGMENT_POLICIES]
    if unknown:
        raise ConfigError(
            f"config.augment.diffaugment={text!r}: {unknown} are not DiffAugment policies; use a "
            f"comma-separated subset of {','.join(DIFFAUGMENT_POLICIES)}."
        )


@flax.struct.dataclass
class AdaState:
    """ADA's probability and the signs of D's real outputs since its last adjustment."""

    p: jax.Array  # float32 scalar
    sign_sum: jax.Array  # float32: sum of sign(D(x)) over the examples of the last updates
    updates: jax.Array  # int32: D updates since the last adjustment (each of the same batch)


@dataclasses.dataclass(frozen=True)
class Augment:
    """config.augment: its fields are that section's keys (config_section)."""

    diffaugment: str = ""  # DiffAugment's policy, e.g. 'color,translation,cutout' ('' off)
    ada_p: float = 0.0  # ADA's p: fixed when ada_target is 0, the starting p otherwise
    ada_target: float = 0.0  # > 0: adaptive p, r_t = E[sign D(x)] held at this target (0.6 in ADA)
    ada_interval: int = 4  # D updates between adjustments of p
    ada_kimg: int = 500  # thousands of real images over which p can rise from 0 to 1
    ada_pipeline: str = "bgc"  # ADA's transform groups: b(litting), g(eometric), c(olour)

    def __post_init__(self):
        _check_policy(self.diffaugment, self.policy)
        if not (self.ada_pipeline and set(self.ada_pipeline) <= set(ADA_GROUPS)):
            raise ConfigError(
                f"config.augment.ada_pipeline={self.ada_pipeline!r}: a subset of {ADA_GROUPS!r}."
            )
        if not (0 <= self.ada_p <= 1 and 0 <= self.ada_target <= 1):
            raise ConfigError("config.augment.ada_p and ada_target are in [0, 1] (0: off).")
        if self.ada_interval < 1 or self.ada_kimg <= 0:
            raise ConfigError("config.augment.ada_interval must be >= 1 and ada_kimg > 0.")
        if self.policy and self.ada:
            raise ConfigError("config.augment: choose DiffAugment or ADA, not both (set one of them off).")

    @property
    def policy(self) -> tuple[str, ...]:
        return tuple(filter(None, self.diffaugment.split(",")))

    @property
    def ada(self) -> bool:
        return self.ada_p > 0 or self.ada_target > 0

    @property
    def adaptive(self) -> bool:
        return self.ada_target > 0

    def apply(self, key: jax.Array, x: jax.Array, p: jax.Array | None) -> jax.Array:
        """The augmented batch (x itself when augmentation is off); `p`: the state's ADA p."""
        if self.policy:
            return diffaugment(key, x, self.policy)
        if self.ada:
            return ada(key, x, p, self.ada_pipeline)
        return x

    def start(self) -> AdaState | None:
        """ADA's state at step 0 (None without ADA)."""
        if not self.ada:
            return None
        return AdaState(
            jnp.asarray(self.ada_p, jnp.float32), jnp.zeros((), jnp.float32), jnp.zeros((), jnp.int32)
        )

    def adapt(self, state: AdaState | None, real_logits: jax.Array, batch_size: int) -> AdaState | None:
        """ADA's state after one D update whose real outputs were `real_logits`: the signs added,
        and every `ada_interval` updates p moved toward the target (fixed p: unchanged)."""
        if state is None or not self.adaptive:
            return state
        sign_sum, updates = state.sign_sum + jnp.sum(jnp.sign(real_logits)), state.updates + 1
        r_t = sign_sum / (updates * real_logits.size)
        step = batch_size * self.ada_interval / (self.ada_kimg * 1000)
        moved = jnp.maximum(state.p + jnp.sign(r_t - self.ada_target) * step, 0.0)
        due = updates >= self.ada_interval
        return AdaState(
            jnp.where(due, moved, state.p), jnp.where(due, 0.0, sign_sum), jnp.where(due, 0, updates)
        )


def config_section() -> ml_collections.ConfigDict:
    """The config's `augment` section: Augment's fields at their defaults (off)."""
    return ml_collections.ConfigDict(dataclasses.asdict(Augment()))


def augmentation(cfg: ml_collections.ConfigDict) -> Augment:
    return Augment(**cfg)
