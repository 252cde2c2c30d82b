r"""Draw samples of one class from a trained (conditional) GAN:

    python -m experiments.sample --workdir=runs/cgan --label=3 --n=64 [--step=N] [--seed=0]

Writes <workdir>/samples_label<k>_step<N>.png (samples_step<N>.png for an unconditional run): an
image grid, or G's samples over the mode centres for 2-D data. Uses the EMA generator when the run
kept one. Without --label on a conditional run, or with it on an unconditional one, it says so.
"""

import jax
import numpy as np
from absl import flags

from experiments import cli
from gan_jax.errors import UserError

_WORKDIR = flags.DEFINE_string("workdir", None, "The run directory.")
_LABEL = flags.DEFINE_integer("label", None, "Class to sample (conditional runs).")
_N = flags.DEFINE_integer("n", 64, "How many samples.")
_STEP = flags.DEFINE_integer("step", None, "Checkpoint step (default: the latest).")
_SEED = flags.DEFINE_integer("seed", 0, "Seed of the latent vectors.")
flags.mark_flag_as_required("workdir")


def main(argv):
    del argv
    cli.enable_compilation_cache()
    from gan_jax import evaluation, memory, plots, trainer
    from gan_jax import workdir as workdirs
    from gan_jax.models import apply

    if _N.value < 1:
        raise UserError(f"--n={_N.value}: draw at least one sample.")
    config, gan, source, state = trainer.restore_run(_WORKDIR.value, _STEP.value)
    if gan.num_classes and _LABEL.value is None:
        raise UserError(
            f"This run is conditional on {gan.num_classes} classes: pass --label=0..{gan.num_classes - 1}."
        )
    if not gan.num_classes and _LABEL.value is not None:
        raise UserError("This run is not conditional (config.model.conditional=False): drop --label.")
    label = _LABEL.value or 0
    if not 0 <= label < max(gan.num_classes, 1):
        raise UserError(f"--label={label} is not a class of this run (0..{gan.num_classes - 1}).")
    variables = state.g_ema if state.g_ema is not None else state.g.variables
    sample = apply.make_sampler(gan)

    @jax.jit
    def draw(variables, reference, key, y):
        return sample(variables, gan.noise(key, len(y)), y, reference)

    key, y_shape = jax.random.PRNGKey(_SEED.value), jax.ShapeDtypeStruct((_N.value,), np.int32)
    compiled = draw.lower(variables, state.vbn_reference, key, y_shape).compile()
    # Checked before anything of that size exists (the labels of 10^9 samples are 4 GB on the host).
    memory.check_fits(compiled, jax.devices()[0], f"Drawing {_N.value:,} samples", "--n", _N.value)
    y = np.full(_N.value, label, np.int32)  # the labels, once they fit
    step = int(state.step)
    x = evaluation.finite_samples(compiled(variables, state.vbn_reference, key, y), step)
    name = f"samples_label{label}_step{step}.png" if gan.num_classes else f"samples_step{step}.png"
    path = workdirs.resolve(_WORKDIR.value) / name
    if source.kind == "images":
        plots.save_image_grid(x, path, scale=max(1, 128 // x.shape[1]))
    else:
        title = f"{_N.value} samples of class {label}" if gan.num_classes else f"{_N.value} samples"
        plots.save_points_figure(x, source.mixture, f"{title}, step {step}", path)
    of_class = f" of class {label}" if gan.num_classes else ""
    print(f"Wrote {path} ({_N.value} samples{of_class} at step {step}).")


def cli_main() -> None:
    cli.run(main)


if __name__ == "__main__":
    cli_main()
