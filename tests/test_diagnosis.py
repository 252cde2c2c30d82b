"""The diagnosis of a run (gan_jax/diagnosis.py) on synthetic trajectories of each kind."""

import numpy as np
import pytest

from gan_jax import diagnosis, forecast

ROWS = 40


def trajectory(d_real=0.5, d_fake=0.5, d_loss=None, d_grad=0.5, g_grad=0.3, seed=0) -> list[dict]:
    """metrics.jsonl rows; each argument a constant or an array over the rows."""
    rng = np.random.default_rng(seed)
    noise = 0.005 * rng.standard_normal(ROWS)
    d_loss = 1.386 + noise if d_loss is None else d_loss
    columns = {
        "d_real": d_real,
        "d_fake": d_fake,
        "d_loss": d_loss,
        "d_grad_norm": d_grad,
        "g_grad_norm": g_grad,
    }
    columns = {k: np.broadcast_to(np.asarray(v, np.float64), (ROWS,)) for k, v in columns.items()}
    return [{"step": 100 * (i + 1), **{k: float(v[i]) for k, v in columns.items()}} for i in range(ROWS)]


def modes(*captured, total=8, high_quality=50.0) -> list[dict]:
    return [
        {
            "step": 1000 * (i + 1),
            "modes/modes_captured": m,
            "modes/num_modes": total,
            "modes/high_quality_percent": high_quality,
        }
        for i, m in enumerate(captured)
    ]


def label(status="finished", metrics=None, evals=()) -> str:
    return diagnosis.diagnose(status, trajectory() if metrics is None else metrics, list(evals)).label


def test_a_settled_run_with_every_mode_converged():
    assert label(evals=modes(6, 8, 8)) == "converged"
    assert label(evals=modes(25, 24, total=25)) == "converged"  # one mode lost: within the rule's slack


def test_divergence_comes_first():
    assert label("diverged", trajectory(d_fake=0.01, d_real=0.99), modes(1)) == "divergence"


