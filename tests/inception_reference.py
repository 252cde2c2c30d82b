"""Reference outputs of pytorch-fid's FID InceptionV3 on random weights, for test_inception.py.

The weights are drawn with numpy from the state dict's own names and shapes (`random_state_dict`),
so the test can rebuild exactly the same weights without PyTorch. To regenerate the reference
(needs torch, torchvision and pytorch-fid, e.g. in a separate virtual environment):

    python tests/inception_reference.py tests/data/inception_reference.npz
"""

import json
import sys

import numpy as np

SEED = 0


def random_state_dict(names_and_shapes: list[tuple[str, list[int]]]) -> dict[str, np.ndarray]:
    """Weights that keep activations O(1) through 94 conv/BN/ReLU layers."""
    rng = np.random.default_rng(SEED)
    out = {}
    for name, shape in names_and_shapes:
        if name.endswith("conv.weight") or name == "fc.weight":
            fan_in = int(np.prod(shape[1:]))
            value = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
        elif name.endswith("running_var"):
            value = 1.0 + 0.1 * np.abs(rng.standard_normal(shape))
        elif name.endswith("bn.weight"):
            value = 1.0 + 0.1 * rng.standard_normal(shape)
        else:  # bn.bias, running_mean, fc.bias
            value = 0.1 * rng.standard_normal(shape)
        out[name] = value.astype(np.float32)
    return out


def reference_inputs() -> tuple[np.ndarray, np.ndarray]:
    """(two 16x16 grey images in [-1, 1], two 75x75 RGB images in [-1, 1]), NHWC."""
    rng = np.random.default_rng(SEED + 1)
    small = rng.uniform(-1, 1, (2, 16, 16, 1)).astype(np.float32)
    direct = rng.uniform(-1, 1, (2, 75, 75, 3)).astype(np.float32)
    return small, direct


def main(out_path: str) -> None:
    import torch
    import torch.nn.functional as F
    from pytorch_fid import inception as fid

    net = fid._inception_v3(num_classes=1008, aux_logits=False, weights=None)
    net.Mixed_5b = fid.FIDInceptionA(192, pool_features=32)
    net.Mixed_5c = fid.FIDInceptionA(256, pool_features=64)
    net.Mixed_5d = fid.FIDInceptionA(288, pool_features=64)
    net.Mixed_6b = fid.FIDInceptionC(768, channels_7x7=128)
    net.Mixed_6c = fid.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6d = fid.FIDInceptionC(768, channels_7x7=160)
    net.Mixed_6e = fid.FIDInceptionC(768, channels_7x7=192)
    net.Mixed_7b = fid.FIDInceptionE_1(1280)
    net.Mixed_7c = fid.FIDInceptionE_2(2048)
    names = [(k, list(v.shape)) for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")]
    weights = random_state_dict(names)
    net.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=False)
    assert set(weights) | {k for k in net.state_dict() if k.endswith("num_batches_tracked")} == set(
        net.state_dict()
    )
    net.eval()

    # pytorch-fid's InceptionV3 forward (its four blocks in sequence), built from `net` without
    # its constructor, which would download the real weights.
    model = torch.nn.Sequential(
        torch.nn.Sequential(
            net.Conv2d_1a_3x3, net.Conv2d_2a_3x3, net.Conv2d_2b_3x3, torch.nn.MaxPool2d(3, 2)
        ),
        torch.nn.Sequential(net.Conv2d_3b_1x1, net.Conv2d_4a_3x3, torch.nn.MaxPool2d(3, 2)),
        torch.nn.Sequential(
            net.Mixed_5b,
            net.Mixed_5c,
            net.Mixed_5d,
            net.Mixed_6a,
            net.Mixed_6b,
            net.Mixed_6c,
            net.Mixed_6d,
            net.Mixed_6e,
        ),
        torch.nn.Sequential(net.Mixed_7a, net.Mixed_7b, net.Mixed_7c, torch.nn.AdaptiveAvgPool2d((1, 1))),
    )
    model.eval()
    small, direct = reference_inputs()
    with torch.no_grad():
        direct_features = model(torch.from_numpy(direct).permute(0, 3, 1, 2))[:, :, 0, 0]
        # pytorch-fid's pipeline: images in [0, 1], bilinear resize to 299, scale to [-1, 1].
        x = torch.from_numpy((small + 1) / 2).permute(0, 3, 1, 2).repeat(1, 3, 1, 1)
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False) * 2 - 1
        pipeline_features = model(x)[:, :, 0, 0]
        logits = net.fc(direct_features)
    np.savez_compressed(
        out_path,
        names=json.dumps(names),
        direct=direct_features.numpy(),
        pipeline=pipeline_features.numpy(),
        logits=logits.numpy(),
    )
    print(f"wrote {out_path}: features {direct_features.shape}, norm {direct_features.norm():.3f}")


if __name__ == "__main__":
    main(sys.argv[1])
