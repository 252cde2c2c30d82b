"""The metric bench: each defect against its definition, the detection rule against hand-computed
cases, a tiny bench whose answer is known, and the committed report regenerated from its records."""

import dataclasses
import pathlib

import numpy as np
import pytest

from gan_jax import defects, metric_bench, metric_report, records
from gan_jax.errors import DataError

REPO = pathlib.Path(__file__).resolve().parents[1]
K = 4  # classes of the synthetic pools


def _points(seed: int, n: int = 30000) -> tuple[np.ndarray, np.ndarray]:
    """1-D points equal to their label (with a unique fraction, to tell rows apart)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, n)
    return (y + rng.uniform(0, 1e-3, n))[:, None], y


def point_pools() -> defects.Pools:
    return defects.Pools(_points(0), _points(1), _points(2), np.arange(K, dtype=float)[:, None], False, 0.5)


def image_pools() -> defects.Pools:
    rng = np.random.default_rng(0)
    parts = [
        (rng.uniform(-1, 1, (50, 16, 16, 1)).astype(np.float32), rng.integers(0, K, 50)) for _ in range(3)
    ]
    return defects.Pools(*parts, np.zeros((K, 16, 16, 1), np.float32), True)


def test_mode_dropping_leaves_out_the_first_k_classes_and_imbalance_halves_the_first_half():
    pools, rng = point_pools(), np.random.default_rng(0)
    kept = np.floor(defects.mode_dropping(pools, 3000, 2, rng)).astype(int)
    assert set(kept.ravel()) == {2, 3}
    with pytest.raises(DataError, match="pool of 2"):  # 2 eligible examples for 3 draws
        defects.draw((np.zeros((4, 1)), np.array([0, 0, 1, 1])), 3, rng, np.array([0.0, 1.0]))
    labels = np.floor(defects.mode_imbalance(pools, 3000, 0.5, rng)).ravel()
    # weights 0.5, 0.5, 1, 1: the first half holds 1/3 of the draws (binomial s.e. 0.009)
    assert np.mean(labels < K // 2) == pytest.approx(1 / 3, abs=0.03)


def test_memorisation_copies_exactly_the_fraction_asked_and_noisy_copies_carry_their_noise():
    pools = point_pools()
    x = defects.memorisation(pools, 1000, 0.25, np.random.default_rng(0))
    train = set(pools.train[0].ravel())
    assert sum(v in train for v in x.ravel()) == 250
    noisy = defects.noisy_memorisation(pools, 1000, 1.0, np.random.default_rng(0))
    offsets = noisy.ravel() - np.round(noisy.ravel())  # the labels are integers, the noise small
    assert np.std(offsets) == pytest.approx(defects.MEMORY_NOISE * pools.scale, rel=0.1)


def test_noise_has_the_asked_std_and_shrinkage_moves_samples_to_their_class_mean():
    pools = point_pools()
    clean = defects.clean(pools, 2000, np.random.default_rng(5))[0]
    noisy = defects.noise(pools, 2000, 2.0, np.random.default_rng(5))
    assert np.std(noisy - clean) == pytest.approx(2.0 * pools.scale, rel=0.05)
    np.testing.assert_allclose(
        defects.shrinkage(pools, 2000, 0.0, np.random.default_rng(5)), clean, atol=1e-12
    )
    centred = defects.shrinkage(pools, 2000, 1.0, np.random.default_rng(5))
    assert np.array_equal(centred, np.floor(clean))  # each point's class centre is its label


def test_blur_spreads_an_impulse_into_a_gaussian_of_the_asked_sigma():
    pools = image_pools()
    impulse = np.zeros((1, 32, 32, 1), np.float32)
    impulse[0, 16, 16] = 1.0
    pools = dataclasses.replace(pools, clean=(impulse, np.zeros(1, int)))
    out = defects.blur(pools, 1, 1.5, np.random.default_rng(0))[0, :, :, 0]
    rows = np.arange(32) - 16
    assert out.sum() == pytest.approx(1.0, rel=1e-4)
    assert (out.sum(1) * rows**2).sum() == pytest.approx(1.5**2, rel=0.02)
    assert np.array_equal(defects.blur(pools, 1, 0.0, np.random.default_rng(0)), impulse)


def test_quantisation_rounds_a_flat_blocks_dc_coefficient_to_its_step():
    pools = image_pools()
    flat = np.full((1, 16, 16, 1), 0.3, np.float32)
    pools = dataclasses.replace(pools, clean=(flat, np.zeros(1, int)))
    q = 0.25
    out = defects.quantisation(pools, 1, q, np.random.default_rng(0))
    expected = np.round(8 * 0.3 / q) * q / 8  # an 8x8 block's orthonormal DC coefficient is 8 x its mean
    np.testing.assert_allclose(out, expected, atol=1e-6)
    assert np.array_equal(defects.quantisation(pools, 1, 0.0, np.random.default_rng(0)), flat)


def test_the_detection_rule_and_its_false_alarms_by_hand():
    clean = [0.0, 1.0, 2.0]  # mean 1, sd 1
    assert metric_report.detected(4.01, clean) and not metric_report.detected(3.99, clean)
    assert metric_report.detected(-2.01, clean) and not metric_report.detected(-1.99, clean)
    assert metric_report.detected(7, [8, 8, 8]) and not metric_report.detected(8, [8, 8, 8])
    # 10 against [0, 0.1, 0.2] (sd 0.1) is flagged; each small one against the rest is not
    assert metric_report.false_alarms([0.0, 0.1, 0.2, 10.0]) == 1
    assert metric_report.spearman([0, 1, 2], [5, 3, 1]) == -1.0
    assert metric_report.spearman([0, 1, 2], [8, 8, 8]) is None


def test_a_tiny_bench_sees_a_dropped_ring_mode_in_every_draw_and_never_in_clean_ones():
    dataset = dataclasses.replace(metric_bench.load("ring"), sizes=(300,), curve_n=300)
    trials = metric_bench.plan(dataset, 3, curve_repeats=0)
    trials = [t for t in trials if t.defect in ("clean", "mode_dropping")]
    found = metric_bench.run(dataset, trials)
    header = {"sizes": [300], "metrics": ["modes", "recall"], "severities": {"mode_dropping": [[0, 1], 1]}}
    rows = metric_report.power_rows(header, found)
    assert rows[0][2]["modes"] == (0, 3) and rows[1][2]["modes"] == (3, 3)
    assert [r["metrics"]["modes"] for r in found if r["defect"] == "mode_dropping"] == [7, 7, 7]


def test_the_committed_report_regenerates_from_its_records(tmp_path):
    out = REPO / "docs" / "metrics"
    loaded = [records.read(f) for f in sorted(out.glob("*.jsonl.gz"))]
    assert loaded, "docs/metrics holds no records"
    assert metric_report.render(loaded, tmp_path) == (out / "report.md").read_text()
    for figure in sorted(tmp_path.iterdir()):
        assert figure.read_bytes() == (out / figure.name).read_bytes(), figure.name
