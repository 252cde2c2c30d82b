"""Why a run failed: one label per run, read from its logged trajectories (metrics.jsonl rows:
means over `log.every` steps) and its evaluations (eval.jsonl rows).

The rules are tried in the order of `RULES` (their text, which the reports print); the first that
holds names the run. Their thresholds are the constants below.
"""

import dataclasses
import math

import numpy as np

D_WINS_FAKE, D_WINS_REAL = 0.1, 0.9  # mean D(G(z)) below, mean D(x) above, over the last quarter
G_STARVED = 0.1  # ... and G's gradient norm there below this fraction of its peak over the run
COLLAPSE_FRACTION = 0.5  # fewer than this fraction of the data's modes captured at the end
MODES_LOST = (2, 0.1)  # ... or fewer covered than at the best earlier evaluation by max(2, 10%)
SMEAR = 10.0  # ... of those with at least this % of high-quality samples (fewer: a smear, not modes)
STACKED_MODES = 1000  # stacked MNIST's modes: digit triples
SWING, SWING_FLOOR = 0.01, 0.1  # detrended D loss std, last half, > 0.01 x max(mean |D loss|, 0.1)
CYCLE_P = 0.01  # ... and a periodic component: Fisher's g test of its periodogram below this p

RULES = (
    "divergence: the run stopped on a non-finite loss, D output or gradient norm.\n"
    "dead D: D's gradient norm is exactly 0 in every logged interval of the last quarter of the run.\n"
    f"D wins: over the last quarter of the logged intervals, mean D(G(z)) < {D_WINS_FAKE} and mean "
    f"D(x) > {D_WINS_REAL} (objectives that log D's probabilities), and G's gradient norm there is "
    f"below {G_STARVED:.0%} of its peak over the run: D separates the batches and G gets no signal "
    "(a D that separates while G's gradient lives -- one that reads the batch, say -- is not it).\n"
    f"mode collapse: at the last evaluation fewer than {COLLAPSE_FRACTION:.0%} of the data's modes are "
    f"captured, or {MODES_LOST[0]} (or {MODES_LOST[1]:.0%} of the modes, if more) fewer covered than at "
    f"the best earlier evaluation with at least {SMEAR:g}% high-quality samples (covered: with samples "
    "by the mode at the plot's scale, gan_jax/metrics/mixtures.py; evaluations from before it was "
    "logged: captured; below that share the samples are a smear across the data, which covers modes "
    "without sitting on them) (data with countable modes: the mixtures' and stacked MNIST's 1,000 "
    "digit triples, each sample of which is classified: no smear).\n"
    f"oscillation: over the last half of the logged intervals, D's loss, its drift removed (a quadratic), "
    f"has a standard deviation above {SWING} x max(its mean absolute value, {SWING_FLOOR}) and a cycle "
    f"of at least two periods: Fisher's g test of its periodogram against noise (white, or red with the "
    f"series' lag-1 autocorrelation where that is positive), p < {CYCLE_P} (noise and a drift have no "
    "such peak).\n"
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


def _g_grad_share(metrics: list[dict]) -> float:
    """G's mean gradient norm over the last quarter as a fraction of its peak over the run (NaN
    where none was logged)."""
    g = _tail(metrics, "g_grad_norm", 1.0)
    peak = g.max() if g.size else math.nan
    return float(_tail(metrics, "g_grad_norm", 0.25).mean() / peak) if peak > 0 else math.nan


def evidence(metrics: list[dict], evals: list[dict]) -> dict[str, float]:
    """What the rules read, for every run whatever its label (the reports' diagnoses.csv): the
    last quarter's mean D(x) and D(G(z)) and G's gradient share of its peak, and the modes
    captured at the last evaluation (NaN where not logged)."""
    last = {key: _tail(metrics, key, 0.25) for key in ("d_real", "d_fake")}
    modes = [row["modes/modes_captured"] for row in mode_counts(evals)]
    return {
        **{key: float(v.mean()) if v.size else math.nan for key, v in last.items()},
        "g_grad_share": _g_grad_share(metrics),
        "modes": float(modes[-1]) if modes else math.nan,
    }


def _d_wins(metrics: list[dict]) -> Diagnosis | None:
    seen = evidence(metrics, [])  # NaN (never below or above a threshold) where not logged
    if not (seen["d_fake"] < D_WINS_FAKE and seen["d_real"] > D_WINS_REAL):
        return None
    if not seen["g_grad_share"] < G_STARVED:  # a NaN share (no gradient logged) is no evidence either
        return None
    return Diagnosis(
        "D wins",
        f"last quarter: D(x) {seen['d_real']:.3f}, D(G(z)) {seen['d_fake']:.3f}; G's gradient norm "
        f"{seen['g_grad_share']:.1%} of its peak",
    )


def mode_counts(evals: list[dict]) -> list[dict]:
    """The evaluations that count modes, in the mixtures' keys: stacked MNIST's distinct digit
    triples are its modes captured of 1,000, every sample classified (100% high quality)."""
    rows = [row for row in evals if "modes/modes_captured" in row]
    stacked = [
        {
            "modes/modes_captured": row["stacked_modes/modes"],
            "modes/num_modes": STACKED_MODES,
            "modes/high_quality_percent": 100.0,
        }
        for row in evals
        if "stacked_modes/modes" in row
    ]
    return rows or stacked


def _mode_collapse(evals: list[dict]) -> Diagnosis | None:
    rows = mode_counts(evals)
    if not rows:
        return None
    modes, total = rows[-1]["modes/modes_captured"], rows[-1]["modes/num_modes"]
    if modes < COLLAPSE_FRACTION * total:
        return Diagnosis("mode collapse", f"{modes:g} of {total:g} modes captured at the end")
    return _modes_lost(rows, total)


def _modes_lost(rows: list[dict], total: float) -> Diagnosis | None:
    """Covered modes (captured where an evaluation predates the covered count) at the end against
    the best earlier evaluation that is not a smear."""
    kept = (
        "modes/modes_covered" if all("modes/modes_covered" in row for row in rows) else "modes/modes_captured"
    )
    last = rows[-1][kept]
    best = max([row[kept] for row in rows[:-1] if row["modes/high_quality_percent"] >= SMEAR] + [last])
    if best - last < max(MODES_LOST[0], MODES_LOST[1] * total):
        return None
    covered = " covered" if kept == "modes/modes_covered" else ""
    return Diagnosis("mode collapse", f"{last:g} of {total:g} modes{covered} at the end, {best:g} earlier")


def _detrended(series: np.ndarray) -> np.ndarray:
    """`series` less its least-squares quadratic: a drift, even a curving one, is not a swing."""
    t = np.arange(series.size)
    return series - np.polyval(np.polyfit(t, series, 2), t)


def cycle_p(series: np.ndarray) -> tuple[float, float]:
    """(p, period): Fisher's g test that `series` (detrended) holds a periodic component of at
    least two cycles, and that component's period in samples. The null is noise whose spectrum
    is flat or, where the series is positively autocorrelated (a slow wander, as a loss's is),
    red: an AR(1) spectrum with the series' lag-1 coefficient, each periodogram ordinate divided
    by it before the test (a slow wander piles power at the lowest frequencies, which a white
    null reads as a cycle of two periods). Negative autocorrelation is left to the test: it is
    what an alternation is. p is the first term of Fisher's exact series, m (1 - g)^(m-1) for m
    ordinates, an upper bound exact to within its square (the alternating series cancels
    catastrophically for many ordinates). On white and on red noise it fires at ~1-2% for
    p < 0.01 (measured in tests/test_diagnosis.py)."""
    x = _detrended(series)
    power = np.abs(np.fft.rfft(x))[2:] ** 2  # frequencies of two cycles and more
    if power.size < 2 or not power.sum() > 0:
        return 1.0, math.nan
    phi = max(0.0, float(np.dot(x[1:], x[:-1]) / np.dot(x, x)))  # lag-1 autocorrelation, >= 0
    angle = 2 * np.pi * np.arange(2, 2 + power.size) / series.size
    ratio = power * (1 - 2 * phi * np.cos(angle) + phi * phi)  # / the AR(1) spectrum's shape
    g = ratio.max() / ratio.sum()
    return min(1.0, ratio.size * (1 - g) ** (ratio.size - 1)), series.size / (2 + int(ratio.argmax()))


def _oscillation(metrics: list[dict]) -> Diagnosis | None:
    loss = _tail(metrics, "d_loss", 0.5)
    if loss.size < 8:
        return None
    swing = _detrended(loss).std()
    scale = max(np.abs(loss).mean(), SWING_FLOOR)
    p, period = cycle_p(loss)
    if swing > SWING * scale and p < CYCLE_P:
        return Diagnosis(
            "oscillation",
            f"last half: D loss cycles with a period of {period:.1f} logged intervals (Fisher's g test "
            f"p = {p:.2g}), detrended std {swing:.3g} (scale {scale:.3g})",
        )
    return None


def diagnose(status: str, metrics: list[dict], evals: list[dict]) -> Diagnosis:
    """The label of a run with `status` ('finished' or 'diverged'), its metrics.jsonl rows and
    its eval.jsonl rows (both in step order)."""
    if status == "diverged":
        return Diagnosis("divergence", "stopped on a non-finite value")
    found = (_dead_d(metrics), _d_wins(metrics), _mode_collapse(evals), _oscillation(metrics))
    return next((d for d in found if d), Diagnosis("converged", "no failure rule holds"))


def confusion(truths: list[str], labels: list[str]) -> dict[str, dict[str, int]]:
    """{true label: {diagnosed label: runs}} over LABELS, for runs whose failure is known."""
    unknown = sorted(set(truths) - set(LABELS))
    if unknown:
        raise ValueError(f"true labels {unknown} are not diagnosis labels {LABELS}")
    matrix = {t: dict.fromkeys(LABELS, 0) for t in LABELS}
    for truth, label in zip(truths, labels, strict=True):
        matrix[truth][label] += 1
    return matrix
