"""Reference outputs of the official DINOv2 model on random weights, for test_dinov2.py.

A small model of the official architecture (width 128, 2 heads of 64, 2 blocks, the torch.hub
settings: 518 px grid, patch 14, LayerScale, interpolate_offset 0.1, no antialiasing), with
weights drawn by numpy from the state dict's names and shapes (`random_state_dict`), so the test
rebuilds the same weights without PyTorch; the inputs are drawn from a seed too, so only names,
shapes and outputs are stored. To regenerate (needs torch and the official code, e.g. a checkout of
facebookresearch/dinov2 on PYTHONPATH; xformers not needed):

    PYTHONPATH=<dinov2 checkout> python tests/dinov2_reference.py tests/data/dinov2_reference.npz
"""

import json
import sys

import numpy as np

SEED = 0
WIDTH, DEPTH, HEADS = 128, 2, 2
SIZES = (224, 518, 98)  # dgm-eval's input, the native grid (no resampling), a small one


def random_state_dict(names_and_shapes: list[tuple[str, list[int]]]) -> dict[str, np.ndarray]:
    """Weights that keep activations O(1) through the blocks (LayerScale around 1)."""
    rng = np.random.default_rng(SEED)
    out = {}
    for name, shape in names_and_shapes:
        if name.endswith(".weight") and len(shape) > 1:
            value = rng.standard_normal(shape) / np.sqrt(np.prod(shape[1:]))
        elif "norm" in name and name.endswith(".weight") or name.endswith(".gamma"):
            value = 1.0 + 0.1 * rng.standard_normal(shape)
        else:  # biases, tokens, position embeddings
            value = 0.5 * rng.standard_normal(shape)
        out[name] = value.astype(np.float32)
    return out


def reference_input(size: int) -> np.ndarray:
    """Two ImageNet-normalised-looking RGB images, NHWC."""
    return np.random.default_rng(SEED + size).standard_normal((2, size, size, 3)).astype(np.float32)


def main(out_path: str) -> None:
    from functools import partial

    import torch
    from dinov2.layers import MemEffAttention
    from dinov2.layers import NestedTensorBlock as Block
    from dinov2.models.vision_transformer import DinoVisionTransformer

    torch.set_num_threads(1)
    model = DinoVisionTransformer(
        img_size=518,
        patch_size=14,
        embed_dim=WIDTH,
        depth=DEPTH,
        num_heads=HEADS,
        mlp_ratio=4,
        block_fn=partial(Block, attn_class=MemEffAttention),
        init_values=1.0,
        ffn_layer="mlp",
        block_chunks=0,
        interpolate_antialias=False,
        interpolate_offset=0.1,
    ).eval()
    names = [(k, list(v.shape)) for k, v in model.state_dict().items()]
    model.load_state_dict({k: torch.from_numpy(v) for k, v in random_state_dict(names).items()})
    outputs = {}
    with torch.no_grad():
        for size in SIZES:
            x = torch.from_numpy(reference_input(size)).permute(0, 3, 1, 2)
            outputs[f"features_{size}"] = model(x).numpy()
    np.savez_compressed(out_path, names=json.dumps(names), **outputs)
    print(f"wrote {out_path}: {', '.join(f'{k} {v.shape}' for k, v in outputs.items())}")


if __name__ == "__main__":
    main(sys.argv[1])
