r"""The metric bench: evaluate stand-in generators with known defects, then report which metric
detects which failure at which sample size (gan_jax/metric_bench.py says how).

    python -m experiments.metric_bench --data=ring --out=docs/metrics        # one data set's records
    python -m experiments.metric_bench --out=docs/metrics                    # the report, from them
    python -m experiments.metric_bench --data=mnist --judge=inception --weights=auto --out=...
                                         # an image set judged by FID's InceptionV3 (or dinov2)

With --data: runs that data set's trials (no training, no download; CPU) and writes its records as
<out>/<data>.jsonl.gz. Without it: renders <out>/report.md and a curves figure per data set from
every records file in <out> alone, so the report regenerates byte for byte on any machine
(tests/test_metric_bench.py checks the committed one).
"""

import time

from absl import app, flags
from etils import epath

from gan_jax import feature_nets, metric_bench, metric_report, records
from gan_jax.clock import cpu_model
from gan_jax.errors import UserError
from gan_jax.feature_nets import FeatureNet

_DATA = flags.DEFINE_enum("data", None, metric_bench.NAMES, "The data set whose trials to run.")
_OUT = flags.DEFINE_string("out", "docs/metrics", "Where the records and the report live.")
_REPEATS = flags.DEFINE_integer("repeats", 10, "Independent draws of every setting.")
_JUDGE = flags.DEFINE_enum(
    "judge",
    "classifier",
    ("classifier", "inception", "dinov2"),
    "An image data set's feature network: its classifier, or InceptionV3 (FID's) or DINOv2 "
    "(FD_DINOv2's) from --weights; the same draws as the classifier's records, written beside them.",
)
_WEIGHTS = flags.DEFINE_string("weights", "auto", "--judge's weights: a file, or 'auto' (fetched, verified).")
_RESIZE = flags.DEFINE_enum("resize", "legacy", ("legacy", "clean"), "How images reach --judge.")
LOADERS = {"inception": feature_nets.load_inception, "dinov2": feature_nets.load_dinov2}


def run_data(name: str, out: epath.Path, repeats: int, judge: FeatureNet | None = None) -> None:
    dataset = metric_bench.load(name, judge)
    label = name if judge is None else f"{name}_{judge.name}"  # the records' file and report section
    trials = metric_bench.plan(dataset, repeats)
    start, found = time.time(), []
    for i in range(0, len(trials), 25):
        found += metric_bench.run(dataset, trials[i : i + 25])
        print(f"{label}: {len(found)}/{len(trials)} trials, {time.time() - start:.0f}s", flush=True)
    header = {
        "data": label,
        "repeats": repeats,
        "sizes": list(dataset.sizes),
        "curve_n": dataset.curve_n,
        "metrics": list(dataset.metrics),
        "severities": {d: list(dataset.severities(d)) for d in dataset.defects},
        "judge": dataset.judge.protocol if dataset.judge is not None else "the mixture's modes",
        "machine": f"{cpu_model()}, {time.time() - start:.0f} s",
    }
    records.write(out / f"{label}.jsonl.gz", header, found)


def main(argv) -> None:
    del argv
    out = epath.Path(_OUT.value)
    if _DATA.value:
        out.mkdir(parents=True, exist_ok=True)
        judge = None if _JUDGE.value == "classifier" else LOADERS[_JUDGE.value](_WEIGHTS.value, _RESIZE.value)
        run_data(_DATA.value, out, _REPEATS.value, judge)
        return
    files = sorted(out.glob("*.jsonl.gz"))
    if not files:
        raise UserError(f"No records in {out}: run --data=<name> first ({', '.join(metric_bench.NAMES)}).")
    (out / "report.md").write_text(metric_report.render([records.read(f) for f in files], out))
    print(f"Wrote {out / 'report.md'}")


if __name__ == "__main__":
    app.run(main)
