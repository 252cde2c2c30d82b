"""Metrics on a feature network's view of G's samples and held-out real ones: Frechet distance,
KID, precision/recall + density/coverage, the data-copying test, the classifier (Inception)
score, the class-conditional accuracy and per-class FD, and stacked MNIST's mode count. `net` is
"classifier" (the project's, config.eval.classifier), "inception" (user-supplied InceptionV3
weights: FID and IS) or "dinov2" (the official DINOv2 weights: FD_DINOv2)."""

import jax
import numpy as np

from gan_jax.data.stacked import CHANNELS
from gan_jax.evaluation.context import Context
from gan_jax.feature_nets import FeatureNet
from gan_jax.metrics import copying, distances, manifold, mixtures


def network_outputs(net: FeatureNet, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities, features). A single-channel network sees stacked images channel by
    channel: probabilities (N, 3, classes), features concatenated."""
    if images.shape[-1] == net.channels or net.image_size is None:
        logits, feats = net.logits_and_features(images)
        return np.asarray(jax.nn.softmax(logits)), feats
    per_channel = [net.logits_and_features(images[..., c : c + 1]) for c in range(CHANNELS)]
    probs = np.stack([np.asarray(jax.nn.softmax(lg)) for lg, _ in per_channel], 1)
    return probs, np.concatenate([f for _, f in per_channel], axis=1)


def joint_probabilities(per_channel: np.ndarray) -> np.ndarray:
    """(N, classes^3): a stacked image's probability of each digit triple, in mode order, from its
    channels' (N, 3, classes), judged independently -- the single-channel classifier read as a
    classifier of the 1,000 modes."""
    k = per_channel.shape[-1]
    joint = np.einsum("na,nb,nc->nabc", *(per_channel[:, c] for c in range(CHANNELS)))
    return joint.reshape(len(per_channel), k**CHANNELS)


def _feature_sets(ctx: Context, net: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(real features, generated features, generated probabilities), once per evaluation (the
    real ones once a run)."""
    if ("features", net) not in ctx.bank.cache:
        n, network = ctx.cfg.num_samples, ctx.nets[net]
        real = ctx.bank.once(("real features", net, n), lambda: network_outputs(network, ctx.bank.real(n))[1])
        probs, fake = network_outputs(network, ctx.bank.generated(n))
        ctx.bank.cache["features", net] = real, fake, probs
    return ctx.bank.cache["features", net]


def _protocol(ctx: Context, net: str, real, fake) -> dict:
    network = ctx.nets[net]
    per_channel = network.image_size is not None and ctx.source.shape[-1] != network.channels
    return {
        "num_real": len(real),
        "num_generated": len(fake),
        "feature_network": network.protocol,
        "features": "penultimate layer" + (" per channel, concatenated" if per_channel else ""),
        "real": ctx.bank.real_protocol,
    }


def fd(ctx: Context, net: str) -> dict:
    real, fake, _ = _feature_sets(ctx, net)
    name = ctx.nets[net].name
    return {
        "name": "FID" if name == "InceptionV3" else f"FD-{name}",
        "value": distances.frechet_distance(real, fake),
        "protocol": _protocol(ctx, net, real, fake),
    }


def kid(ctx: Context, net: str) -> dict:
    real, fake, _ = _feature_sets(ctx, net)
    result = distances.kernel_inception_distance(real, fake, seed=ctx.cfg.seed)
    return {
        "name": f"KID-{ctx.nets[net].name}",
        **result,
        "protocol": {**result["protocol"], **_protocol(ctx, net, real, fake)},
    }


def prdc(ctx: Context, net: str) -> dict:
    real, fake, _ = _feature_sets(ctx, net)
    pr, dc = manifold.precision_recall(real, fake), manifold.density_coverage(real, fake)
    return {
        "name": f"PRDC-{ctx.nets[net].name}",
        **{k: v for k, v in {**pr, **dc}.items() if k != "protocol"},
        "protocol": {
            "k_precision_recall": pr["protocol"]["k"],
            "k_density_coverage": dc["protocol"]["k"],
            **_protocol(ctx, net, real, fake),
        },
    }


COPYING_STREAM = 5  # the order in which the training set is read (a pool's order is its own)


