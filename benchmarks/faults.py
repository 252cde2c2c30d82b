r"""Chaos loops on the real command: random kill -9s, double Ctrl-Cs and a disk that fills up.

    python -m benchmarks.faults [--trials=10] [--steps=400] [--seed=0] [--kinds=kill,double_ctrl_c,disk_full]
                                [--repo=<another checkout>]

Each trial starts `experiments.run` on configs/gan_mlp.py:smoke (`--steps` steps, logged every 20,
sampled and checkpointed every 40, evaluated every 100), hits it with one fault at a random moment,
then reruns the same command until it finishes. It passes when everything the run wrote -- the
metric rows (less the wall-clock column), eval.jsonl, every eval_<step>.json, every sample image
and the final checkpoint's fingerprint -- equals an uninterrupted run's, and every stop printed
one line (no traceback). The faults:

- `kill`: kill -9 at a random time;
- `double_ctrl_c`: SIGINT at a random time, a second one 0-300 ms later;
- `disk_full`: the run's workdir on an 8 MB tmpfs (root only: `mount -t tmpfs`) that another
  file fills at a random time, leaving 0-300 kB; when the run stops, the file goes and the
  command is rerun.

Prints one row per kind: trials, the runs the fault stopped, stops said in one line (`Error: ...` or
`Interrupted...` last, no traceback; kill -9 says nothing), runs equal to the uninterrupted one after
the reruns, and the trials that lost something or could not resume (with what differed). Nothing is asserted:
the test suite checks each fault at a chosen moment (tests/test_faults.py); this samples the
moments at random.
"""

import argparse
import json
import os
import pathlib
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from gan_jax.clock import cpu_model

REPO = pathlib.Path(__file__).resolve().parents[1]  # --repo: another checkout's command (before/after)


def command(workdir: pathlib.Path, steps: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "experiments.run",
        "--config=configs/gan_mlp.py:smoke",
        f"--workdir={workdir}",
        f"--config.train.total_steps={steps}",
        "--config.log.every=20",
        "--config.log.sample_every=40",
        "--config.checkpoint.every=40",
        "--config.eval.every=100",
    ]


