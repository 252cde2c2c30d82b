"""GAN objectives from D's raw outputs (logits for the minimax family), as two tables.

Goodfellow et al. 2014 define the value function
    V(D, G) = E_x[log D(x)] + E_z[log(1 - D(G(z)))],   D = sigmoid(logit),
which D ascends and G descends; at the equilibrium D = 1/2 everywhere and V = -log 4.
With log sigmoid(l) = -softplus(-l) and log(1 - sigmoid(l)) = -softplus(l) every term is a
softplus, which never overflows and whose gradient is a sigmoid, never NaN.

D's losses (config.loss.d; r = D's outputs on real data, f on generated data):
  'minimax'          -V, with one-sided label smoothing when config.loss.real_label = alpha < 1:
                     real targets alpha, fake targets 0 (never smoothed: Salimans et al. 2016, 3.4)
  'semi_supervised'  D has K class logits l; its real/fake logit is logsumexp(l), so that
                     D(x) = Z / (Z + 1), Z = sum exp(l) (Salimans et al. 2016, section 5); the loss
                     is the minimax one on that logit plus cross-entropy on labelled examples.
  'hinge'            E relu(1 - r) + E relu(1 + f) (Lim and Ye 2017; Miyato et al. 2018)
  'wasserstein'      E f - E r: a critic; needs a Lipschitz constraint (config.reg: the gradient
                     penalty of WGAN-GP or WGAN's weight clipping; Arjovsky et al. 2017)
  'least_squares'    1/2 E (r - 1)^2 + 1/2 E f^2 (Mao et al. 2017 with a = 0, b = c = 1)
  'relativistic'     E softplus(-(r - E f)) + E softplus(f - E r): the relativistic average
                     standard GAN (Jolicoeur-Martineau 2018)
  'relativistic_pairing'  E softplus(-(r_i - f_i)), real and generated examples paired by their
                     place in the batch: RpGAN, R3GAN's loss (Huang et al. 2024; its trainer's
                     AccumulateDiscriminatorGradients, whose R1 and R2 are reg.r1 / reg.r2 here)
G's losses (config.loss.g), each with the D losses of its family:
  'saturating'       minimise E log(1 - D(G(z))) -- the minimax game itself; its gradient
                     vanishes when D rejects the samples confidently (early training).
  'non_saturating'   minimise -E log D(G(z)) -- the paper's practical fix.
  'hinge', 'wasserstein'   -E f
  'least_squares'    1/2 E (f - 1)^2
  'relativistic'     E softplus(-(f - E r)) + E softplus(r - E f): G needs real data too
  'relativistic_pairing'  E softplus(-(f_i - r_i)): likewise
  'feature_matching' minimise ||E f(x) - E f(G(z))||^2 over an intermediate layer f of D
                     (config.loss.feature_layer; Salimans et al. 2016, 3.1); with any D loss.
Historical averaging and the penalties on D's gradients are in regularizers.py.
"""

import dataclasses
import math

import jax
import jax.numpy as jnp
import optax

from gan_jax.errors import ConfigError

LOG_4 = math.log(4.0)  # a plain float: importing this module must not start the XLA backend


def real_fake_logit(outputs: jax.Array) -> jax.Array:
    """D's real/fake logit: its single output, or logsumexp of its K class logits."""
    return outputs if outputs.ndim == 1 else jax.nn.logsumexp(outputs, axis=-1)


def value_function(real_logits: jax.Array, fake_logits: jax.Array) -> jax.Array:
    """V(D, G) estimated on a batch; in [-inf, 0], equal to -log 4 at the equilibrium."""
    return -jnp.mean(jax.nn.softplus(-real_logits)) - jnp.mean(jax.nn.softplus(fake_logits))


def minimax_d_loss(real_logits: jax.Array, fake_logits: jax.Array, real_label: float = 1.0) -> jax.Array:
    """Binary cross-entropy with real targets `real_label` and fake targets 0; -V when 1."""
    real = real_label * jax.nn.softplus(-real_logits) + (1.0 - real_label) * jax.nn.softplus(real_logits)
    return jnp.mean(real) + jnp.mean(jax.nn.softplus(fake_logits))


def hinge_d_loss(real: jax.Array, fake: jax.Array) -> jax.Array:
    return jnp.mean(jax.nn.relu(1.0 - real)) + jnp.mean(jax.nn.relu(1.0 + fake))


def wasserstein_d_loss(real: jax.Array, fake: jax.Array) -> jax.Array:
    """-(E r - E f): the critic maximises its estimate of the Wasserstein-1 distance."""
    return jnp.mean(fake) - jnp.mean(real)


def least_squares_d_loss(real: jax.Array, fake: jax.Array) -> jax.Array:
    return 0.5 * jnp.mean((real - 1.0) ** 2) + 0.5 * jnp.mean(fake**2)


