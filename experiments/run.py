r"""Train one GAN: python -m experiments.run --config=configs/dcgan.py --workdir=runs/dcgan

Any config value can be overridden (--config.optim.d.lr=1e-4); re-running the same command
resumes from the workdir's latest checkpoint. Ctrl-C and SIGTERM (preemption) save the current step
first. Several processes (TPU pod slice, GPU hosts): see experiments/distributed.py and README.
"""

from absl import flags

from experiments import cli, distributed

_CONFIG = cli.define_config_flag("config", "Config file (path[:argument]).")
_WORKDIR = flags.DEFINE_string("workdir", None, "Directory for checkpoints, metrics and figures.")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
    del argv
    cli.enable_compilation_cache()
    distributed.initialize_if_requested()
    import jax

    from gan_jax import trainer
    from gan_jax.preemption import Preempted

    try:
        trainer.train_and_evaluate(_CONFIG.value, _WORKDIR.value)
    except Preempted as preempted:  # saved: a clean exit, the scheduler may restart the command
        if jax.process_index() == 0:
            print(preempted, flush=True)


def cli_main() -> None:
    cli.run(main)


if __name__ == "__main__":
    cli_main()
