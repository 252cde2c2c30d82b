"""The diagnosis of a run (gan_jax/diagnosis.py) on synthetic trajectories of each kind."""

import numpy as np
import pytest

from gan_jax import diagnosis

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


def modes(*captured, total=8) -> list[dict]:
    return [
        {"step": 1000 * (i + 1), "modes/modes_captured": m, "modes/num_modes": total}
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


def test_d_wins_reads_d_outputs_and_reports_g_gradient():
    ramp = np.linspace(0, 1, ROWS)
    metrics = trajectory(d_real=0.5 + 0.48 * ramp, d_fake=0.5 - 0.48 * ramp, g_grad=1.0 - 0.99 * ramp)
    found = diagnosis.diagnose("finished", metrics, modes(8, 2))  # its collapse is D's doing
    assert found.label == "D wins"
    assert "D(G(z)) 0.0" in found.reason and "% of its peak" in found.reason
    edge = trajectory(d_real=0.95, d_fake=diagnosis.D_WINS_FAKE + 0.01)
    assert label(metrics=edge) == "converged"


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


def test_oscillation_swings_and_reverses_a_drift_does_not():
    swinging = 1.0 + 0.4 * (-1.0) ** np.arange(ROWS)
    assert label(metrics=trajectory(d_loss=swinging)) == "oscillation"
    drifting = np.linspace(1.4, 0.4, ROWS) + 0.001 * np.random.default_rng(1).standard_normal(ROWS)
    assert label(metrics=trajectory(d_loss=drifting)) == "converged"
    small = 1.386 + 0.05 * (-1.0) ** np.arange(ROWS)  # reverses every interval but swings by 4%
    assert label(metrics=trajectory(d_loss=small)) == "converged"