def relativistic_d_loss(real: jax.Array, fake: jax.Array) -> jax.Array:
    """D's probability that real data is more realistic than the average fake, and vice versa."""
    return jnp.mean(jax.nn.softplus(-(real - jnp.mean(fake)))) + jnp.mean(
        jax.nn.softplus(fake - jnp.mean(real))
    )


def relativistic_pairing_d_loss(real: jax.Array, fake: jax.Array) -> jax.Array:
    """How much more realistic D finds each real example than the generated one paired with it."""
    return jnp.mean(jax.nn.softplus(-(real - fake)))


def saturating_g_loss(fake_logits: jax.Array, real_logits: jax.Array | None = None) -> jax.Array:
    """E log(1 - D(G(z))), minimised by G; given D's outputs on real data, the game's value V, which
    adds E log D(x): the same gradient while D does not depend on G, and the unrolled GAN's loss
    when it does (G minimises V at D's unrolled parameters, minus D's loss there, as Metz et al.'s
    code: steps.g_objective)."""
    if real_logits is None:
        return -jnp.mean(jax.nn.softplus(fake_logits))
    return value_function(real_logits, fake_logits)


def non_saturating_g_loss(fake_logits: jax.Array, real_logits: jax.Array | None = None) -> jax.Array:
    """-E log D(G(z)), minimised by G."""
    return jnp.mean(jax.nn.softplus(-fake_logits))


def critic_g_loss(fake: jax.Array, real: jax.Array | None = None) -> jax.Array:
    """-E D(G(z)): the G loss of the hinge GAN and of WGAN."""
    return -jnp.mean(fake)


def least_squares_g_loss(fake: jax.Array, real: jax.Array | None = None) -> jax.Array:
    return 0.5 * jnp.mean((fake - 1.0) ** 2)


def relativistic_g_loss(fake: jax.Array, real: jax.Array) -> jax.Array:
    """relativistic_d_loss with the roles of real and generated data swapped."""
    return relativistic_d_loss(fake, real)


def relativistic_pairing_g_loss(fake: jax.Array, real: jax.Array) -> jax.Array:
    return relativistic_pairing_d_loss(fake, real)


def feature_matching_loss(real_features: jax.Array, fake_features: jax.Array) -> jax.Array:
    """||mean f(x) - mean f(G(z))||^2 over the batch, features flattened."""
    real = real_features.reshape(real_features.shape[0], -1).mean(0)
    fake = fake_features.reshape(fake_features.shape[0], -1).mean(0)
    return jnp.sum((real - fake) ** 2)


def classification_loss(class_logits: jax.Array, labels: jax.Array) -> jax.Array:
    return optax.softmax_cross_entropy_with_integer_labels(class_logits, labels).mean()


# name -> (family, loss). A D loss is f(real outputs, fake outputs); a G loss f(fake, real).
D_LOSSES = {
    "minimax": ("minimax", minimax_d_loss),
    "semi_supervised": ("minimax", minimax_d_loss),  # plus the labelled cross-entropy (steps.py)
    "hinge": ("hinge", hinge_d_loss),
    "wasserstein": ("wasserstein", wasserstein_d_loss),
    "least_squares": ("least_squares", least_squares_d_loss),
    "relativistic": ("relativistic", relativistic_d_loss),
    "relativistic_pairing": ("relativistic_pairing", relativistic_pairing_d_loss),
}
G_LOSSES = {
    "saturating": ("minimax", saturating_g_loss),
    "non_saturating": ("minimax", non_saturating_g_loss),
    "hinge": ("hinge", critic_g_loss),
    "wasserstein": ("wasserstein", critic_g_loss),
    "least_squares": ("least_squares", least_squares_g_loss),
    "relativistic": ("relativistic", relativistic_g_loss),
    "relativistic_pairing": ("relativistic_pairing", relativistic_pairing_g_loss),
    "feature_matching": (None, None),  # D's features, not its outputs: any family (steps.py)
}


