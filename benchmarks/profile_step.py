r"""Where a train step's time goes on the device: JAX's profiler traced over a few calls of the
compiled step, read back from its XSpace, and summed per step -- the time the device's streams
are busy against the wall time (the rest is the device waiting: kernel launches, the host loop),
the kernels per step, and the kernels that take the time, by kind (convolution or matmul, layout
transposes, copies, reductions, XLA's element-wise fusions).

    python -m benchmarks.profile_step --cells="64,bfloat16,128|64,float32,128" --out=prof/  # a GPU
    python -m benchmarks.profile_step --read=prof/TRACE.xplane.pb:30    # a kept trace of 30 steps
    python -m benchmarks.profile_step --smoke                           # any machine
    bash device/benchmark.sh profile:120     # the lent H200: summaries and traces in $OUT

On a CPU there are no device streams: the summary then reads XLA's CPU thunks, a coarser view,
and their names do not say what they compute (XLA:CPU calls a YNNPACK fusion `ynn_fusion.N`
whether it holds a convolution, a matrix product or a reduction), so a profiled step's kinds are
read from its compiled HLO (`hlo_kinds`); a kept trace read back has only the names.
--out keeps each trace (.xplane.pb, readable with jax.profiler.ProfileData or XProf).
"""

import argparse
import dataclasses
import json
import pathlib
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable

import jax
from etils import epath

from benchmarks import accelerator

# A kernel's kind from its name (cuDNN's and cuBLAS's kernels, XLA's layout changes and copies).
KINDS = (
    (
        "convolution/matmul",
        r"xmma|gemm|cudnn|cutlass|conv(?!ert)|wgrad|dgrad|fprop|implicit|winograd|sm\d\d_",
    ),
    ("layout transpose", r"nchw|nhwc|transpose|permute"),
    ("copy/memset", r"memcpy|memset|copy"),
    ("reduction", r"reduce"),  # XLA's reduction fusions: BatchNorm's statistics, bias gradients
)


def kind(name: str, computes: str | None = None) -> str:
    """The kind (KINDS) of the kernel called `name`; where the name does not say, what its op
    `computes` (hlo_kinds), or else XLA's element-wise fusions."""
    for label, pattern in KINDS:
        if re.search(pattern, name, re.IGNORECASE):
            return label
    return computes or "element-wise/other"


# What an HLO instruction computes, by the opcodes it or its fused computation holds, first match.
HLO_KINDS = (
    ("convolution/matmul", {"convolution", "dot"}),
    ("reduction", {"reduce", "reduce-window"}),
    ("layout transpose", {"transpose"}),
    ("copy/memset", {"copy"}),
)
_INSTRUCTION = re.compile(r"^\s*(?:ROOT )?%?([\w.\-]+) = .*?\s([a-z][\w\-]*)\(")


def _instructions(hlo_text: str) -> tuple[dict[str, set[str]], dict[str, tuple[str, str | None]]]:
    """(each computation's opcodes, each instruction's (opcode, the computation it calls)) of a
    module's text."""
    opcodes: dict[str, set[str]] = {}
    instructions: dict[str, tuple[str, str | None]] = {}
    current = ""
    for line in hlo_text.splitlines():
        if line.rstrip().endswith("{") and " = " not in line:  # a computation's header
            current = line.replace("ENTRY ", "").split()[0].lstrip("%")
        elif match := _INSTRUCTION.match(line):
            opcodes.setdefault(current, set()).add(match[2])
            calls = re.search(r"calls=%?([\w.\-]+)", line)
            instructions[match[1]] = (match[2], calls[1] if calls else None)
    return opcodes, instructions


def hlo_kinds(hlo_text: str) -> dict[str, str]:
    """Each instruction of a compiled module's text that computes one of HLO_KINDS (a fusion: what
    its fused computation computes), by name -- the name its thunk carries in a CPU trace."""
    opcodes, instructions = _instructions(hlo_text)
    kinds = {}
    for name, (opcode, callee) in instructions.items():
        held = {opcode} | opcodes.get(callee, set())
        kinds[name] = next((label for label, ops in HLO_KINDS if held & ops), None)
    return {name: label for name, label in kinds.items() if label}


@dataclasses.dataclass(frozen=True)
class Kernel:
    """One kernel's run: its name, the XLA op that launched it, and its thread blocks (the grid's
    size, 0 where the trace does not say: a copy, or a CPU op)."""

    name: str
    op: str
    start_ns: float
    duration_ns: float
    blocks: int = 0


def _kernel(event) -> Kernel:
    stats = dict(event.stats)
    grid = re.search(r"grid:(\d+),(\d+),(\d+)", str(stats.get("kernel_details", "")))
    blocks = int(grid[1]) * int(grid[2]) * int(grid[3]) if grid else 0
    return Kernel(event.name, str(stats.get("hlo_op", event.name)), event.start_ns, event.duration_ns, blocks)


