r"""Train one GAN: python -m experiments.run --config=configs/dcgan.py --workdir=runs/dcgan

Any config value can be overridden (--config.optim.d.lr=1e-4); re-running the same command
resumes from the workdir's latest checkpoint. Ctrl-C and SIGTERM (preemption) save the current step
first. Several processes (TPU pod slice, GPU hosts): see experiments/distributed.py and README.
"""

import sys

from absl import app, flags, logging
from ml_collections import config_flags

from experiments import cli, distributed

_CONFIG = config_flags.DEFINE_config_file("config", None, "Config file (path[:argument]).")
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics and figures.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
    del argv
    logging.set_verbosity(logging.WARNING)  # orbax logs every save at INFO
    cli.enable_compilation_cache()
    distributed.initialize_if_requested()
    from gan_jax import trainer

    trainer.train_and_evaluate(_CONFIG.value, _WORKDIR.value)


if __name__ == "__main__":
    cli.check_overrides(sys.argv)
    app.run(main)
