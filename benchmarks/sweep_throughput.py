r"""Runs per hour of a CPU sweep: experiments.sweep against the same GAN as a plain PyTorch loop.

    python -m benchmarks.sweep_throughput [--seeds=1] [--rounds=2] [--parallel=2]

The sweep is configs/mode_collapse.py:ring (4 cells: saturating / non-saturating G loss x 1 / 3 D
steps per G step; G 4 x 128 ReLU, D 3 x 128 ReLU, Adam 1e-3 beta1 0.5, batch 256, 4,000 G steps)
with `--seeds` seeds, as `experiments.sweep` runs it: one single-threaded worker process per core,
each run compiled, trained, logged, checkpointed and evaluated (2,500 samples: modes and the
equilibrium metrics) into its workdir. PyTorch runs the same runs (same networks, losses, update
order, batch and steps; the ring drawn fresh each step) as a plain training loop, one
single-threaded process per core, writing nothing. The two alternate `--rounds` times; each row
is the median. Wall-clock time includes every process's start-up (imports, compilation).
"""

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time

from gan_jax.clock import cpu_model

CELLS = [(g_loss, k) for g_loss in ("saturating", "non_saturating") for k in (1, 3)]
STEPS, BATCH, WIDTH = 4_000, 256, 128


def torch_run(cell: tuple[str, int], seed: int, steps: int = STEPS) -> None:
    """One run of the study's small GAN on the ring, in PyTorch eager, single-threaded."""
    import numpy as np
    import torch
    from torch import nn

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    g_loss_name, k = cell

    def mlp(sizes):
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:], strict=True):
            layers += [nn.Linear(a, b), nn.ReLU()]
        return nn.Sequential(*layers[:-1])

    G, D = mlp([2] + [WIDTH] * 4 + [2]), mlp([2] + [WIDTH] * 3 + [1])
    opt_g = torch.optim.Adam(G.parameters(), 1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(D.parameters(), 1e-3, betas=(0.5, 0.999))
    angles = 2 * np.pi * np.arange(8) / 8
    means = torch.tensor(np.stack([np.cos(angles), np.sin(angles)], 1), dtype=torch.float32)
    softplus = nn.functional.softplus

    def ring():
        return means[torch.randint(0, 8, (BATCH,))] + 0.01 * torch.randn(BATCH, 2)

    for _ in range(steps):
        for _ in range(k):
            with torch.no_grad():
                fake = G(torch.randn(BATCH, 2))
            d_loss = softplus(-D(ring())).mean() + softplus(D(fake)).mean()
            opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            opt_d.step()
        D.requires_grad_(False)
        logits = D(G(torch.randn(BATCH, 2)))
        g_loss = -softplus(logits).mean() if g_loss_name == "saturating" else softplus(-logits).mean()
        opt_g.zero_grad(set_to_none=True)
        g_loss.backward()
        opt_g.step()
        D.requires_grad_(True)


def _torch_worker(share: list) -> None:
    for cell, seed, steps in share:
        torch_run(cell, seed, steps)


def torch_sweep(seeds: int, parallel: int, steps: int) -> float:
    """Wall-clock seconds of every cell x seed, the runs dealt to `parallel` processes."""
    runs = [(cell, seed, steps) for seed in range(seeds) for cell in CELLS]
    start = time.perf_counter()
    with multiprocessing.get_context("spawn").Pool(parallel) as pool:
        pool.map(_torch_worker, [runs[i::parallel] for i in range(parallel)])
    return time.perf_counter() - start


def jax_sweep(seeds: int, parallel: int, smoke: bool, population: bool = False) -> float:
    """Wall-clock seconds of `experiments.sweep` over a fresh workdir: worker processes, or each
    cell's seeds as one vmapped population in one process on every core."""
    spec = f"configs/mode_collapse.py:ring,seeds={seeds}{',smoke' if smoke else ''}"
    with tempfile.TemporaryDirectory() as workdir:
        start = time.perf_counter()
        command = [sys.executable, "-m", "experiments.sweep", f"--config={spec}", f"--workdir={workdir}"]
        how = "--population" if population else f"--parallel={parallel}"
        subprocess.run([*command, how], check=True, capture_output=True)
        return time.perf_counter() - start


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--parallel", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--smoke", action="store_true", help="40-step runs: checks the script")
    parser.add_argument(
        "--population", action="store_true", help="also the sweep as vmapped populations (--seeds >= 2)"
    )
    args = parser.parse_args(argv)
    runs = len(CELLS) * args.seeds
    seconds = {"experiments.sweep (JAX)": [], "PyTorch loop": []}
    if args.population:
        seconds["experiments.sweep (JAX), a vmapped population per cell"] = []
    for _ in range(args.rounds):  # interleaved
        seconds["experiments.sweep (JAX)"].append(jax_sweep(args.seeds, args.parallel, args.smoke))
        seconds["PyTorch loop"].append(torch_sweep(args.seeds, args.parallel, 40 if args.smoke else STEPS))
        if args.population:
            population = jax_sweep(args.seeds, args.parallel, args.smoke, population=True)
            seconds["experiments.sweep (JAX), a vmapped population per cell"].append(population)
    per_hour = {name: 3600 * runs / statistics.median(s) for name, s in seconds.items()}
    steps = 40 if args.smoke else STEPS
    print(
        f"\n{cpu_model()}; {runs} runs ({len(CELLS)} cells x {args.seeds} seeds, {steps} steps), "
        f"{args.parallel} processes, {args.rounds} interleaved rounds, median"
    )
    print("| sweep | wall s | runs per hour |")
    print("|---|---|---|")
    for name, s in seconds.items():
        print(f"| {name} | {statistics.median(s):.1f} | {per_hour[name]:.0f} |")
    for name in seconds:
        if name.startswith("experiments.sweep"):
            print(f"{name} / PyTorch runs per hour: {per_hour[name] / per_hour['PyTorch loop']:.2f}x")
    return per_hour


if __name__ == "__main__":
    main()
