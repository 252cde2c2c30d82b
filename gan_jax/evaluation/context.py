"""What a metric reads (`Context`) and what decides whether it applies (`Setting`)."""

import dataclasses

import ml_collections

from gan_jax.data import DataSource
from gan_jax.evaluation.bank import SampleBank
from gan_jax.feature_nets import FeatureNet
from gan_jax.state import GAN, GANState


@dataclasses.dataclass(frozen=True)
class Setting:
    """The facts a metric's applicability depends on: the data, the feature networks configured,
    and the model's kind."""

    source: DataSource
    has_classifier: bool = False
    has_inception: bool = False
    conditional: bool = False
    semi_supervised: bool = False
    has_dinov2: bool = False

    @property
    def points(self) -> bool:
        return self.source.kind == "points"

    @property
    def images(self) -> bool:
        return self.source.kind == "images"

    @property
    def stacked(self) -> bool:
        return self.source.name.startswith("stacked:")


@dataclasses.dataclass
class Context:
    """A run's pieces as one evaluation sees them. `state` is None for the reference rows, whose
    stand-in samplers have no networks: only sample metrics are computed for them."""

    cfg: ml_collections.ConfigDict  # config.eval
    train_cfg: ml_collections.ConfigDict  # config.train (the equilibrium metric's batches)
    num_labelled: int
    gan: GAN
    source: DataSource
    bank: SampleBank
    nets: dict[str, FeatureNet | None]  # "classifier", "inception", "dinov2"
    arrays: dict  # the training arrays, on the device
    state: GANState | None = None
    compiled: dict = dataclasses.field(default_factory=dict)  # jitted functions, kept across evaluations
