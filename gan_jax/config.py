"""The configuration schema shared by every config file, and its checks.

Config files under configs/ start from `base_config()`, add their `model` section and set values;
the result is locked, so a mistyped key fails (ml_collections names it). `validate` catches what
types cannot: values that only make sense together, before anything is compiled or loaded.
"""

import dataclasses
import json
import math
from collections.abc import Callable

import ml_collections

from gan_jax import anneal, augment, losses, models, regularizers
from gan_jax.errors import ConfigError
from gan_jax.schedule import Schedule

# Keys that may differ without changing a run's result (where data or checkpoints live, how the
# same convolution is computed).
SAME_RESULT_CHANGES = (
    "checkpoint.",
    "data.data_dir",
    "data.download",
    "data.pipeline",  # both pipelines draw the same batches (data/stream.py)
    "data.device_budget_mb",
    "data.stream_threads",
    "model.g.conv_impl",  # every form has the same parameters (tests/test_conv.py)
    "model.d.conv_impl",
)
# Keys that may differ between a run and its resumption (extend a run, log more often, ...).
RESUMABLE_CHANGES = (*SAME_RESULT_CHANGES, "train.total_steps", "log.", "eval.")


def parse_arg(arg: str, config_file: str, **spec) -> ml_collections.ConfigDict:
    """A config file's argument, e.g. `grid,smoke,seeds=20`, as typed fields (big_vision's idea).

    `spec` gives each field its default. A tuple of strings is a choice whose first entry is the
    default, written bare (`grid`) or as `dataset=grid`; a bool is a flag, written bare (`smoke`);
    any other field is written `name=value` and takes its default's type. Anything else is a
    ConfigError naming the file and every accepted argument, before any work is done.
    """
    values = {name: default[0] if isinstance(default, tuple) else default for name, default in spec.items()}
    given = set()
    for word in filter(None, (arg or "").split(",")):
        name, has_value, text = word.partition("=")
        if not has_value:
            name = _field_named_by(word, spec)
            if name is None:
                raise ConfigError(f"{config_file}: unknown argument {word!r}; use {_usage(spec)}.")
            text = word if isinstance(spec[name], tuple) else "true"
        elif name not in spec:
            raise ConfigError(f"{config_file}: unknown argument {name!r}; use {_usage(spec)}.")
        if name in given:
            raise ConfigError(f"{config_file}: {name} is given twice in {arg!r}; give it once.")
        given.add(name)
        values[name] = _typed(text, spec[name], f"{config_file}: {name}={text!r}")
    return ml_collections.ConfigDict(values)


def arguments(config_file: str, **spec) -> Callable[[str], ml_collections.ConfigDict]:
    """One config file's argument parser (parse_arg with its fields bound): get_config, get_sweep
    and REPORT read the argument through the same one."""
    return lambda arg: parse_arg(arg, config_file, **spec)


def _field_named_by(word: str, spec: dict):
    """The choice `word` is one of, or the flag called `word`."""
    if isinstance(spec.get(word), bool):
        return word
    return next(
        (name for name, default in spec.items() if isinstance(default, tuple) and word in default), None
    )


def _typed(text: str, default, where: str):
    if isinstance(default, tuple):
        if text not in default:
            raise ConfigError(f"{where} is not one of {'|'.join(default)}.")
        return text
    if isinstance(default, bool):
        if text.lower() not in ("true", "false", "1", "0"):
            raise ConfigError(f"{where} is not a bool; write true or false.")
        return text.lower() in ("true", "1")
    try:
        return type(default)(text)
    except ValueError:
        raise ConfigError(f"{where} is not a valid {type(default).__name__}.") from None


def _usage(spec: dict) -> str:
    parts = []
    for name, default in spec.items():
        if isinstance(default, tuple):
            parts.append(f"one of {'|'.join(default)} (default {default[0]})")
        elif isinstance(default, bool):
            parts.append(name)
        else:
            parts.append(f"{name}=<{type(default).__name__}, default {default}>")
    return ", ".join(parts)