def device_kernels(profile: jax.profiler.ProfileData) -> list[Kernel]:
    """The kernels and copies on the device's streams ("Stream" lines of the "/device:" planes);
    on a host without one, XLA's CPU ops (the "/host:CPU" plane's XLA threads, less the thunk
    executor's events that enclose them)."""
    on_device = [
        _kernel(event)
        for event in _events(
            profile, lambda plane, line: plane.startswith("/device:") and line.startswith("Stream")
        )
    ]
    return on_device or [
        _kernel(event)
        for event in _events(profile, lambda plane, line: plane == "/host:CPU" and line.startswith("tf_XLA"))
        if event.duration_ns > 0 and not event.name.startswith("ThunkExecutor")
    ]


def _events(profile: jax.profiler.ProfileData, wanted: Callable[[str, str], bool]) -> list:
    """The events of the lines that `wanted(plane name, line name)` keeps."""
    return [
        event
        for plane in profile.planes
        for line in plane.lines
        if wanted(plane.name, line.name)
        for event in line.events
    ]


def busy_ns(kernels: list[Kernel]) -> float:
    """Time at least one kernel runs: the union of their intervals (streams overlap)."""
    busy, end = 0.0, float("-inf")
    for k in sorted(kernels, key=lambda k: k.start_ns):
        stop = k.start_ns + k.duration_ns
        if stop > end:
            busy += stop - max(k.start_ns, end)
            end = stop
    return busy


def _kinds_of(kernels: list[Kernel], kinds: dict[str, str] | None) -> dict[tuple[str, str], str]:
    """Each (op, kernel name)'s kind: the name's, else what the op computes (`kinds`)."""
    kinds = kinds or {}
    return {(k.op, k.name): kind(k.name, kinds.get(k.op)) for k in kernels}


def summary(
    kernels: list[Kernel],
    steps: int,
    wall_ns: float | None = None,
    top: int = 12,
    kinds: dict[str, str] | None = None,
) -> dict:
    """Per step: wall (default: the kernels' span), busy and kernel time, kernel count; shares of
    kernel time by kind (`kinds`, by the op that launched the kernel: hlo_kinds; the kernel's name
    otherwise), in kernels of one thread block (a GPU of 132 SMs runs them on one) and in kernels
    under 5 us; the `top` kernels by the op that launched them."""
    kind_of = _kinds_of(kernels, kinds)
    total = sum(k.duration_ns for k in kernels)
    if wall_ns is None:
        wall_ns = max(k.start_ns + k.duration_ns for k in kernels) - min(k.start_ns for k in kernels)
    by_kind: dict[str, float] = {}
    by_op: dict[tuple[str, str], list[float]] = {}
    for k in kernels:
        label = kind_of[k.op, k.name]
        by_kind[label] = by_kind.get(label, 0.0) + k.duration_ns
        by_op.setdefault((k.op, k.name), []).append(k.duration_ns)
    heaviest = sorted(by_op.items(), key=lambda item: -sum(item[1]))[:top]
    return {
        "steps": steps,
        "wall_us_per_step": wall_ns / steps / 1e3,
        "busy_us_per_step": busy_ns(kernels) / steps / 1e3,
        "kernel_us_per_step": total / steps / 1e3,
        "kernels_per_step": len(kernels) / steps,
        "share_by_kind": {label: t / total for label, t in sorted(by_kind.items(), key=lambda i: -i[1])},
        "share_in_one_block": sum(k.duration_ns for k in kernels if k.blocks == 1) / total,
        "share_under_5us": sum(k.duration_ns for k in kernels if k.duration_ns < 5e3) / total,
        "top": [
            {
                "op": op,
                "name": name[:120],
                "kind": kind_of[op, name],
                "calls_per_step": len(times) / steps,
                "share": sum(times) / total,
            }
            for (op, name), times in heaviest
        ],
    }


def profile(config, calls: int, keep: epath.Path | None = None) -> dict:
    """Build `config`'s step (benchmarks.accelerator.Timed), trace `calls` calls, summarise; the
    untraced rate beside it is timed over about a second of calls (a few calls' rate is mostly
    the wait for the last one)."""
    timed = accelerator.Timed(config)
    timed.rate(calls)  # past the first calls' allocations
    logdir = tempfile.mkdtemp()
    with jax.profiler.trace(logdir):
        start = time.perf_counter_ns()
        timed.rate(calls)
        wall = time.perf_counter_ns() - start
    trace = next(pathlib.Path(logdir).rglob("*.xplane.pb"))
    if keep:
        keep.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(trace, keep)
    kernels = device_kernels(jax.profiler.ProfileData.from_file(str(trace)))
    result = summary(kernels, calls * timed.steps_per_call, wall, kinds=hlo_kinds(timed.compiled.as_text()))
    shutil.rmtree(logdir)
    steps_per_s = calls * timed.steps_per_call * 1e9 / wall
    result["untraced_steps_per_s"] = timed.rate(max(calls, int(steps_per_s / timed.steps_per_call)))
    return result