def start(workdir: pathlib.Path, steps: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
    return subprocess.Popen(
        command(workdir, steps),
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(workdir: pathlib.Path, steps: int, attempts: int = 3) -> tuple[bool, list[str]]:
    """Rerun the command until it ends normally: (whether it did, the outputs of the reruns)."""
    outputs = []
    for _ in range(attempts):
        process = start(workdir, steps)
        output = process.communicate(timeout=600)[0]
        outputs.append(output)
        if process.returncode == 0:
            return True, outputs
    return False, outputs


def written(workdir: pathlib.Path) -> dict:
    """Everything a run wrote that must not depend on how it got there ({} if it cannot be read)."""
    try:
        return _written(workdir)
    except (OSError, ValueError, KeyError):
        return {}


def _written(workdir: pathlib.Path) -> dict:
    files = {}
    for path in sorted(workdir.rglob("*")):
        relative = str(path.relative_to(workdir))
        if path.is_file() and (relative.startswith("samples/") or relative.startswith("eval_")):
            if relative.endswith((".json", ".png")) and "/" not in relative.removeprefix("samples/"):
                files[relative] = path.read_bytes()
    for name in ("metrics", "eval"):
        rows = [json.loads(line) for line in (workdir / f"{name}.jsonl").read_text().splitlines()]
        files[f"{name}.jsonl"] = [{k: v for k, v in r.items() if k != "steps_per_sec"} for r in rows]
    last = max(int(p.name) for p in (workdir / "checkpoints").iterdir() if p.name.isdigit())
    meta = json.loads((workdir / "checkpoints" / str(last) / "meta" / "metadata").read_text())
    files["final fingerprint"] = (last, meta["fingerprint"])
    return files


def fill(directory: pathlib.Path, leave: int) -> pathlib.Path:
    """Take all but about `leave` bytes of the free space of `directory`'s file system (another
    process filling the disk; the run writes meanwhile, so it may take the last bytes itself)."""
    filler = directory / "filler"
    with open(filler, "wb", buffering=0) as f:
        while True:
            stats = os.statvfs(directory)
            chunk = min(stats.f_bavail * stats.f_frsize - leave, 1 << 20)
            if chunk <= 0:
                return filler
            try:
                f.write(bytes(chunk))
            except OSError:  # full already
                return filler


def trial(kind: str, workdir: pathlib.Path, steps: int, rng: random.Random, mount: pathlib.Path) -> dict:
    """One fault at a random moment, then reruns until the run finishes."""
    if kind == "disk_full":
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], check=True)
        workdir = mount / "run"
    process = start(workdir, steps)
    time.sleep(rng.uniform(3.0, 9.0))  # start-up is ~3 s; the run ~6 s more
    filler = None
    if kind == "kill":
        process.send_signal(signal.SIGKILL)
    elif kind == "double_ctrl_c":
        process.send_signal(signal.SIGINT)
        time.sleep(rng.uniform(0.0, 0.3))
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    else:
        filler = fill(mount, rng.randint(0, 300_000))
    output = process.communicate(timeout=600)[0]
    stopped = process.returncode != 0
    if filler is not None:
        filler.unlink()
    last = output.strip().splitlines()[-1] if output.strip() else ""
    said = last.startswith(("Error: ", "Interrupted")) and "Traceback" not in output
    done, _ = finish(workdir, steps)
    result = {"stopped": stopped, "said": kind == "kill" or not stopped or said, "done": done, "last": last}
    if not result["said"]:
        result["last"] = output[-3000:]
    if done:
        result["files"] = written(workdir)
    if kind == "disk_full":
        subprocess.run(["umount", str(mount)], check=True)
    else:
        shutil.rmtree(workdir)
    return result


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--kinds", default="kill,double_ctrl_c,disk_full")
    parser.add_argument("--repo", default=None, help="The checkout whose experiments.run to test.")
    args = parser.parse_args(argv)
    global REPO
    REPO = pathlib.Path(args.repo).resolve() if args.repo else REPO
    rng = random.Random(args.seed)
    scratch = pathlib.Path(tempfile.mkdtemp(prefix="gan_jax_faults_"))
    reference = scratch / "uninterrupted"
    assert finish(reference, args.steps)[0], "the uninterrupted run failed"
    expected = written(reference)
    mount = scratch / "tmpfs"
    mount.mkdir()
    rows = []
    print(f"{args.trials} trials a kind, {args.steps} steps a run, {REPO}; CPU: {cpu_model()}", flush=True)
    for kind in args.kinds.split(","):
        if kind == "disk_full" and os.geteuid() != 0:
            print("disk_full: skipped (mounting a tmpfs needs root)")
            continue
        outcomes = []
        for i in range(args.trials):
            outcome = trial(kind, scratch / f"{kind}_{i}", args.steps, rng, mount)
            diff = (
                [k for k in expected if outcome.get("files", {}).get(k) != expected[k]]
                if outcome["done"]
                else []
            )
            outcome["equal"] = outcome["done"] and not diff
            outcome["diff"] = diff
            outcomes.append(outcome)
            print(
                f"  {kind} {i}: stopped={outcome['stopped']} said={outcome['said']} "
                f"resumed={outcome['done']} equal={outcome['equal']} {diff[:3]} "
                f"last line: {outcome['last'][:150]!r}",
                flush=True,
            )
            if not outcome["said"]:
                print(outcome["last"])
        rows.append(
            {
                "kind": kind,
                "trials": len(outcomes),
                "stopped": sum(o["stopped"] for o in outcomes),
                "equal": sum(o["equal"] for o in outcomes),
                "said": sum(o["said"] for o in outcomes),
                "lost": [i for i, o in enumerate(outcomes) if not o["equal"]],
            }
        )
    header = ("fault", "trials", "stopped", "stops said in one line", "equal to uninterrupted", "lost")
    print("\n| " + " | ".join(header) + " |\n" + "|---" * len(header) + "|")
    for r in rows:
        cells = (r["kind"], r["trials"], r["stopped"], r["said"], r["equal"], r["lost"] or "none")
        print("| " + " | ".join(map(str, cells)) + " |")
    shutil.rmtree(scratch, ignore_errors=True)
    return rows


if __name__ == "__main__":
    main()
