r"""Train one GAN: python -m experiments.run --config=configs/dcgan.py --workdir=runs/dcgan

Any config value can be overridden (--config.optim.d.lr=1e-4); re-running the same command
resumes from the workdir's latest checkpoint. Ctrl-C saves the current step first.
"""

import os
import sys

from absl import app, flags, logging
from ml_collections import config_flags

from experiments import cli

_CONFIG = config_flags.DEFINE_config_file("config", None, "Config file (path[:argument]).")
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics and figures.")
_JAX_CACHE = flags.DEFINE_string(
    "jax_cache_dir", os.path.expanduser("~/.cache/gan_jax/jax"),
    "JAX's persistent compilation cache ('' turns it off): later runs of a config skip compiling.",
)
flags.mark_flags_as_required(["config", "workdir"])


def enable_compilation_cache(directory: str) -> None:
    import jax

    if directory:
        jax.config.update("jax_compilation_cache_dir", directory)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO
    enable_compilation_cache(_JAX_CACHE.value)
    from gan_jax import trainer

    trainer.train_and_evaluate(_CONFIG.value, _WORKDIR.value)


if __name__ == "__main__":
    cli.check_overrides(sys.argv)
    app.run(main)
