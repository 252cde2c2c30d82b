"""Why a run failed: one label per run, read from its logged trajectories (metrics.jsonl rows:
means over `log.every` steps) and its evaluations (eval.jsonl rows).

The rules are tried in the order of `RULES` (their text, which the reports print); the first that
holds names the run. Their thresholds are the constants below.
"""

import dataclasses
import math

import numpy as np

D_WINS_FAKE, D_WINS_REAL = 0.1, 0.9  # mean D(G(z)) below, mean D(x) above, over the last quarter
COLLAPSE_FRACTION = 0.5  # fewer than this fraction of the data's modes captured at the end
MODES_LOST = (2, 0.1)  # ... or fewer than the best earlier evaluation by max(2, 10% of the modes)
SWING, SWING_FLOOR = 0.2, 0.1  # D loss std over the last half > 0.2 x max(mean |D loss|, 0.1)
REVERSALS = 0.5  # ... reversing direction between more than half of consecutive intervals

RULES = (
    "divergence: the run stopped on a non-finite loss, D output or gradient norm.\n"
    "dead D: D's gradient norm is exactly 0 in every logged interval of the last quarter of the run.\n"
    f"D wins: over the last quarter of the logged intervals, mean D(G(z)) < {D_WINS_FAKE} and mean "
    f"D(x) > {D_WINS_REAL} (objectives that log D's probabilities; the reason gives G's gradient "
    "norm there as a fraction of its peak).\n"
    f"mode collapse: at the last evaluation fewer than {COLLAPSE_FRACTION:.0%} of the data's modes are "
    f"captured, or {MODES_LOST[0]} (or {MODES_LOST[1]:.0%} of the modes, if more) fewer than at the "
    "best earlier evaluation (data with countable modes).\n"
    f"oscillation: over the last half of the logged intervals, D's loss has a standard deviation "
    f"above {SWING} x max(its mean absolute value, {SWING_FLOOR}) and reverses direction between more "
    f"than {REVERSALS:.0%} of consecutive intervals (a drift reverses rarely).\n"
    "converged: none of the above holds -- no failure found; it says nothing about how good the "
    "samples are (read the metric columns for that)."
)
LABELS = ("divergence", "dead D", "D wins", "mode collapse", "oscillation", "converged")


@dataclasses.dataclass(frozen=True)
class Diagnosis:
    label: str  # one of LABELS
    reason: str  # the numbers that decided it


def _tail(rows: list[dict], key: str, fraction: float) -> np.ndarray:
    values = [row[key] for row in rows if key in row]
    return np.asarray(values[-max(1, math.ceil(len(values) * fraction)) :], np.float64)


def _dead_d(metrics: list[dict]) -> Diagnosis | None:
    grads = _tail(metrics, "d_grad_norm", 0.25)
    if grads.size and not np.any(grads):
        return Diagnosis("dead D", f"D's gradient norm is 0 in the last {grads.size} logged intervals")
    return None


def _d_wins(metrics: list[dict]) -> Diagnosis | None:
    fake, real = _tail(metrics, "d_fake", 0.25), _tail(metrics, "d_real", 0.25)
    if not (fake.size and real.size) or not (fake.mean() < D_WINS_FAKE and real.mean() > D_WINS_REAL):
        return None
    g = _tail(metrics, "g_grad_norm", 1.0)
    peak = g.max() if g.size else math.nan
    share = _tail(metrics, "g_grad_norm", 0.25).mean() / peak if peak > 0 else math.nan
    return Diagnosis(
        "D wins",
        f"last quarter: D(x) {real.mean():.3f}, D(G(z)) {fake.mean():.3f}; G's gradient norm "
        f"{share:.1%} of its peak",
    )


def _mode_collapse(evals: list[dict]) -> Diagnosis | None:
    rows = [row for row in evals if "modes/modes_captured" in row]
    if not rows:
        return None
    modes, total = rows[-1]["modes/modes_captured"], rows[-1]["modes/num_modes"]
    best = max(row["modes/modes_captured"] for row in rows)
    lost = best - modes
    if modes < COLLAPSE_FRACTION * total:
        return Diagnosis("mode collapse", f"{modes:g} of {total:g} modes captured at the end")
    if lost >= max(MODES_LOST[0], MODES_LOST[1] * total):
        return Diagnosis("mode collapse", f"{modes:g} of {total:g} modes at the end, {best:g} earlier")
    return None


def _oscillation(metrics: list[dict]) -> Diagnosis | None:
    loss = _tail(metrics, "d_loss", 0.5)
    if loss.size < 4:
        return None
    scale = max(np.abs(loss).mean(), SWING_FLOOR)
    steps = np.diff(loss)
    reversals = np.mean(np.sign(steps[1:]) * np.sign(steps[:-1]) < 0)
    if loss.std() > SWING * scale and reversals > REVERSALS:
        return Diagnosis(
            "oscillation",
            f"last half: D loss std {loss.std():.3g} (scale {scale:.3g}), direction reversed in "
            f"{reversals:.0%} of intervals",
        )
    return None


def diagnose(status: str, metrics: list[dict], evals: list[dict]) -> Diagnosis:
    """The label of a run with `status` ('finished' or 'diverged'), its metrics.jsonl rows and
    its eval.jsonl rows (both in step order)."""
    if status == "diverged":
        return Diagnosis("divergence", "stopped on a non-finite value")
    found = (_dead_d(metrics), _d_wins(metrics), _mode_collapse(evals), _oscillation(metrics))
    return next((d for d in found if d), Diagnosis("converged", "no failure rule holds"))
