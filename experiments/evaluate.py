r"""Evaluate a run's checkpoint: python -m experiments.evaluate --workdir=runs/ring [--step=N]

Adds to <workdir>/eval_<step>.json (each metric's value and protocol) and draws figures under
<workdir>/eval_<step>/. Metrics: --metrics, else the run's config.eval.metrics, else every metric
that applies to its data (the classifier-based ones when config.eval.classifier names one).

What training wrote is never replaced: a metric eval_<step>.json already holds is kept as it is
(and said so), and only the others are computed and added. `--out=<file>.json` writes the whole
evaluation to a file of its own instead (figures in <file>/), e.g. to recompute a metric with
another --classifier.
"""

import json

from absl import flags

from experiments import cli
from gan_jax.errors import UserError

_WORKDIR = flags.DEFINE_string("workdir", None, "The run directory.")
_STEP = flags.DEFINE_integer("step", None, "Checkpoint step (default: the latest).")
_METRICS = flags.DEFINE_string("metrics", None, "Comma-separated metric names.")
_CLASSIFIER = flags.DEFINE_string("classifier", None, "Override config.eval.classifier.")
_OUT = flags.DEFINE_string(
    "out",
    None,
    "Write the evaluation to this JSON file (figures beside it) instead of adding to eval_<step>.json.",
)
_INCEPTION = flags.DEFINE_string(
    "inception_weights",
    None,
    "InceptionV3 FID weights (pytorch-fid's .pth or an .npz) for FID/IS; 'auto': pytorch-fid's "
    "file, downloaded and verified once.",
)
_DINOV2 = flags.DEFINE_string(
    "dinov2_weights",
    None,
    "The official DINOv2 weights (dinov2_vitl14_pretrain.pth or an .npz; ViT-S/B also) for FD_DINOv2.",
)
_RESIZE = flags.DEFINE_enum(
    "resize", None, ["legacy", "clean"], "Override config.eval.resize: how images reach InceptionV3 / DINOv2."
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
    if _DINOV2.value is not None:
        config.eval.dinov2_weights = _DINOV2.value
    if _RESIZE.value is not None:
        config.eval.resize = _RESIZE.value
    spec = _METRICS.value or config.eval.metrics
    metrics = (
        evaluation.parse_metrics(spec)
        if spec
        else evaluation.applicable_metrics(
            source,
            bool(config.eval.classifier),
            bool(config.eval.inception_weights),
            has_dinov2=bool(config.eval.dinov2_weights),
        )
    )
    workdir, step = workdirs.resolve(_WORKDIR.value), int(state.step)
    out = workdirs.resolve(_OUT.value) if _OUT.value else workdir / f"eval_{step}.json"
    if _OUT.value and out.exists():
        raise UserError(f"--out={out} exists; name a new file (an evaluation never replaces another).")
    written = workdirs.read_json(out) if out.exists() else {"metrics": {}}
    kept = [m for m in metrics if m in written["metrics"]]
    if kept:
        print(f"{out} already holds {kept}: kept as written (--out=<file> computes them into another file).")
    metrics = [m for m in metrics if m not in kept]
    if not metrics:
        return
    evaluator = evaluation.Evaluator(config, gan, source, metrics)
    results = evaluator(state, step)
    results["metrics"] = {**written["metrics"], **results["metrics"]}
    if _OUT.value:
        workdirs.write_atomically(out, json.dumps(results, indent=2) + "\n")
    else:
        evaluation.write(results, workdir)
    evaluator.figures(results, out.with_suffix(""))
    print(f"{workdir} step {step} ({results['generator']} generator):")
    for key, value in evaluation.scalars(results).items():
        print(f"  {key:<32} {value:.6g}")
    print(f"Wrote {metrics} to {out} and figures in {out.with_suffix('')}/")


def cli_main() -> None:
    cli.run(main)


if __name__ == "__main__":
    cli_main()