def test_dead_d_is_an_exactly_zero_gradient_at_the_end():
    grads = np.full(ROWS, 0.4)
    grads[-ROWS // 4 :] = 0.0
    assert label(metrics=trajectory(d_grad=grads)) == "dead D"
    grads[-1] = 1e-12  # a tiny gradient is still a gradient
    assert label(metrics=trajectory(d_grad=grads)) == "converged"


def test_d_wins_is_separation_with_a_starved_g():
    """D separating the batches is "D wins" only when G's gradient has collapsed with it (below
    G_STARVED of its peak); a D that separates while G still learns -- the 40,000-step minibatch
    discrimination runs kept 65-98% of their peak -- is not called a winner."""
    ramp = np.linspace(0, 1, ROWS)
    separating = dict(d_real=0.5 + 0.48 * ramp, d_fake=0.5 - 0.48 * ramp)
    starved = diagnosis.diagnose(
        "finished", trajectory(**separating, g_grad=np.where(ramp < 0.7, 1.0, 0.02)), []
    )
    assert starved.label == "D wins"
    assert "D(G(z)) 0.0" in starved.reason and "2.0% of its peak" in starved.reason
    alive = trajectory(**separating, g_grad=np.where(ramp < 0.7, 1.0, 0.65))
    assert label(metrics=alive, evals=modes(8, 8)) == "converged"
    assert label(metrics=alive, evals=modes(8, 2)) == "mode collapse"  # what is left of the failure
    edge = trajectory(d_real=0.95, d_fake=diagnosis.D_WINS_FAKE + 0.01, g_grad=np.where(ramp < 0.7, 1.0, 0.0))
    assert label(metrics=edge) == "converged"


def test_the_evidence_is_what_the_rules_read_for_any_label():
    """diagnoses.csv's columns: the last quarter's (10 of 40 rows) means and G's gradient there as a
    share of its peak, the modes at the last evaluation; NaN where nothing was logged."""
    ramp = np.arange(ROWS, dtype=np.float64)
    seen = diagnosis.evidence(
        trajectory(d_real=ramp / ROWS, g_grad=np.where(ramp < 30, 2.0, 0.5)), modes(5, 7)
    )
    assert seen == pytest.approx(
        {"d_real": np.mean(ramp[30:]) / ROWS, "d_fake": 0.5, "g_grad_share": 0.25, "modes": 7}
    )
    bare = diagnosis.evidence([{"step": 1, "d_loss": 1.0}], [])
    assert all(np.isnan(v) for v in bare.values())


def test_objectives_without_d_probabilities_skip_the_d_wins_rule():
    metrics = [{k: v for k, v in row.items() if k not in ("d_real", "d_fake")} for row in trajectory()]
    assert label(metrics=metrics, evals=modes(8)) == "converged"


@pytest.mark.parametrize(
    "captured,total,expected",
    [
        ((8, 3), 8, "mode collapse"),  # below half of the modes
        ((4,), 8, "converged"),  # exactly half
        ((25, 25, 21), 25, "mode collapse"),  # fell by 4 >= max(2, 2.5)
        ((25, 23), 25, "converged"),  # fell by 2 < 2.5
        ((8, 6), 8, "mode collapse"),  # fell by 2 >= max(2, 0.8)
    ],
)
def test_mode_collapse_far_below_the_data_or_falling(captured, total, expected):
    assert label(evals=modes(*captured, total=total)) == expected


@pytest.mark.parametrize(
    "counts,expected",
    [((900, 450), "mode collapse"), ((900, 950, 820), "mode collapse"), ((900, 950, 860), "converged")],
)
def test_stacked_mnist_digit_triples_are_its_modes(counts, expected):
    """Below 500 of 1,000 triples at the end, or 100 (10%) fewer than earlier: mode collapse."""
    evals = [{"step": 1000 * (i + 1), "stacked_modes/modes": m} for i, m in enumerate(counts)]
    assert label(evals=evals) == expected
    assert diagnosis.evidence(trajectory(), evals)["modes"] == counts[-1]


def test_modes_lost_are_modes_no_longer_covered_where_coverage_is_logged():
    """A cluster drifted off its mode is no longer captured but still covered (the hand-labelled
    ring runs of docs/diagnosis.md: 8, 8, 8, then 4 captured, all 8 covered): no collapse. Lost
    coverage is one; and evaluations from before coverage was logged read captured, as before."""
    drifted = [{**row, "modes/modes_covered": 8} for row in modes(8, 8, 8, 4)]
    assert label(evals=drifted) == "converged"
    thinned = [
        {**row, "modes/modes_covered": c} for row, c in zip(modes(8, 8, 8, 7), (8, 8, 8, 5), strict=True)
    ]
    found = diagnosis.diagnose("finished", trajectory(), thinned)
    assert (found.label, found.reason) == ("mode collapse", "5 of 8 modes covered at the end, 8 earlier")
    assert label(evals=modes(8, 8, 8, 4)) == "mode collapse"  # no coverage logged
    below_half = [{**row, "modes/modes_covered": 8} for row in modes(8, 3)]
    assert label(evals=below_half) == "mode collapse"  # fewer than half captured, whatever is covered


def test_a_smear_across_the_data_is_no_earlier_coverage_to_lose():
    """The hand-labelled ring runs of docs/diagnosis.md: at step 1,000 G spreads a thin smear round
    the ring (1-9% high-quality samples) that covers all 8 modes, then gathers onto 5 -- by eye no
    loss. An earlier evaluation counts only with at least SMEAR % high-quality samples."""
    covered = (8, 5, 5, 5)
    smear = [
        {**row, "modes/modes_covered": c, "modes/high_quality_percent": hq}
        for row, c, hq in zip(modes(5, 7, 8, 6), covered, (2.7, 30.8, 52.1, 65.0), strict=True)
    ]
    assert label(evals=smear) == "converged"
    clusters = [{**row, "modes/high_quality_percent": diagnosis.SMEAR} for row in smear[:1]] + smear[1:]
    found = diagnosis.diagnose("finished", trajectory(), clusters)  # the same counts, 10% high quality
    assert (found.label, found.reason) == ("mode collapse", "5 of 8 modes covered at the end, 8 earlier")
    last_is_a_smear = smear[:3] + [
        {**smear[3], "modes/modes_captured": 4, "modes/modes_covered": 2, "modes/high_quality_percent": 1.0}
    ]
    assert label(evals=last_is_a_smear) == "mode collapse"  # the end is read whatever its share


def dirac_gan_d_losses(lr=0.5, steps=400, every=5) -> np.ndarray:
    """D's loss, averaged over intervals of `every` steps, of the Dirac GAN (Mescheder et al. 2018:
    data at 0, G(z) = theta, D(x) = psi x) under alternating gradient steps on the minimax game:
    the parameters circle the equilibrium (0, 0) and never reach it."""
    theta, psi, losses = 1.0, 1.0, []
    for _ in range(steps):
        losses.append(np.log(2) + np.logaddexp(0, psi * theta))  # -log(1 - D(G)) with D(0) = 1/2
        psi -= lr * theta / (1 + np.exp(-psi * theta))
        theta += lr * psi / (1 + np.exp(-psi * theta))
    return np.asarray(losses).reshape(-1, every).mean(1)


def test_oscillation_is_a_cycle_not_noise_nor_a_drift():
    # a D loss alternating between intervals, and the Dirac GAN's cycle, fire
    assert label(metrics=trajectory(d_loss=1.0 + 0.4 * (-1.0) ** np.arange(ROWS))) == "oscillation"
    cycle = dirac_gan_d_losses()[-ROWS:]
    found = diagnosis.diagnose("finished", trajectory(d_loss=cycle), [])
    assert found.label == "oscillation" and "period of 2.9 logged intervals" in found.reason
    # white noise of the same size fires at the test's level, not at its old rate of ~2/3
    rng = np.random.default_rng(0)
    noisy = [label(metrics=trajectory(d_loss=1.0 + 0.5 * rng.standard_normal(ROWS))) for _ in range(500)]
    assert noisy.count("oscillation") <= 10, noisy.count("oscillation")  # measured: <= 2% at p < 0.01
    # nor does red noise, a loss's slow wander (AR(1), lag-1 coefficient 0.8): its power piles up at
    # the lowest frequencies, which a white null read as a cycle in 16% (20 rows) to 87% (100 rows)
    # of series (measured, 1,000 each); against the AR(1) background it fires at the test's level
    for rows in (40, 200):
        wander = []
        for seed in range(300):
            shocks, x = np.random.default_rng(seed).standard_normal(rows), np.zeros(rows)
            for t in range(1, rows):
                x[t] = 0.8 * x[t - 1] + shocks[t]
            wander.append(diagnosis.cycle_p(x)[0] < diagnosis.CYCLE_P)
        assert sum(wander) <= 9, (rows, sum(wander))  # measured at 20 and 100 rows: 0.6% and 0.3%
    # a drift, straight or curving, with noise on it, does not
    for drift in (np.linspace(1.4, 0.4, ROWS), 0.3 + np.exp(-np.linspace(0, 4, ROWS))):
        for seed in range(20):
            noise = 0.05 * np.random.default_rng(seed).standard_normal(ROWS)
            assert label(metrics=trajectory(d_loss=drift + noise)) == "converged"
    # the trained Dirac GAN (configs/diagnosis.py, with D's bias) settles on a limit cycle whose
    # logged D loss swings by ~2.3% of its value: that fires; one decayed to 0.5% does not
    for swing, expected in ((0.032, "oscillation"), (0.007, "converged")):
        cycle = 1.386 + swing * (-1.0) ** np.arange(ROWS)
        assert label(metrics=trajectory(d_loss=cycle)) == expected


def test_the_confusion_matrix_counts_truth_against_diagnosis():
    truths = ["dead D", "dead D", "oscillation", "converged"]
    labels = ["dead D", "converged", "oscillation", "converged"]
    matrix = diagnosis.confusion(truths, labels)
    assert list(matrix) == list(diagnosis.LABELS)
    assert all(list(row) == list(diagnosis.LABELS) for row in matrix.values())
    assert matrix["dead D"] == {**dict.fromkeys(diagnosis.LABELS, 0), "dead D": 1, "converged": 1}
    assert matrix["converged"]["converged"] == 1 and sum(map(sum, (r.values() for r in matrix.values()))) == 4
    with pytest.raises(ValueError, match="'collapse'"):
        diagnosis.confusion(["collapse"], ["converged"])


def test_the_report_scores_the_diagnosis_against_the_truth():
    """report.truth_lines: a row per truth with its recall, a precision row, the share right, each
    disagreement with the diagnosis's reason."""
    from gan_jax import report

    runs = [
        {"cell": cell, "seed": seed, "diagnosis": diagnosis.Diagnosis(found, "why")}
        for seed, (cell, found) in enumerate(
            [("dead", "dead D")] * 9 + [("dead", "converged"), ("fine", "converged")]
        )
    ]
    runs.append({"cell": "unsure", "seed": 3, "diagnosis": diagnosis.Diagnosis("oscillation", "")})
    truth = {"dead": "dead D", "fine": "converged", "unsure": None}
    lines = report.truth_lines(runs, lambda r: truth[r["cell"]])
    dead = next(line for line in lines if line.startswith("| dead D |"))
    assert dead == "| dead D | 0 | 9 | 0 | 0 | 0 | 1 | 10 | 0.90 [0.60, 0.98] |"
    precision = next(line for line in lines if line.startswith("| precision |")).split(" | ")
    assert precision[2] == "1.00 [0.70, 1.00]" and precision[6] == "0.50 [0.09, 0.91]"  # 1 of 2
    assert "Right: 10 of 11 runs (0.91" in lines[-8]
    assert lines[-6:-3] == [
        "Where they disagree (the truth; the diagnosis: its reason):",
        "",
        "- dead seed 9: dead D; converged: why",
    ]
    assert lines[-2] == "Left out, their truth unknown: unsure seed 3 (oscillation)."
    assert report.truth_lines(runs, None) == []


# ----- the forecast from a run's start (gan_jax/forecast.py) ---------------------------------------


def _run(status: str, grads: list[float], evals: list[int]) -> dict:
    """A record logged every 10 steps with D's gradient norms `grads` and evaluations at `evals`."""
    metrics = [{"step": 10 * (i + 1), "d_grad_norm": g, "g_grad_norm": 1.0} for i, g in enumerate(grads)]
    return {"status": status, "metrics": metrics, "eval": [{"step": s} for s in evals]}


def test_the_forecast_sees_only_the_start_of_a_run():
    dies_late = _run("finished", [1.0] * 8 + [0.0] * 8, [40, 160])  # D dead only after step 80
    assert forecast.cutoff([dies_late, _run("finished", [1.0], [50])]) == 40
    assert forecast.forecast(dies_late, 40).label == "converged"
    assert diagnosis.diagnose("finished", dies_late["metrics"], dies_late["eval"]).label == "dead D"
    early, late = _run("diverged", [1.0] * 3, [40]), _run("diverged", [1.0] * 10, [40, 80])
    assert forecast.forecast(early, 40).label == "divergence"  # its rows end before the cutoff
    assert forecast.forecast(late, 40).label == "converged"
    assert forecast.cutoff([_run("finished", [1.0], [40])]) is None  # one evaluation: nothing to forecast


def test_the_forecast_section_counts_right_and_wrong_forecasts():
    found = [_run("finished", [1.0] * 8 + [0.0] * 8, [40, 160]), _run("finished", [1.0] * 16, [40, 160])]
    for r in found:
        r["diagnosis"] = diagnosis.diagnose(r["status"], r["metrics"], r["eval"])
    text = "\n".join(forecast.forecast_lines(found))
    assert (
        "Final label right: 1/2" in text
        and "forecast to fail: 0/1" in text
        and "forecast healthy: 1/1" in text
    )
    assert (
        "| converged | 0 | 1 | 0 | 0 | 0 | 1 |" in text
    )  # forecast converged: one ended dead D, one converged
