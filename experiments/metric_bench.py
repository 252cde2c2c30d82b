r"""The metric bench: evaluate stand-in generators with known defects, then report which metric
detects which failure at which sample size (gan_jax/metric_bench.py says how).

    python -m experiments.metric_bench --data=ring --out=docs/metrics        # one data set's records
    python -m experiments.metric_bench --out=docs/metrics                    # the report, from them

With --data: runs that data set's trials (no training, no download; CPU) and writes its records as
<out>/<data>.jsonl.gz. Without it: renders <out>/report.md and a curves figure per data set from
every records file in <out> alone, so the report regenerates byte for byte on any machine
(tests/test_metric_bench.py checks the committed one).
"""

import time

from absl import app, flags
from etils import epath

from gan_jax import metric_bench, metric_report, records
from gan_jax.clock import cpu_model
from gan_jax.errors import UserError

_DATA = flags.DEFINE_enum("data", None, metric_bench.NAMES, "The data set whose trials to run.")
_OUT = flags.DEFINE_string("out", "docs/metrics", "Where the records and the report live.")
_REPEATS = flags.DEFINE_integer("repeats", 10, "Independent draws of every setting.")


def run_data(name: str, out: epath.Path, repeats: int) -> None:
    dataset = metric_bench.load(name)
    trials = metric_bench.plan(dataset, repeats)
    start, found = time.time(), []
    for i in range(0, len(trials), 25):
        found += metric_bench.run(dataset, trials[i : i + 25])
        print(f"{name}: {len(found)}/{len(trials)} trials, {time.time() - start:.0f}s", flush=True)
    header = {
        "data": name,
        "repeats": repeats,
        "sizes": list(dataset.sizes),
        "curve_n": dataset.curve_n,
        "metrics": list(dataset.metrics),
        "severities": {d: list(dataset.severities(d)) for d in dataset.defects},
        "judge": dataset.judge.protocol if dataset.judge is not None else "the mixture's modes",
        "machine": f"{cpu_model()}, {time.time() - start:.0f} s",
    }
    records.write(out / f"{name}.jsonl.gz", header, found)


def main(argv) -> None:
    del argv
    out = epath.Path(_OUT.value)
    if _DATA.value:
        out.mkdir(parents=True, exist_ok=True)
        run_data(_DATA.value, out, _REPEATS.value)
        return
    files = sorted(out.glob("*.jsonl.gz"))
    if not files:
        raise UserError(f"No records in {out}: run --data=<name> first ({', '.join(metric_bench.NAMES)}).")
    (out / "report.md").write_text(metric_report.render([records.read(f) for f in files], out))
    print(f"Wrote {out / 'report.md'}")


if __name__ == "__main__":
    app.run(main)
