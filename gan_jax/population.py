"""A population of runs that differ only in their seed, trained as one program under jax.vmap.

On an accelerator many small GANs (a sweep's seeds) would each leave it mostly idle; vmapping the
train step over a leading population axis runs them in one compiled program. Each member keeps
its own workdir: metrics.jsonl, checkpoints, config.json, the final evaluation, and a done.json
('finished', or 'diverged' at the first step where one of its metrics went NaN/Inf -- the other
members go on). A member equals the same run done alone up to float reassociation (a test checks
it). Used by experiments/sweep.py off the CPU, where separate processes are faster.
"""

import json
import pathlib
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from gan_jax import data, evaluation, experiment, writers
from gan_jax.checkpoint import Checkpoints
from gan_jax.errors import ConfigError
from gan_jax.state import GANState


def _without_seed(config: ml_collections.ConfigDict) -> dict:
    values = json.loads(config.to_json_best_effort())
    values.pop("seed")
    return values


def _member(stacked: GANState, i: int) -> GANState:
    return jax.tree.map(lambda x: x[i], stacked)


def train_population(configs: Sequence[ml_collections.ConfigDict], workdirs: Sequence[str]) -> list[GANState]:
    """Train configs (identical but for `seed`) together; returns each member's final state."""
    base = configs[0]
    if any(_without_seed(c) != _without_seed(base) for c in configs[1:]):
        raise ConfigError("A population's configs may differ only in `seed`.")
    source = data.load(base.data)
    gan = experiment.build_gan(base, source)
    workdirs = [pathlib.Path(w) for w in workdirs]
    ckpts = [Checkpoints(w / "checkpoints", base.checkpoint.keep) for w in workdirs]
    states = [experiment.initial_state(c, gan, source) for c in configs]
    starts = {c.latest_step() for c in ckpts}
    if len(starts) > 1:
        raise ConfigError(
            f"Population members are at different steps {sorted(starts, key=str)}; resume them alone."
        )
    start = starts.pop() or 0
    if start:
        states = [c.restore(start, s)[0] for c, s in zip(ckpts, states, strict=True)]
    for config, workdir in zip(configs, workdirs, strict=True):
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "config.json").write_text(
            json.dumps(json.loads(config.to_json_best_effort()), indent=2) + "\n"
        )
    stacked = jax.tree.map(lambda *x: jnp.stack(x), *states)
    arrays = {k: jnp.asarray(v) for k, v in experiment.training_arrays(base, gan, source).items()}
    multi_step = experiment.train_step(base, gan, source)
    step_fn = jax.jit(jax.vmap(multi_step, in_axes=(0, None)), donate_argnums=0)

    total, spc = base.train.total_steps, base.train.steps_per_call
    diverged: dict[int, str] = {}
    logs = [writers.JsonlLog(w / "metrics.jsonl", start) for w in workdirs]
    pending, step = [], start
    try:
        while step < total:
            stacked, metrics = step_fn(stacked, arrays)
            pending.append((step, metrics))
            step += spc
            done = step == total
            if step % base.log.every == 0 or step % base.checkpoint.every == 0 or done:
                _flush(pending, logs, diverged, step)
                pending = []
            if step % base.checkpoint.every == 0 or done:
                for i, c in enumerate(ckpts):
                    if i not in diverged:
                        c.save(_member(stacked, i))
    finally:
        for c in ckpts:
            c.wait()
            c.close()
    finals = [_member(stacked, i) for i in range(len(configs))]
    for i, (config, workdir, state) in enumerate(zip(configs, workdirs, finals, strict=True)):
        if i not in diverged and config.eval.metrics:
            evaluator = evaluation.Evaluator(
                config, gan, source, evaluation.parse_metrics(config.eval.metrics)
            )
            results = evaluator(state, total)
            evaluation.write(results, workdir)
            evaluator.figures(state, results, workdir / f"eval_{total}")
        outcome = {"status": "diverged", "message": diverged[i]} if i in diverged else {"status": "finished"}
        (workdir / "done.json").write_text(json.dumps(outcome) + "\n")
    return finals


def _flush(pending, logs, diverged: dict, step: int) -> None:
    """Per member: mean of each metric since the last flush, or its first non-finite step."""
    chunks = jax.device_get(pending)
    for i, log in enumerate(logs):
        if i in diverged:
            continue
        member = {k: np.concatenate([m[k][i] for _, m in chunks]) for k in chunks[0][1]}
        finite = np.all([np.isfinite(v) for v in member.values()], axis=0)
        if not finite.all():
            diverged[i] = f"non-finite metrics at step {chunks[0][0] + int(np.argmin(finite)) + 1}"
            continue
        log.append({"step": step, **{k: float(v.mean()) for k, v in member.items()}})
