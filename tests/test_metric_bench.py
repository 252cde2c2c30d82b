"""The metric bench: each defect against its definition, the detection rule against hand-computed
cases, a tiny bench whose answer is known, and the committed report regenerated from its records."""

import dataclasses
import pathlib

import numpy as np
import pytest
from helpers import SHARED_MNIST

from gan_jax import classifier, defects, metric_bench, metric_report, records
from gan_jax.data import stacked
from gan_jax.errors import DataError
from gan_jax.evaluation.features import joint_probabilities, network_outputs
from gan_jax.metrics import mixtures

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


def test_quantisation_pads_a_side_that_is_not_a_multiple_of_the_block_with_its_edge():
    """28 px: the last block of each side holds 4 pixels and 4 copies of the edge row (JPEG's
    padding). A ramp's last 4 rows come out as the quantised padded block's first 4; the other
    blocks as they would alone."""
    ramp = np.broadcast_to(np.linspace(-0.9, 0.9, 28, dtype=np.float32)[:, None, None], (28, 28, 1))[None]
    pools = dataclasses.replace(image_pools(), clean=(ramp.copy(), np.zeros(1, int)))
    out = defects.quantisation(pools, 1, 0.1, np.random.default_rng(0))
    assert out.shape == ramp.shape
    padded = np.concatenate([ramp[:, 24:], np.repeat(ramp[:, 27:], 4, axis=1)], axis=1)[:, :, :8]
    alone = dataclasses.replace(pools, clean=(padded, np.zeros(1, int)))
    np.testing.assert_allclose(
        out[:, 24:, :8], defects.quantisation(alone, 1, 0.1, np.random.default_rng(0))[:, :4], atol=1e-6
    )
    first = dataclasses.replace(pools, clean=(ramp[:, :8, :8].copy(), np.zeros(1, int)))
    np.testing.assert_allclose(
        out[:, :8, :8], defects.quantisation(first, 1, 0.1, np.random.default_rng(0)), atol=1e-6
    )


def test_stacked_images_carry_their_channels_digits_as_their_mode():
    rng = np.random.default_rng(0)
    x, y = rng.uniform(-1, 1, (30, 4, 4, 1)).astype(np.float32), rng.integers(0, 10, 30)
    index = rng.integers(0, 30, (50, 3))
    images, modes = stacked.stack(x, y, index)
    assert images.shape == (50, 4, 4, 3)
    for i in range(50):
        assert all(np.array_equal(images[i, ..., c], x[index[i, c], ..., 0]) for c in range(3))
        assert modes[i] == 100 * y[index[i, 0]] + 10 * y[index[i, 1]] + y[index[i, 2]]
    triples = stacked.every_triple()
    assert triples.shape == (1000, 3) and np.array_equal(stacked.triple_label(triples.T), np.arange(1000))


def test_joint_probabilities_are_the_channels_product_in_mode_order():
    per_channel = np.random.default_rng(0).dirichlet(np.ones(10), (6, 3))
    joint = joint_probabilities(per_channel)
    assert joint.shape == (6, 1000)
    np.testing.assert_allclose(joint.sum(1), 1.0, rtol=1e-12)
    a, b, c = 3, 0, 7
    np.testing.assert_allclose(
        joint[:, 307], per_channel[:, 0, a] * per_channel[:, 1, b] * per_channel[:, 2, c]
    )
    assert np.array_equal(joint.argmax(1), stacked.triple_label(per_channel.argmax(2).T))


@pytest.mark.skipif(not SHARED_MNIST.exists(), reason="the shared MNIST test split is not here")
def test_stacked_pools_draw_each_pools_channels_from_its_own_digits_and_centre_modes_on_digit_means():
    spec = metric_bench.IMAGE_SETS["stacked_mnist"]
    pools = metric_bench._image_pools(dataclasses.replace(spec, image_size=8))
    digits = metric_bench._image_pools(dataclasses.replace(spec, image_size=8, stacked=False))
    for stack, (part, labels) in zip(
        (pools.train, pools.clean, pools.reference),
        (digits.train, digits.clean, digits.reference),
        strict=True,
    ):
        assert stack[0].shape == (metric_bench.STACKED_POOL, 8, 8, 3)
        own = {d.tobytes(): label for d, label in zip(part, labels, strict=True)}
        channels = [[own.get(image[..., c : c + 1].tobytes()) for c in range(3)] for image in stack[0][:300]]
        assert None not in np.ravel(channels)  # every channel is a digit of this pool's own part
        assert np.array_equal(stack[1][:300], stacked.triple_label(np.array(channels).T))
    mode = 4 * 100 + 0 * 10 + 9
    expected = np.concatenate([digits.centres[4], digits.centres[0], digits.centres[9]], axis=-1)
    np.testing.assert_allclose(pools.centres[mode], expected)


@pytest.mark.skipif(not SHARED_MNIST.exists(), reason="the shared MNIST test split is not here")
def test_the_benchs_stacked_classes_are_the_mode_count_the_training_evaluation_reports(monkeypatch):
    """`classes` and `class_kl` on stacked images are stacked_modes' modes and KL (the same
    counter, the same images), and samples without the first 100 modes show none of them."""
    monkeypatch.setattr(metric_bench, "STACKED_POOL", 2000)
    spec = metric_bench.IMAGE_SETS["stacked_mnist"]
    pools, net = metric_bench._image_pools(spec), classifier.load(spec.judge)
    train_features = metric_bench.judged(net, pools.train[0][:500])[0]
    dataset = metric_bench.Dataset("stacked_mnist", pools, net, None, (400,), train_features)
    x = defects.mode_dropping(pools, 400, 100, np.random.default_rng(0))
    values = metric_bench.measure(dataset, x, metric_bench.judged(net, pools.reference[0][:400])[0], 0)
    probs, _ = network_outputs(net, x)
    counts = np.bincount(probs.argmax(2) @ np.array([100, 10, 1]), minlength=1000)  # as stacked_modes
    assert values["classes"] == (counts > 0).sum() and counts[:100].sum() == 0
    assert values["class_kl"] == pytest.approx(mixtures.reverse_kl_to_uniform(counts), rel=1e-12)
    assert train_features.shape == (500, 3 * 128)


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


def test_a_feature_network_of_the_users_judges_the_same_draws_beside_the_classifiers(tmp_path, monkeypatch):
    """--judge: the data set judged by another network (here a renamed copy of its classifier, as
    InceptionV3 or DINOv2 from the user's weights would be), its records written beside the
    classifier's as <data>_<network>, its section named so, the draws seeded as the classifier's;
    a mixture (judged by its modes) refuses one."""
    from experiments import metric_bench as bench_cli
    from gan_jax.errors import UserError

    stand_in = dataclasses.replace(
        classifier.load("classifiers/digits16"), name="Stand-in", protocol={"name": "x"}
    )
    with pytest.raises(UserError, match="judged by its modes"):
        metric_bench.load("ring", stand_in)
    monkeypatch.setattr(
        metric_bench, "plan", lambda dataset, repeats: [metric_bench.Trial("power", "clean", 0.0, 250, 0)]
    )
    bench_cli.run_data("digits", tmp_path, 1, stand_in)
    header, found = records.read(tmp_path / "digits_Stand-in.jsonl.gz")
    assert header["data"] == "digits_Stand-in" and header["judge"] == {"name": "x"}
    ours = metric_bench.run(metric_bench.load("digits"), [metric_bench.Trial("power", "clean", 0.0, 250, 0)])
    assert found[0]["metrics"] == ours[0]["metrics"]  # the same draw, judged by the same weights