def data_copying(ctx: Context) -> dict:
    """Do G's samples sit closer to the training set than held-out data does? Meehan et al.'s C_T
    (gan_jax/metrics/copying.py), on the classifier's features for images and on the points
    themselves for a mixture trained on a fixed set. The training set is `bank.pool`'s: all of it
    (at most POOL examples of a streamed one). Its features and cells are computed once a run."""
    bank, n = ctx.bank, ctx.cfg.num_samples
    if ctx.source.kind == "points":
        real, fake = bank.real(n), bank.generated(n)
        embed, space = (lambda x: np.asarray(x, np.float64)), "the points themselves"
    else:
        real, fake, _ = _feature_sets(ctx, "classifier")
        embed = lambda x: network_outputs(ctx.nets["classifier"], x)[1]  # noqa: E731
        space = ctx.nets["classifier"].protocol

    def training_cells():
        train = embed(bank.pool(bank.source, COPYING_STREAM))
        return train, copying.partition(train, copying.num_cells(len(real)))

    train, cells = bank.once(("copying", len(real)), training_cells)
    result = copying.data_copying(train, real, fake, cells)
    protocol = {**result["protocol"], "space": space, "train": f"{ctx.source.name}'s training set"}
    return {**result, "protocol": {**protocol, "real": bank.real_protocol}}


def score(ctx: Context, net: str) -> dict:
    _, fake, probs = _feature_sets(ctx, net)
    result = distances.classifier_score(probs)
    network = ctx.nets[net]
    return {
        "name": "IS" if network.name == "InceptionV3" else f"Score-{network.name}",
        **result,
        "protocol": {**result["protocol"], "num_generated": len(fake), "feature_network": network.protocol},
    }


def conditional(ctx: Context) -> dict:
    """Does G honour the label? The classifier's accuracy on samples of each class (the nearest
    mode for mixtures), and the Frechet distance between real and generated features class by
    class."""
    n, bank = ctx.cfg.num_samples, ctx.bank
    fake_y = bank.generated_labels(n)
    if ctx.source.kind == "points":  # the label is the mode: is the sample nearest to it?
        mix = ctx.source.mixture
        distance = mixtures.standardized_distances(bank.generated(n), mix.means, mix.metric_std)
        predicted, real_feats, fake_feats = distance.argmin(1), None, None
    else:
        real_feats, fake_feats, probs = _feature_sets(ctx, "classifier")
        predicted = probs.argmax(-1)
    classes = range(ctx.gan.num_classes)
    per_class = [float(np.mean(predicted[fake_y == k] == k)) for k in classes]
    result = {"accuracy": float(np.mean(predicted == fake_y)), "per_class_accuracy": per_class}
    if real_feats is not None:
        real_y = bank.real_labels(n)
        per_class_fd = [
            distances.frechet_distance(real_feats[real_y == k], fake_feats[fake_y == k]) for k in classes
        ]
        result.update(per_class_fd=per_class_fd, mean_class_fd=float(np.mean(per_class_fd)))
    judge = (
        ctx.nets["classifier"].protocol
        if ctx.source.kind == "images"
        else "nearest mode (standardised distance)"
    )
    result["protocol"] = {"num_samples": n, "labels": "every class in turn", "judge": judge}
    return result


def stacked_modes(ctx: Context) -> dict:
    """Stacked MNIST: distinct predicted digit triples and KL(p_modes || U(1000)), for G's samples
    and (once a run) for real data."""
    n, network = ctx.cfg.stacked_samples, ctx.nets["classifier"]

    def modes_of(images):
        probs, _ = network_outputs(network, images)
        triples = probs.argmax(2) @ np.array([100, 10, 1])
        counts = np.bincount(triples, minlength=1000)
        return {"modes": int((counts > 0).sum()), "kl": mixtures.reverse_kl_to_uniform(counts)}

    return {
        **modes_of(ctx.bank.generated(n)),
        "real_reference": ctx.bank.once(("stacked modes", n), lambda: modes_of(ctx.bank.real(n))),
        "protocol": {
            "num_samples": n,
            "modes": "distinct predicted digit triples",
            "kl": "KL(p_modes || Uniform(1000))",
            "classifier": network.protocol,
        },
    }