def base_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.data = ml_collections.ConfigDict(
        dict(
            name="",
            split="train",  # what the GAN trains on
            eval_split="",  # held-out examples the metrics compare with: never trained on ("": none)
            image_size=0,
            data_dir="",
            download=True,
            # Mixtures: a fixed training set of this many points drawn once from data.seed (PacGAN's
            # protocol) instead of fresh samples every step (0)
            train_size=0,
            seed=0,
            train_modes=0,  # mixtures: train on the first k modes only; evaluation counts all (0: all)
            train_modes_from=0,  # ... from this batch number on (the step, with one D update a step)
            # Mixtures with a training set: D's packs of model.d.pack points formed once from it,
            # each slot a bootstrap resample, walked an epoch at a time (PacGAN's code), instead
            # of batches drawn with replacement
            fixed_packs=False,
            # Images: 'device' (the whole set on every device, batches drawn in the step), 'stream'
            # (batches read on the host while the device trains: data/stream.py), or 'auto' (stream
            # when the images exceed device_budget_mb)
            pipeline="auto",
            device_budget_mb=4096,
            stream_threads=8,  # host threads reading a streamed set's examples
        )
    )
    # configs set it with models.model_config; dtype here so that runs saved before it resume
    c.model = ml_collections.ConfigDict(dict(name="", z_dim=100, z_dist="normal", dtype="float32"))
    # Objectives (gan_jax/losses.py): the Improved-GAN techniques are all off by default.
    c.loss = ml_collections.ConfigDict(
        dict(
            # D: minimax, semi_supervised (K-class D, Salimans et al. section 5), hinge,
            # wasserstein, least_squares, relativistic; G: saturating or non_saturating (with the
            # minimax D losses), the D loss's own name otherwise, or feature_matching (any D).
            d="minimax",
            g="non_saturating",
            real_label=1.0,  # one-sided label smoothing: e.g. 0.9 (fake targets stay 0)
            feature_layer=-1,  # D layer whose features feature matching matches (-1: the last)
            g_historical=0.0,  # weights of the historical-averaging penalties (0: off)
            d_historical=0.0,
            num_labelled=100,  # semi-supervised: labelled examples (the first of each class)
            # top-k training (Sinha et al. 2020): G's loss on the k samples D scores highest, k = B x
            # max(top_k_decay ** epoch, top_k) (their code: 0.99 and 0.5); 0: off
            top_k=0.0,
            top_k_decay=0.99,
        )
    )
    c.reg = regularizers.config_section()  # penalties and constraints on D, all off by default
    c.augment = augment.config_section()  # DiffAugment / ADA on every input of D, off by default
    c.anneal = anneal.config_section()  # R3GAN's cosine annealing of lr, beta2, gamma, EMA; off
    adam = dict(name="adam", lr=2e-4, b1=0.5, b2=0.999, decay_steps=0)  # decay_steps: optim.learning_rate
    c.optim = ml_collections.ConfigDict(dict(g=dict(adam), d=dict(adam)))
    # The update options (k D steps, head start, unrolling, simultaneous, reuse_fake, EMA) are
    # Schedule's fields, at their defaults (gan_jax/schedule.py says what each does).
    schedule = dataclasses.asdict(Schedule())
    c.train = ml_collections.ConfigDict(dict(batch_size=128, total_steps=1000, steps_per_call=1, **schedule))
    c.log = ml_collections.ConfigDict(dict(every=100, sample_every=500, num_samples=64))
    c.checkpoint = ml_collections.ConfigDict(dict(every=1000, keep=3))
    # Metrics (gan_jax/evaluation.py); every=0: only `python -m experiments.evaluate` runs them.
    c.eval = ml_collections.ConfigDict(
        dict(
            every=0,
            metrics="",
            seed=0,
            classifier="",  # directory of a classifier made by experiments/train_classifier.py
            inception_weights="",  # pytorch-fid's InceptionV3 weights file, or 'auto' (gan_jax/weights.py)
            dinov2_weights="",  # the official DINOv2 weights file (ViT-L/14 for FD_DINOv2), for dinov2_*
            resize="legacy",  # how images reach InceptionV3 / DINOv2: 'legacy' or 'clean' (feature_nets)
            num_samples=10_000,
            mode_samples=2_500,
            # > 0: keep doubling the draw until this many high-quality samples a mode on average, or
            # mode_max_samples (0: exactly mode_samples, VEEGAN/PacGAN's protocol; evaluation/points.py)
            mode_min_high_quality=0,
            mode_max_samples=40_000,
            stacked_samples=26_000,
            equilibrium_batches=10,
            parzen_samples=10_000,
            parzen_valid=1_000,
            parzen_test=10_000,
            parzen_log10_bandwidths=(-1.0, 0.0, 10),  # np.logspace(*...): Goodfellow et al.'s grid
        )
    )
    return c