@dataclasses.dataclass(frozen=True)
class Objective:
    """What the two players minimise (built from config.loss by `objective`); an unknown name or
    a pair that does not belong together is a ConfigError naming the key, before anything runs."""

    d: str = "minimax"
    g: str = "non_saturating"
    real_label: float = 1.0
    feature_layer: int = -1
    g_historical: float = 0.0
    d_historical: float = 0.0
    top_k: float = 0.0  # > 0: top-k training's smallest fraction nu (Sinha et al. 2020; 0: off)
    top_k_decay: float = 0.99  # gamma: the fraction kept shrinks by it every epoch, down to nu

    def __post_init__(self):
        if self.d not in D_LOSSES:
            raise ConfigError(f"Unknown config.loss.d {self.d!r}; choose one of {list(D_LOSSES)}.")
        if self.g not in G_LOSSES:
            raise ConfigError(f"Unknown config.loss.g {self.g!r}; choose one of {list(G_LOSSES)}.")
        g_family = G_LOSSES[self.g][0]
        if g_family not in (None, self.family):
            matching = [name for name, (family, _) in G_LOSSES.items() if family in (None, self.family)]
            raise ConfigError(
                f"config.loss.g={self.g!r} belongs to the {g_family} objective, config.loss.d={self.d!r} "
                f"to the {self.family} one; with this D use config.loss.g in {matching}."
            )
        if not 0.0 < self.real_label <= 1.0:
            raise ConfigError(
                f"config.loss.real_label={self.real_label} must be in (0, 1] (1: no smoothing)."
            )
        self._check_top_k()
        if self.real_label < 1.0 and self.family != "minimax":
            raise ConfigError(
                f"config.loss.real_label={self.real_label} (one-sided label smoothing) needs a minimax D "
                f"loss: targets mean nothing to config.loss.d={self.d!r}. Set it to 1.0."
            )

    def _check_top_k(self) -> None:
        if not (0.0 <= self.top_k <= 1.0 and 0.0 < self.top_k_decay <= 1.0):
            raise ConfigError("config.loss.top_k is in [0, 1] (0: off) and top_k_decay in (0, 1].")
        if self.top_k and self.g_needs_real:
            raise ConfigError(
                f"config.loss.top_k ranks G's samples one by one; config.loss.g={self.g!r} is not a mean "
                "over single samples (it compares with real data). Use another G loss or top_k=0."
            )

    @property
    def family(self) -> str:
        """'minimax' (its D(x), D(G(z)) -> 1/2 and V -> -log 4 apply), or the D loss's name."""
        return D_LOSSES[self.d][0]

    @property
    def feature_matching(self) -> bool:
        return self.g == "feature_matching"

    @property
    def semi_supervised(self) -> bool:
        return self.d == "semi_supervised"

    @property
    def g_needs_real(self) -> bool:
        """Whether G's loss looks at real data (D's features or outputs on a real batch)."""
        return self.feature_matching or self.g in ("relativistic", "relativistic_pairing")

    @property
    def g_is_the_game(self) -> bool:
        """Whether G minimises the game's value V itself (the saturating loss): under unrolling its
        real-data term E log D(x) depends on G through D's unrolled steps, so G's loss takes it."""
        return self.g == "saturating"

    def d_loss(self, real: jax.Array, fake: jax.Array) -> jax.Array:
        if self.family == "minimax":
            return minimax_d_loss(real, fake, self.real_label)
        return D_LOSSES[self.d][1](real, fake)

    def g_loss(self, fake: jax.Array, real: jax.Array | None = None, epoch=None) -> jax.Array:
        """G's loss on D's outputs `fake` (`real`: on real data, for G losses that compare); with
        top-k training, the mean of the per-sample losses of the k samples D scores highest
        (`epoch`: epochs of training data seen, which sets k)."""
        if not self.top_k:
            return G_LOSSES[self.g][1](fake, real)
        per_sample = jax.vmap(lambda f: G_LOSSES[self.g][1](f[None], real))(fake)
        return top_k_mean(per_sample, fake, self.top_k_fraction(epoch))

    def top_k_fraction(self, epoch) -> jax.Array:
        """max(gamma ** floor(epoch), nu): the authors' rate, decayed once per epoch."""
        return jnp.maximum(self.top_k_decay ** jnp.floor(epoch), self.top_k)

    def diagnostics(self, real: jax.Array, fake: jax.Array) -> dict[str, jax.Array]:
        """What D's outputs say about the game, in this objective's terms: D(x), D(G(z)) and V for
        the minimax family (1/2, 1/2 and -log 4 at its equilibrium); the mean raw outputs for the
        others, and for a Wasserstein critic its estimate of W = E D(x) - E D(G(z))."""
        if self.family == "minimax":
            return {
                "V": value_function(real, fake),
                "d_real": jnp.mean(jax.nn.sigmoid(real)),
                "d_fake": jnp.mean(jax.nn.sigmoid(fake)),
            }
        means = {"d_real_out": jnp.mean(real), "d_fake_out": jnp.mean(fake)}
        if self.family == "wasserstein":
            means["W"] = means["d_real_out"] - means["d_fake_out"]
        return means


def top_k_mean(per_sample: jax.Array, scores: jax.Array, fraction) -> jax.Array:
    """The mean of `per_sample` over the floor(fraction x N) samples (at least 1) with the
    highest `scores` (ties: the earlier sample first)."""
    n = scores.shape[0]
    k = jnp.maximum(jnp.floor(fraction * n), 1)
    rank = jnp.argsort(jnp.argsort(-scores, stable=True), stable=True)
    return jnp.sum(jnp.where(rank < k, per_sample, 0.0)) / k


def objective(cfg) -> Objective:
    """Objective from the config's `loss` section (top-k keys absent from runs saved before them)."""
    return Objective(
        cfg.d,
        cfg.g,
        cfg.real_label,
        cfg.feature_layer,
        cfg.g_historical,
        cfg.d_historical,
        cfg.get("top_k", 0.0),
        cfg.get("top_k_decay", 0.99),
    )
