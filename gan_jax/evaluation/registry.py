"""Every metric by name (config.eval.metrics): what computes it, where it applies, what it reads.

equilibrium    mean D(x), D(G(z)), V (and V + log 4), gradient norms: the train step's own
               metrics, without its update, averaged over `equilibrium_batches` fresh batches
modes          mixtures: VEEGAN/PacGAN mode coverage on `mode_samples` (2,500) samples, or more
               until `mode_min_high_quality` a mode are high quality (off by default)
parzen         Parzen-window log-likelihood (pixels scaled to [0, 1] for images)
optimal_d      1-D data: distance of D to D* = p_data / (p_data + p_g)
fd, kid, prdc, score   on the classifier's features (config.eval.classifier): Frechet
               distance, KID, precision/recall + density/coverage, classifier score
copying        a fixed training set (images with the classifier, or a mixture's points): Meehan
               et al.'s data-copying test C_T -- G's samples against held-out data, by their
               distances to the nearest training example (negative: copying)
stacked_modes  stacked MNIST: distinct predicted digit triples over `stacked_samples` (26,000)
               samples and KL(p_modes || U(1000)), with the same numbers for real data
conditional    class-conditional G: accuracy of the classifier (nearest mode for mixtures) on
               samples of each class, and the per-class Frechet distance
inception_fd, inception_kid, inception_prdc, inception_score   the same on InceptionV3 pool3
               features / logits, from user-supplied weights (config.eval.inception_weights):
               inception_fd is FID and inception_score the Inception Score
dinov2_fd, dinov2_kid, dinov2_prdc   the same on DINOv2's CLS features (config.eval.dinov2_weights):
               dinov2_fd is Stein et al. 2023's FD_DINOv2 with the official ViT-L/14
semi_supervised  semi-supervised D: its test error on the held-out split
"""

import dataclasses
import functools
from collections.abc import Callable

from gan_jax.evaluation import features, game, points
from gan_jax.evaluation.context import Context, Setting

INCEPTION_PREFIX = "inception_"
DINOV2_PREFIX = "dinov2_"


@dataclasses.dataclass(frozen=True)
class Metric:
    fn: Callable[[Context], dict]
    applies_to: Callable[[Setting], bool]
    # "real": compares G with real data (held-out data on an array data set); "d": reads D or
    # the game, "labels": conditions G -- a metric with neither is a metric of samples alone,
    # the kind the reference rows (real data, a memoriser) can have.
    needs: frozenset[str] = frozenset()

    @property
    def of_samples_alone(self) -> bool:
        return not self.needs & {"d", "labels"}


def _feature_metrics(net: str, applies_to: Callable[[Setting], bool], prefix: str = "") -> dict[str, Metric]:
    real = frozenset({"real"})
    return {
        f"{prefix}fd": Metric(functools.partial(features.fd, net=net), applies_to, real),
        f"{prefix}kid": Metric(functools.partial(features.kid, net=net), applies_to, real),
        f"{prefix}prdc": Metric(functools.partial(features.prdc, net=net), applies_to, real),
    }


def _classified(s: Setting) -> bool:
    return s.images and s.has_classifier


METRICS: dict[str, Metric] = {  # in the order applicable_metrics lists them
    "equilibrium": Metric(game.equilibrium, lambda s: True, frozenset({"d"})),
    "modes": Metric(points.modes, lambda s: s.points),
    "parzen": Metric(points.parzen_ll, lambda s: True, frozenset({"real"})),
    "optimal_d": Metric(game.optimal_d, lambda s: s.points and s.source.shape == (1,), frozenset({"d"})),
    **_feature_metrics("classifier", _classified),
    "copying": Metric(
        features.data_copying,
        lambda s: s.source.num_examples is not None and (s.points or (_classified(s) and not s.stacked)),
        frozenset({"real"}),
    ),
    "stacked_modes": Metric(
        features.stacked_modes, lambda s: _classified(s) and s.stacked, frozenset({"real"})
    ),
    "score": Metric(
        functools.partial(features.score, net="classifier"), lambda s: _classified(s) and not s.stacked
    ),
    "conditional": Metric(
        features.conditional,
        lambda s: s.conditional and (s.points or (_classified(s) and not s.stacked)),
        frozenset({"real", "labels"}),
    ),
    **_feature_metrics("inception", lambda s: s.images and s.has_inception, INCEPTION_PREFIX),
    f"{INCEPTION_PREFIX}score": Metric(
        functools.partial(features.score, net="inception"), lambda s: s.images and s.has_inception
    ),
    **_feature_metrics("dinov2", lambda s: s.images and s.has_dinov2, DINOV2_PREFIX),
    "semi_supervised": Metric(game.semi_supervised, lambda s: s.semi_supervised, frozenset({"real", "d"})),
}


def applicable(setting: Setting) -> tuple[str, ...]:
    """The metrics that make sense for the data, the feature networks configured and the model."""
    return tuple(name for name, metric in METRICS.items() if metric.applies_to(setting))
