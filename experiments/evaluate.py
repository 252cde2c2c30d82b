r"""Evaluate a run's checkpoint: python -m experiments.evaluate --workdir=runs/ring [--step=N]

Writes <workdir>/eval_<step>.json (each metric's value and protocol) and figures under
<workdir>/eval_<step>/. Metrics: --metrics, else the run's config.eval.metrics, else every metric
that applies to its data (the classifier-based ones when config.eval.classifier names one).
"""

from absl import flags

from experiments import cli

_WORKDIR = flags.DEFINE_string("workdir", None, "The run directory.")
_STEP = flags.DEFINE_integer("step", None, "Checkpoint step (default: the latest).")
_METRICS = flags.DEFINE_string("metrics", None, "Comma-separated metric names.")
_CLASSIFIER = flags.DEFINE_string("classifier", None, "Override config.eval.classifier.")
_INCEPTION = flags.DEFINE_string(
    "inception_weights", None, "InceptionV3 FID weights (pytorch-fid's .pth or an .npz) for FID/IS."
)
flags.mark_flag_as_required("workdir")


def main(argv):
    del argv
    cli.enable_compilation_cache()
    from gan_jax import evaluation, trainer
    from gan_jax import workdir as workdirs

    config, gan, source, state = trainer.restore_run(_WORKDIR.value, _STEP.value)
    if _CLASSIFIER.value is not None:
        config.eval.classifier = _CLASSIFIER.value
    if _INCEPTION.value is not None:
        config.eval.inception_weights = _INCEPTION.value
    spec = _METRICS.value or config.eval.metrics
    metrics = (
        evaluation.parse_metrics(spec)
        if spec
        else evaluation.applicable_metrics(
            source, bool(config.eval.classifier), bool(config.eval.inception_weights)
        )
    )
    evaluator = evaluation.Evaluator(config, gan, source, metrics)
    step = int(state.step)
    results = evaluator(state, step)
    workdir = workdirs.resolve(_WORKDIR.value)
    evaluation.write(results, workdir)
    evaluator.figures(results, workdir / f"eval_{step}")
    print(f"{workdir} step {step} ({results['generator']} generator):")
    for key, value in evaluation.scalars(results).items():
        print(f"  {key:<32} {value:.6g}")
    print(f"Wrote {workdir / f'eval_{step}.json'} and figures in {workdir / f'eval_{step}'}/")


def cli_main() -> None:
    cli.run(main)


if __name__ == "__main__":
    cli_main()