def read(trace: str | pathlib.Path, steps: int, wall_ns: float | None = None) -> dict:
    """The summary of a trace (.xplane.pb) of `steps` train steps."""
    return summary(device_kernels(jax.profiler.ProfileData.from_file(str(trace))), steps, wall_ns)


def print_summary(name: str, s: dict) -> None:
    untraced, busy = s.get("untraced_steps_per_s"), s["busy_us_per_step"] / s["wall_us_per_step"]
    print(
        f"\n{name}: per step {s['wall_us_per_step']:,.0f} us wall"
        + (f" (traced; untraced {1e6 / untraced:,.0f} us)" if untraced else " (the kernels' span)")
        + f", device busy {s['busy_us_per_step']:,.0f} us ({busy:.0%}),"
        f" kernels {s['kernel_us_per_step']:,.0f} us in {s['kernels_per_step']:,.1f} launches"
    )
    print("  by kind: " + ", ".join(f"{label} {share:.0%}" for label, share in s["share_by_kind"].items()))
    print(
        f"  in one-block kernels {s['share_in_one_block']:.0%}, "
        f"in kernels under 5 us {s['share_under_5us']:.0%}"
    )
    print("| XLA op | kernel | kind | calls/step | share of kernel time |\n|---|---|---|---|---|")
    for k in s["top"]:
        print(f"| {k['op']} | {k['name'][:80]} | {k['kind']} | {k['calls_per_step']:g} | {k['share']:.1%} |")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the script")
    parser.add_argument(
        "--cells",
        default="64,bfloat16,128|64,float32,128|64,bfloat16,1024|64,bfloat16,128,1",
        help="'|'-separated size,dtype,batch[,steps_per_call] (default: the config's 10)",
    )
    parser.add_argument("--calls", type=int, default=3, help="calls traced per cell")
    parser.add_argument("--out", default="", help="a folder: profile.json and each cell's .xplane.pb")
    parser.add_argument(
        "--read", default="", help="'|'-separated TRACE.xplane.pb:STEPS: summarise these, trace nothing"
    )
    return parser


def read_traces(specs: str, parser: argparse.ArgumentParser) -> dict:
    """--read: each kept trace's summary, printed."""
    traces = [spec.rpartition(":") for spec in specs.split("|")]
    bad = [path for path, _, steps in traces if not steps.isdigit() or not pathlib.Path(path).is_file()]
    if bad:
        parser.error(f"--read {bad}: each is an existing TRACE.xplane.pb:STEPS (the steps it holds)")
    results = {path: read(path, int(steps)) for path, _, steps in traces}
    for path, result in results.items():
        print_summary(path, result)
    return results


def cell_config(size: str, dtype: str, batch: str, *steps_per_call: str, smoke: bool):
    """The DCGAN config of a --cells entry (benchmarks.accelerator.dcgan) and its row name."""
    config = accelerator.dcgan(int(size), dtype, 8 if smoke else int(batch), smoke)
    if steps_per_call:
        config.train.steps_per_call = int(steps_per_call[0])
    steps = config.train.steps_per_call
    return config, f"dcgan {size}px b{config.train.batch_size} {dtype}, {steps} steps a call"


def main(argv=None) -> dict:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.read:
        return read_traces(args.read, parser)
    cells = [cell.split(",") for cell in args.cells.split("|")]
    bad = [c for c in cells if len(c) not in (3, 4) or c[1] not in ("float32", "bfloat16")]
    if bad:
        parser.error(f"cells {bad}: each is size,dtype,batch[,steps_per_call], e.g. 64,bfloat16,128")
    out = epath.Path(args.out) if args.out else None
    results = {"machine": {"device": jax.devices()[0].device_kind, "versions": accelerator.versions()}}
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=256 if args.smoke else 2048):
        for cell in cells:
            config, name = cell_config(*cell, smoke=args.smoke)
            keep = out / (re.sub(r"[^a-z0-9]+", "_", name) + ".xplane.pb") if out else None
            results[name] = profile(config, args.calls, keep)
            print_summary(name, results[name])
            sys.stdout.flush()
            if out:
                (out / "profile.json").write_text(json.dumps(results, indent=1))
    return results


if __name__ == "__main__":
    main()
