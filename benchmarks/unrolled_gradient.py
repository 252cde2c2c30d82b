r"""How much of an unrolled G's gradient comes through D's update, at a run's checkpoint.

Against D unrolled K steps (Metz et al. 2017), G's gradient has two terms: the gradient of its
loss with D's unrolled parameters held fixed, and the gradient through D's K optimiser steps
(their second term, `train.unroll_through_d`). This restores a run's checkpoint and takes both,
on `--batches` real batches and noises, with the run's own loss, batch size and K: the norm of
each term, its consistency across the batches, and the cosine between the whole gradient and the
held-fixed term (1: the second term changes nothing of the direction; 0: G follows D's update,
not D's judgement). It is a
measurement of states, not a cause: the training runs compare the two gradients
(docs/mode_collapse.md).

    python -m benchmarks.unrolled_gradient RUN_DIR [RUN_DIR ...] --out=terms.jsonl
"""

import argparse
import dataclasses
import json
import pathlib
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax

from gan_jax import data, steps, trainer
from gan_jax.clock import cpu_model

CONSISTENT = ("whole", "held_fixed")  # the through-D term is 0 when D's steps do not move it


def gradients(ctx: steps.StepContext, state, batches: dict, key: jax.Array) -> dict:
    """G's gradient against D unrolled `ctx.unroll_steps` steps on `batches` and `key`: whole (as
    Metz et al.), held fixed (D's steps not differentiated) and their difference (through D)."""

    def grad(unroll_through_d: bool):
        at = dataclasses.replace(ctx, unroll_through_d=unroll_through_d)
        loss = lambda p: steps.g_loss(p, state.g.batch_stats, state.d, at, batches, key)  # noqa: E731
        return jax.grad(loss, has_aux=True)(state.g.params)[0]

    whole, fixed = grad(True), grad(False)
    return {"whole": whole, "held_fixed": fixed, "through_d": optax.tree.sub(whole, fixed)}


def gradient_terms(run_dir: str, batches: int, seed: int = 0) -> dict:
    """At `run_dir`'s latest checkpoint, over `batches` batches: each term's mean norm and
    consistency across batches, and the mean cosine between the whole gradient and the held-fixed
    term."""
    config, gan, source, state = trainer.restore_run(run_dir)
    if not config.train.unroll_steps:
        raise SystemExit(f"{run_dir} does not unroll D (train.unroll_steps=0): it has one gradient term.")
    arrays = jax.device_put(data.training_arrays(source, gan.num_labelled))
    ctx = steps.StepContext(gan, source, config.train.batch_size, unroll_steps=config.train.unroll_steps)
    compiled = jax.jit(lambda state, batches, key: gradients(ctx.at(state), state, batches, key))
    per_batch = [
        compiled(
            state,
            steps.d_batches(ctx.at(state), arrays, None, jnp.asarray(i)),
            jax.random.fold_in(jax.random.key(seed), i),
        )
        for i in range(batches)
    ]
    norm = {t: [float(optax.tree.norm(g[t])) for g in per_batch] for t in per_batch[0]}
    total = {t: optax.tree.add(*[g[t] for g in per_batch]) for t in per_batch[0]}
    cosines = [
        float(optax.tree.vdot(g["whole"], g["held_fixed"])) / (n_whole * n_fixed)
        for g, n_whole, n_fixed in zip(per_batch, norm["whole"], norm["held_fixed"], strict=True)
    ]
    return {
        "run": run_dir,
        "cell": pathlib.Path(run_dir).resolve().parent.name,  # a sweep's cell directory
        "seed": int(config.seed),
        "step": int(jax.device_get(state.step)),
        "unroll_steps": int(config.train.unroll_steps),
        "trained_through_d": bool(config.train.unroll_through_d),
        "batches": batches,
        **{f"norm_{t}": float(np.mean(n)) for t, n in norm.items()},
        # |mean gradient| / mean |gradient| over the batches: 1 when every batch agrees, about
        # 1/sqrt(batches) when they are noise around nothing
        **{f"consistency_{t}": float(optax.tree.norm(total[t])) / float(np.sum(norm[t])) for t in CONSISTENT},
        "cosine_whole_held_fixed": float(np.mean(cosines)),
        "cpu": cpu_model(),
    }


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", help="run directories (a sweep's cell/seed_N)")
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--out", type=pathlib.Path, required=True, help="a JSON-lines file, one row a run")
    args = parser.parse_args(argv)
    with args.out.open("w") as out:
        for run in args.runs:
            row = gradient_terms(run, args.batches)
            print(json.dumps(row), file=out, flush=True)
            print(
                f"{row['cell']} seed {row['seed']} step {row['step']}: |whole| {row['norm_whole']:.3g}, "
                f"|held fixed| {row['norm_held_fixed']:.3g}, |through D| {row['norm_through_d']:.3g}, "
                f"cos(whole, held fixed) {row['cosine_whole_held_fixed']:.3f}; consistency: whole "
                f"{row['consistency_whole']:.2f}, held fixed {row['consistency_held_fixed']:.2f}"
            )


if __name__ == "__main__":
    main(sys.argv[1:])