def evaluate_often(
    c: ml_collections.ConfigDict, evaluations: int = 5, log_rows: int = 50
) -> ml_collections.ConfigDict:
    """Evaluate and checkpoint `evaluations` times, evenly spaced, log about `log_rows` times (at
    most once a compiled call) and draw samples at the end, whatever train.total_steps is. The
    papers' tables read the last evaluation; the diagnosis's "modes lost since an earlier
    evaluation" and its oscillation test need the others. Training is unchanged by them."""
    steps, call = c.train.total_steps, c.train.steps_per_call
    c.log.update(every=call * max(1, steps // (log_rows * call)), sample_every=steps)
    c.checkpoint.update(every=steps // evaluations)
    c.eval.update(every=steps // evaluations)
    return c


# Objective presets (the config files' `objective` argument and `r1` / `sn` flags), each with the
# settings of the paper that introduced it; everything else stays the config's own.
OBJECTIVES = {
    "minimax": {},  # Goodfellow et al. 2014 (the config's own G loss: non-saturating by default)
    "hinge": {"loss.d": "hinge", "loss.g": "hinge"},  # Lim and Ye 2017; Miyato et al. 2018
    # Gulrajani et al. 2017: lambda = 10, 5 critic steps per G step, Adam 1e-4 with betas (0, 0.9),
    # no normalisation in the critic (their MNIST and CIFAR-10 code, gan_mnist.py and gan_cifar.py;
    # their 64x64 critics use layer normalisation: dcgan's model.d.norm=layer).
    "wgan_gp": {
        "loss.d": "wasserstein",
        "loss.g": "wasserstein",
        "reg.gradient_penalty": 10.0,
        "train.d_steps": 5,
        "optim.g.lr": 1e-4,
        "optim.d.lr": 1e-4,
        "optim.g.b1": 0.0,
        "optim.d.b1": 0.0,
        "optim.g.b2": 0.9,
        "optim.d.b2": 0.9,
    },
    "lsgan": {"loss.d": "least_squares", "loss.g": "least_squares"},  # Mao et al. 2017, a=0, b=c=1
    "rsgan": {"loss.d": "relativistic", "loss.g": "relativistic"},  # Jolicoeur-Martineau 2018, RaSGAN
    # Huang et al. 2024's loss (RpGAN) alone, and R3GAN: RpGAN + R1 + R2 with its CIFAR-10 preset
    # (brownvc/R3GAN train.py: gamma 0.05, Adam betas (0, 0.9) at 2e-4 for both players), annealed
    # (anneal.py) to lr 5e-5, beta2 0.99, gamma 0.005 and a half-life of G's EMA of a quarter of the
    # images the annealing spans. Theirs spans 20M images of a longer run; here the whole run
    # (objective_overrides: steps and EMA half-life from train.total_steps and batch_size).
    "rpgan": {"loss.d": "relativistic_pairing", "loss.g": "relativistic_pairing"},
    "r3gan": {
        "loss.d": "relativistic_pairing",
        "loss.g": "relativistic_pairing",
        "reg.r1": 0.05,
        "reg.r2": 0.05,
        **{f"optim.{p}.{k}": v for p in "gd" for k, v in (("lr", 2e-4), ("b1", 0.0), ("b2", 0.9))},
        "anneal.lr": 5e-5,
        "anneal.b2": 0.99,
        "anneal.gamma": 0.005,
    },
}
R3GAN_EMA_SHARE = 0.25  # R3GAN's CIFAR-10 EMA half-life, 5M images, over its 20M-image annealing
R1_GAMMA = 10.0  # Mescheder et al. 2018's gamma for their image experiments (not tuned here)


def objective_overrides(config: ml_collections.ConfigDict, objective: str, r1: bool, sn: bool) -> dict:
    """The dotted keys a preset objective, optionally with R1 and spectral normalisation of D, sets.
    A DCGAN D loses its BatchNorm under a gradient penalty (it would couple the examples whose
    input gradients the penalty takes) and gets no normalisation, as the papers' own critics at
    MNIST and CIFAR-10 scale (improved_wgan_training's gan_mnist.py and gan_cifar.py; Mescheder
    et al.'s)."""
    overrides = dict(OBJECTIVES[objective])
    if r1:
        overrides["reg.r1"] = R1_GAMMA
    if sn:
        overrides["model.d.spectral_norm"] = True
    if objective == "r3gan":
        t = config.train
        overrides.update(
            {
                "anneal.steps": t.total_steps,
                "anneal.ema_images": R3GAN_EMA_SHARE * t.total_steps * t.batch_size,
            }
        )
    penalised = any(overrides.get(f"reg.{name}") for name in ("gradient_penalty", "r1", "r2"))
    if "norm" in config.model.d and penalised:
        overrides["model.d.norm"] = "none"
    return overrides


def apply_objective(config: ml_collections.ConfigDict, objective: str, r1: bool, sn: bool) -> None:
    apply_overrides(config, objective_overrides(config, objective, r1, sn))


def validate(config: ml_collections.ConfigDict) -> None:
    """Raise ConfigError naming the key and the fix; device-count checks live in parallel.py."""
    _check_train(config.train)
    for player in ("g", "d"):
        _check_optimizer(config.optim[player], player)
    _check_schedule(config)
    if config.eval.every and not config.eval.metrics:
        raise ConfigError("config.eval.every > 0 needs config.eval.metrics (comma-separated names).")
    if config.checkpoint.keep < 1:
        raise ConfigError("config.checkpoint.keep must be >= 1.")
    _check_mode_draw(config.eval)
    _check_objective(config)
    _check_anneal(config)


def _check_mode_draw(e: ml_collections.ConfigDict) -> None:
    if e.mode_min_high_quality < 0 or (e.mode_min_high_quality and e.mode_max_samples < e.mode_samples):
        raise ConfigError(
            f"config.eval.mode_min_high_quality={e.mode_min_high_quality} must be >= 0, and when it is on, "
            f"mode_max_samples={e.mode_max_samples:,} must be at least mode_samples={e.mode_samples:,}."
        )


def _check_anneal(config: ml_collections.ConfigDict) -> None:
    """What anneal.py schedules must be there to schedule, and scheduled once."""
    a, optimizers = anneal.annealing(config.anneal), [config.optim.g, config.optim.d]
    clashes = {  # annealed key: (what it cannot anneal with, whether the config has that)
        "lr": ("config.optim.*.decay_steps", any(o.decay_steps for o in optimizers)),
        "b2": ("an sgd optimiser (no beta2)", any(o.name != "adam" for o in optimizers)),
        "gamma": ("no R1 or R2 (config.reg.r1, r2 are 0)", not (config.reg.r1 or config.reg.r2)),
        "ema_images": ("config.train.ema_decay (a fixed decay)", config.train.ema_decay > 0),
    }
    for key, (what, present) in clashes.items():
        if getattr(a, key) and present:
            raise ConfigError(f"config.anneal.{key} cannot anneal with {what}: set it to 0 or change that.")


def _check_train(t: ml_collections.ConfigDict) -> None:
    if t.batch_size < 1 or t.total_steps < 1 or t.steps_per_call < 1:
        raise ConfigError("config.train.batch_size, total_steps and steps_per_call must be >= 1.")
    Schedule.from_config(t)  # each update option's own check
    if t.d_head_start >= t.total_steps:
        raise ConfigError(
            f"config.train.d_head_start={t.d_head_start} must be in [0, total_steps={t.total_steps})."
        )


def _check_optimizer(opt: ml_collections.ConfigDict, player: str) -> None:
    if not (math.isfinite(opt.lr) and opt.lr >= 0):
        raise ConfigError(f"config.optim.{player}.lr={opt.lr} must be a finite number >= 0.")
    for beta in ("b1", "b2"):
        if not 0.0 <= opt[beta] < 1.0:
            raise ConfigError(f"config.optim.{player}.{beta}={opt[beta]} must be in [0, 1).")


def _check_schedule(config: ml_collections.ConfigDict) -> None:
    """Every interval a whole number of compiled calls (eval.every may be 0: no evaluation)."""
    spc = config.train.steps_per_call
    for key in ("train.total_steps", "log.every", "log.sample_every", "checkpoint.every", "eval.every"):
        section, name = key.split(".")
        value = config[section][name]
        if key == "eval.every" and value == 0:
            continue
        if value < 1 or value % spc:
            raise ConfigError(
                f"config.{key}={value} must be a positive multiple of "
                f"config.train.steps_per_call={spc} (steps run in chunks of that size)."
            )


def _check_objective(config: ml_collections.ConfigDict) -> None:
    losses.objective(config.loss)  # unknown names and pairs that do not belong together
    reg = regularizers.regularization(config.reg)
    augment.augmentation(config.augment)
    if config.loss.d == "wasserstein" and not (reg.gradient_penalty or reg.weight_clip):
        raise ConfigError(
            "config.loss.d='wasserstein' needs a Lipschitz constraint on the critic: set "
            "config.reg.gradient_penalty (WGAN-GP; 10 in its paper) or config.reg.weight_clip (WGAN; 0.01)."
        )


def _flatten(d: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in d.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _defaults(config: dict) -> dict:
    """Every key's default, flat: base_config's and the options of `config`'s architecture -- a
    key added to the schema since a run was saved reads as its default."""
    defaults = base_config().to_dict()
    name = config.get("model", {}).get("name")
    if name in models.ARCHITECTURES:
        generator, discriminator = models.ARCHITECTURES[name]
        defaults["model"].update(g=models.options(generator), d=models.options(discriminator))
    return _flatten(defaults)


def _changed(saved: dict, current: dict, allowed: tuple[str, ...]) -> list[str]:
    """Keys whose values differ between two configs (as JSON), those under `allowed` aside."""
    a, b = {**_defaults(saved), **_flatten(saved)}, {**_defaults(current), **_flatten(current)}
    changed = sorted(k for k in set(a) | set(b) if json.dumps(a.get(k)) != json.dumps(b.get(k)))  # NaN == NaN
    return [k for k in changed if not any(k.startswith(p) for p in allowed)]


def resume_conflicts(saved: dict, current: dict) -> list[str]:
    """Keys whose values differ between a workdir's saved config and the current one."""
    return _changed(saved, current, RESUMABLE_CHANGES)


def run_conflicts(saved: dict, current: dict, finished: bool) -> tuple[list[str], bool]:
    """How a run trained under `saved` departs from the `current` config its sweep cell asks for:
    (the keys that stop it -- an unfinished run's resume conflicts; a finished run's every change
    of result --, whether it is a finished run that need only train longer)."""
    if not finished:
        return resume_conflicts(saved, current), False
    keys = _changed(saved, current, SAME_RESULT_CHANGES)
    longer = keys == ["train.total_steps"] and current["train"]["total_steps"] > saved["train"]["total_steps"]
    return ([] if longer else keys), longer


def apply_overrides(config: ml_collections.ConfigDict, overrides: dict) -> ml_collections.ConfigDict:
    """Set dotted keys ('model.d.width_mult': 2.0); an unknown key is an error naming it."""
    for key, value in overrides.items():
        problem = unknown_key(config, key)
        if problem:
            raise ConfigError(problem)
        *path, leaf = key.split(".")
        node = config
        for part in path:
            node = node[part]
        node[leaf] = value
    return config


def unknown_key(config: ml_collections.ConfigDict, key: str) -> str | None:
    """Why `--config.<key>=...` names no field of `config` (None when it does)."""
    node, walked = config, []
    for part in key.split("."):
        if not isinstance(node, ml_collections.ConfigDict) or part not in node:
            where = ".".join(walked) or "the config"
            options = sorted(node.keys()) if isinstance(node, ml_collections.ConfigDict) else []
            return f"Unknown config key {key!r}: {where} has no field {part!r}" + (
                f" (it has {options})." if options else "."
            )
        node = node[part]
        walked.append(part)
    return None
