"""Metrics against closed forms, brute-force references and constructed cases."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg
from scipy.stats import mannwhitneyu, multivariate_normal, rankdata

from gan_jax.data import mixtures as mixture_data
from gan_jax.metrics import copying, distances, equilibrium, manifold, mixtures, parzen

RNG = np.random.default_rng(0)


# ----- mode coverage -------------------------------------------------------------------------


def test_mode_coverage_constructed_case():
    mix = mixture_data.MIXTURES["ring"]()
    samples = np.concatenate(
        [
            np.repeat(mix.means[[0]], 10, 0),
            np.repeat(mix.means[[3]], 10, 0),
            np.repeat(mix.means[[5]], 10, 0),
            np.full((10, 2), 5.0),
        ]
    )
    result = mixtures.mode_coverage(samples, mix.means, mix.metric_std, 3.0)
    assert result["modes_captured"] == 3 and result["num_modes"] == 8
    assert result["high_quality_percent"] == pytest.approx(75.0)
    assert result["counts"] == [10, 0, 0, 10, 0, 10, 0, 0]
    assert result["reverse_kl"] == pytest.approx(math.log(8) - math.log(3))
    assert result["protocol"]["threshold"] == 3.0 and result["protocol"]["num_samples"] == 40


def test_a_mode_is_covered_by_samples_near_it_at_the_plots_scale_not_the_datas():
    """Modes 0-3 get 100 samples each 6 standard deviations off centre (0.06 on the ring: no
    longer captured, still by the mode), mode 4 100 at its centre, mode 5 30 at its centre (above
    a quarter of a uniform share of the 560 samples, 17.5), mode 6 30 at 0.5 outside it (beyond
    half the 0.77 gap to its neighbours: not its neighbourhood), mode 7 none."""
    mix = mixture_data.MIXTURES["ring"]()
    means, std = mix.means, mix.metric_std
    outward = means / np.linalg.norm(means, axis=1, keepdims=True)
    drifted = [np.repeat(means[[k]] + 0.06 * outward[[k]], 100, 0) for k in range(4)]
    far = np.repeat(means[[6]] + 0.5 * outward[[6]], 30, 0)
    samples = np.concatenate([*drifted, np.repeat(means[[4]], 100, 0), np.repeat(means[[5]], 30, 0), far])
    result = mixtures.mode_coverage(samples, means, std, 3.0)
    assert result["modes_captured"] == 2 and result["modes_covered"] == 6
    few = np.concatenate([samples, np.repeat(means[[7]], 5, 0)])  # 5 < 565 / 8 / 4: not covered
    assert mixtures.mode_coverage(few, means, std, 3.0)["modes_covered"] == 6
    assert mixtures.neighbourhood_radii(means, std, 3.0) == pytest.approx(
        np.full(8, np.linalg.norm(means[0] - means[1]) / 2 / 0.01)
    )
    assert mixtures.neighbourhood_radii(means[:1], std, 3.0)[0] == np.inf  # a lone mode


def test_reverse_kl_extremes():
    assert mixtures.reverse_kl_to_uniform([5, 5, 5, 5]) == pytest.approx(0.0)
    assert mixtures.reverse_kl_to_uniform([9, 0, 0]) == pytest.approx(math.log(3))
    assert mixtures.reverse_kl_to_uniform([0, 0, 0]) == pytest.approx(math.log(3))  # no sample hit a mode
    # by hand: p = (3/4, 1/4, 0) -> log 3 + 3/4 log 3/4 + 1/4 log 1/4
    assert mixtures.reverse_kl_to_uniform([3, 1, 0]) == pytest.approx(
        math.log(3) + 0.75 * math.log(0.75) - 0.25 * math.log(4)
    )


def test_reverse_kl_of_histograms_at_once_is_each_ones():
    """The uniform yardstick's 2,000 histograms go through in one call."""
    histograms = np.array([[5, 5, 5, 5], [9, 0, 0, 0], [0, 0, 0, 0], [3, 1, 0, 2]])
    assert np.allclose(
        mixtures.reverse_kl_to_uniform(histograms),
        [mixtures.reverse_kl_to_uniform(h) for h in histograms],
        rtol=0,
        atol=1e-15,
    )


def test_a_uniform_generator_with_few_high_quality_samples_scores_badly():
    """The yardstick for the mode columns (issue 27): the exact expectation of modes captured
    against a simulation, and the reverse KL's small-sample values at the counts the audit found
    (32-41 high-quality samples on the grid, ~11 on the ring)."""
    sim = np.random.default_rng(1).multinomial(35, np.full(25, 1 / 25), 20_000)
    assert mixtures.uniform_modes_captured(25, 35) == pytest.approx((sim > 0).sum(1).mean(), abs=0.03)
    assert mixtures.uniform_modes_captured(8, 0) == 0.0
    assert mixtures.uniform_modes_captured(8, 10_000) == pytest.approx(8.0)
    assert 0.34 < mixtures.uniform_reverse_kl(25, 41) < mixtures.uniform_reverse_kl(25, 32) < 0.45
    assert 0.3 < mixtures.uniform_reverse_kl(8, 11) < 0.45
    assert mixtures.uniform_reverse_kl(8, 0) == pytest.approx(math.log(8))  # imputed, as the metric's
    assert mixtures.uniform_reverse_kl(8, 100_000) < 1e-3
    samples = np.repeat(mixture_data.MIXTURES["ring"]().means, 2, 0)  # 16 samples, 2 on each mode
    result = mixtures.mode_coverage(samples, samples[::2], 0.02, 3.0)
    assert result["high_quality_count"] == 16
    assert result["uniform_modes_captured"] == pytest.approx(8 * (1 - (7 / 8) ** 16))
    assert result["uniform_reverse_kl"] == mixtures.uniform_reverse_kl(8, 16)


def test_threshold_is_on_the_standardised_distance():
    means, std = np.zeros((1, 2)), np.full(2, 0.1)
    inside, outside = np.array([[0.29, 0.0]]), np.array([[0.31, 0.0]])
    assert mixtures.mode_coverage(inside, means, std, 3.0)["high_quality_percent"] == 100.0
    assert mixtures.mode_coverage(outside, means, std, 3.0)["high_quality_percent"] == 0.0


def sample_mixture(name: str, n: int) -> tuple[np.ndarray, mixture_data.Mixture]:
    import ml_collections

    from gan_jax import data

    source = data.load(ml_collections.ConfigDict(dict(name=name)))
    return np.asarray(source.sample({}, jax.random.PRNGKey(1), jnp.int32(0), n)["x"]), source.mixture


def coverage(x: np.ndarray, mix: mixture_data.Mixture) -> dict:
    threshold = mixtures.high_quality_threshold(mix.varying_dims)
    return mixtures.mode_coverage(x, mix.means, mix.metric_std, threshold)


def test_the_high_quality_gate_is_pacgans_three_sigma_in_2d():
    assert mixtures.high_quality_threshold(2) == pytest.approx(3.0, abs=1e-12)
    assert mixtures.high_quality_threshold(700) == pytest.approx(28.08, abs=0.01)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["ring", "grid", "hd1200"])
def test_real_samples_score_the_same_in_every_dimension(name):
    """Real data: every mode captured and 1 - exp(-4.5) = 98.9% high quality, in 2-D and 1200-D."""
    x, mix = sample_mixture(name, 20_000)
    result = coverage(x, mix)
    assert result["modes_captured"] == len(mix.means)
    assert result["high_quality_percent"] == pytest.approx(98.89, abs=0.3)
    assert result["reverse_kl"] < 0.01


def test_the_1200d_gate_rejects_noise_and_off_mode_constants():
    """The old per-dimension RMS < 10 gate passed both: noise N(0, 9^2) 100% high quality (5/10
    modes), random constant vectors 10/10 modes."""
    _, mix = sample_mixture("hd1200", 1)
    noise = np.random.default_rng(0).normal(0.0, 9.0, (2_500, 1200))
    offsets = np.array(mixture_data.HD1200_OFFSETS)
    constants = np.random.default_rng(1).uniform(-15.0, 12.0, 5_000)
    constants = constants[np.abs(constants[:, None] - offsets).min(1) > 1.0][:2_500]  # off every mode
    for fake in (noise, np.repeat(constants[:, None], 1200, 1)):
        result = coverage(fake, mix)
        assert result["high_quality_percent"] == 0.0 and result["modes_captured"] == 0


def test_hd1200_layout():
    mix = mixture_data.MIXTURES["hd1200"]()
    assert mix.means.shape == (10, 1200) and tuple(mix.means[:, 0]) == mixture_data.HD1200_OFFSETS
    assert (mix.noise_std[:700] == 1).all() and (mix.noise_std[700:] == 0).all()


# ----- feature distances ---------------------------------------------------------------------


def closed_form_frechet(mu1, s1, mu2, s2):
    root = scipy.linalg.sqrtm(s1 @ s2).real
    return float(np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2 - 2 * root))


def test_frechet_distance_is_zero_for_identical_sets_and_order_invariant():
    x = RNG.normal(size=(500, 8))
    assert distances.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)
    y = RNG.normal(size=(400, 8)) + 0.3
    assert distances.frechet_distance(x, y) == pytest.approx(
        distances.frechet_distance(x[RNG.permutation(500)], y[RNG.permutation(400)]), rel=1e-10
    )


def test_frechet_distance_matches_the_closed_form_on_sample_statistics():
    a = RNG.normal(size=(2000, 5)) @ RNG.normal(size=(5, 5))
    b = RNG.normal(size=(1500, 5)) @ RNG.normal(size=(5, 5)) + 1.0
    expected = closed_form_frechet(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert distances.frechet_distance(a, b) == pytest.approx(expected, rel=1e-8)


def test_frechet_distance_from_fewer_samples_than_dimensions_equals_the_covariance_form():
    """FD is unchanged by zero columns and a rotation: 5-D sets (the covariance form: n >= d) and
    the same sets padded to 64-D and rotated (the sample form: max(n, m) < d) score the same."""
    a = RNG.normal(size=(30, 5)) @ RNG.normal(size=(5, 5))
    b = RNG.normal(size=(20, 5)) + 0.5
    rotation = np.linalg.qr(RNG.normal(size=(64, 64)))[0]
    wide = [np.pad(x, ((0, 0), (0, 59))) @ rotation for x in (a, b)]
    assert distances.frechet_distance(*wide) == pytest.approx(distances.frechet_distance(a, b), rel=1e-10)
    assert distances.frechet_distance(wide[0], wide[0]) == pytest.approx(0.0, abs=1e-8)


def test_frechet_distance_converges_to_the_population_value():
    # N(0, I) vs N(1, 4 I) in 3-D: ||mu||^2 + sum (1 + 4 - 2 * 2) = 3 + 3 = 6.
    a = RNG.normal(size=(200_000, 3))
    b = 1.0 + 2.0 * RNG.normal(size=(200_000, 3))
    assert distances.frechet_distance(a, b) == pytest.approx(6.0, rel=0.01)


def test_mmd_matches_a_loop_reference():
    x, y = RNG.normal(size=(12, 4)), RNG.normal(size=(12, 4)) + 0.5
    k = lambda a, b: (a @ b / 4 + 1) ** 3  # noqa: E731
    m = len(x)
    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / m**2
    assert distances.mmd2_unbiased(x, y) == pytest.approx(xx + yy - 2 * xy, rel=1e-10)


def test_kid_cut_from_the_whole_sets_kernels_equals_kid_from_each_subsets(monkeypatch):
    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(259, 32)), rng.normal(size=(300, 32)) + 0.2  # a smoke evaluation's sizes
    whole = distances.kernel_inception_distance(real, fake, num_subsets=20, subset_size=1000)
    monkeypatch.setattr(distances, "WHOLE_KERNEL_MAX", 0)  # every subset's kernels computed anew
    each = distances.kernel_inception_distance(real, fake, num_subsets=20, subset_size=1000)
    assert whole["mean"] == pytest.approx(each["mean"], rel=1e-12) and whole["mean"] > 0.01
    assert whole["std"] == pytest.approx(each["std"], rel=1e-9) and whole["std"] > 0


@pytest.mark.slow
def test_kid_is_near_zero_for_one_distribution_and_positive_for_two():
    # Its own generator: the module's RNG hands each test different numbers depending on which
    # tests ran before it in the same worker, and this bound is statistical (it failed once so).
    rng = np.random.default_rng(7)
    a, b = rng.normal(size=(3000, 16)), rng.normal(size=(3000, 16))
    same = distances.kernel_inception_distance(a, b, num_subsets=50, subset_size=500)
    assert abs(same["mean"]) < 3 * same["std"] / math.sqrt(50) + 1e-4
    shifted = distances.kernel_inception_distance(a, b + 0.5, num_subsets=50, subset_size=500)
    assert shifted["mean"] > 20 * same["std"]
    permuted = distances.kernel_inception_distance(a[::-1], b + 0.5, num_subsets=50, subset_size=500)
    assert permuted["mean"] == pytest.approx(shifted["mean"], rel=0.1)


def test_classifier_score_extremes():
    confident_uniform = np.eye(10)[np.arange(1000) % 10]
    assert distances.classifier_score(confident_uniform)["mean"] == pytest.approx(10.0, rel=1e-6)
    one_class = np.tile(np.eye(10)[3], (1000, 1))
    assert distances.classifier_score(one_class)["mean"] == pytest.approx(1.0, rel=1e-6)


# ----- k-NN manifolds ------------------------------------------------------------------------


def brute_force_prdc(real, fake, k_pr, k_dc):
    def radii(points, k):
        d = np.linalg.norm(points[:, None] - points[None], axis=2)
        return np.sort(d, axis=1)[:, k]

    def inside(q, centres, r):
        return np.linalg.norm(q[:, None] - centres[None], axis=2) <= r[None]

    precision = inside(fake, real, radii(real, k_pr)).any(1).mean()
    recall = inside(real, fake, radii(fake, k_pr)).any(1).mean()
    ins = inside(fake, real, radii(real, k_dc))
    return precision, recall, ins.sum() / (k_dc * len(fake)), ins.any(0).mean()


def test_prdc_match_brute_force():
    real, fake = RNG.normal(size=(300, 3)), RNG.normal(size=(250, 3)) * 1.3 + 0.4
    pr = manifold.precision_recall(real, fake, k=3)
    dc = manifold.density_coverage(real, fake, k=5)
    expected = brute_force_prdc(real, fake, 3, 5)
    got = (pr["precision"], pr["recall"], dc["density"], dc["coverage"])
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_prdc_constructed_cases():
    real = RNG.normal(size=(400, 2))
    far = real + 100.0
    pr = manifold.precision_recall(real, far)
    assert pr["precision"] == 0.0 and pr["recall"] == 0.0
    assert manifold.density_coverage(real, far)["coverage"] == 0.0
    same = manifold.precision_recall(real, real)
    assert same["precision"] == 1.0 and same["recall"] == 1.0
    # Two well-separated clusters; G covers only one: full precision, half recall and coverage.
    two = np.concatenate([RNG.normal(size=(300, 2)), RNG.normal(size=(300, 2)) + 50.0])
    half = RNG.normal(size=(300, 2))
    pr, dc = manifold.precision_recall(two, half), manifold.density_coverage(two, half)
    assert pr["precision"] > 0.95 and pr["recall"] == pytest.approx(0.5, abs=0.03)
    assert dc["coverage"] == pytest.approx(0.5, abs=0.03)


# ----- data copying (Meehan et al. 2020's C_T) ------------------------------------------------


def test_nearest_matches_brute_force():
    queries, points = RNG.normal(size=(1500, 4)), RNG.normal(size=(700, 4))
    d = np.linalg.norm(queries[:, None] - points[None], axis=-1)
    distances_, indices = manifold.nearest(queries, points)
    np.testing.assert_array_equal(indices, d.argmin(1))
    np.testing.assert_allclose(distances_, d.min(1), rtol=1e-9)


@pytest.mark.parametrize(
    "x",
    [
        np.array([3.0, 1.0, 2.0]),  # by hand: 3, 1, 2
        np.array([2.0, 2.0, 2.0]),  # all tied: 2, 2, 2
        np.array([5.0, 1.0, 5.0, 0.5, 1.0, 5.0]),  # ties at both ends: 5, 2.5, 5, 1, 2.5, 5
        RNG.normal(size=300).round(1),  # many ties
    ],
)
def test_average_ranks_are_scipys_rankdata(x):
    np.testing.assert_array_equal(copying.average_ranks(x), rankdata(x))


def test_mann_whitney_z_is_scipys_u_z_scored_with_the_authors_continuity_correction():
    # by hand: every generated distance below every test one -> U = 0; m = n = 2: sd = sqrt(20/12)
    assert copying.mann_whitney_z(np.array([0.0, 1.0]), np.array([2.0, 3.0])) == pytest.approx(
        (0 - 2 + 0.5) / math.sqrt(20 / 12)
    )
    generated, test = RNG.normal(size=40).round(1), RNG.normal(size=55).round(1) + 0.3  # with ties
    u = mannwhitneyu(generated, test).statistic
    expected = (u - 40 * 55 / 2 + 0.5) / math.sqrt(40 * 55 * 96 / 12)
    assert copying.mann_whitney_z(generated, test) == pytest.approx(expected, rel=1e-12)


def test_c_t_is_the_test_share_weighted_mean_of_the_cells_z_over_cells_with_enough_samples():
    """Two far-apart cells (centres 0 and 100 on a line): the left one holds 30 generated points,
    the right one 10 (<= 20: left out) -- C_T is then the left cell's Z alone, whatever the test
    shares; with both cells counted it is their mean weighted by the test shares."""
    rng = np.random.default_rng(1)
    cells = copying.Partition(np.array([[0.0], [100.0]]))
    train = np.concatenate([rng.normal(0, 1, (200, 1)), rng.normal(100, 1, (200, 1))])
    test = np.concatenate([rng.normal(0, 1, (60, 1)), rng.normal(100, 1, (20, 1))])
    generated = np.concatenate([rng.normal(0, 1, (30, 1)), rng.normal(100, 1, (10, 1))])

    def cell_z(lo, hi, points):
        near = lambda x: manifold.nearest(x, train[lo:hi])[0]  # noqa: E731
        return copying.mann_whitney_z(near(points), near(test[(test > 50).ravel() == (lo > 0)]))

    result = copying.data_copying(train, test, generated, cells)
    left = cell_z(0, 200, generated[:30])
    assert result["c_t"] == pytest.approx(left) and result["cell_z"] == [pytest.approx(left), None]
    assert result["protocol"]["cells_used"] == 1
    both = copying.data_copying(train, test, generated, cells, min_cell_samples=5)
    right = cell_z(200, 400, generated[30:])
    assert both["c_t"] == pytest.approx(0.75 * left + 0.25 * right)  # test shares 60/80, 20/80
    with pytest.raises(ValueError, match="No cell holds more than 30 of the 40 generated samples"):
        copying.data_copying(train, test, generated, cells, min_cell_samples=30)


def test_one_cell_is_scikit_learns_one_cluster_k_means():
    """The one-cell partition (no scikit-learn import) is k-means with one cluster: the mean."""
    from sklearn import cluster

    train = RNG.normal(size=(300, 4)) + 3.0
    cells = copying.partition(train, copying.num_cells(399))
    expected = cluster.KMeans(n_clusters=1, n_init=10, random_state=0).fit(train).cluster_centers_
    np.testing.assert_allclose(cells.centres, expected, rtol=1e-12)
    assert (cells.cells(RNG.normal(size=(50, 4))) == 0).all()


def test_c_t_is_near_zero_for_new_data_and_strongly_negative_for_copies_or_positive_for_spread():
    """Under the null (G draws new points of the data's distribution) each cell's Z is a standard
    normal draw and C_T their weighted mean; a quarter of the samples copied from the training
    set pulls it far below, samples spread wider than the data push it far above."""
    rng = np.random.default_rng(2)
    train = rng.normal(size=(4000, 8))
    cells = copying.partition(train, copying.num_cells(1000))
    assert len(cells.centres) == 5  # the authors' 5 cells at n = 1,000
    null, copied, spread = [], [], []
    for _ in range(10):
        test, new = rng.normal(size=(1000, 8)), rng.normal(size=(1000, 8))
        null.append(copying.data_copying(train, test, new, cells)["c_t"])
        copies = new.copy()
        copies[:250] = train[rng.choice(len(train), 250, replace=False)]
        copied.append(copying.data_copying(train, test, copies, cells)["c_t"])
        spread.append(copying.data_copying(train, test, 1.2 * new, cells)["c_t"])
    assert abs(np.mean(null)) < 0.3 and 0.2 < np.std(null) < 0.7  # 5 cells: sd ~ 1 / sqrt(5)
    assert max(copied) < -3.0 and min(spread) > 3.0


# ----- Parzen window -------------------------------------------------------------------------


def test_parzen_matches_brute_force():
    centres, x = RNG.normal(size=(50, 3)), RNG.normal(size=(20, 3))
    h = np.array([0.3, 0.7])
    got = parzen.log_likelihoods(x, centres, h)
    for i, bandwidth in enumerate(h):
        expected = [
            np.log(np.mean([multivariate_normal.pdf(xi, c, bandwidth**2 * np.eye(3)) for c in centres]))
            for xi in x
        ]
        np.testing.assert_allclose(got[i], expected, rtol=1e-10)


def test_parzen_chunking_and_bandwidth_choice(monkeypatch):
    centres, valid, test = RNG.normal(size=(300, 2)), RNG.normal(size=(100, 2)), RNG.normal(size=(150, 2))
    full = parzen.parzen_log_likelihood(centres, valid, test)
    monkeypatch.setattr(parzen, "_ROWS", 7)
    monkeypatch.setattr(parzen, "_COLUMNS", 11)
    chunked = parzen.parzen_log_likelihood(centres, valid, test)
    assert chunked["mean"] == pytest.approx(full["mean"], rel=1e-12)
    grid = full["protocol"]["bandwidth_grid"]
    assert full["bandwidth"] == grid[int(np.argmax(full["protocol"]["validation_mean_ll"]))]
    assert full["protocol"]["num_test"] == 150 and full["stderr"] > 0


# ----- optimal discriminator -----------------------------------------------------------------


def test_optimal_discriminator_is_one_half_when_p_g_equals_p_data():
    grid = np.linspace(2.8, 5.2, 50)  # +- 2.4 sd: beyond, the KDE's smoothed tails put D* 0.04 off
    p_data = equilibrium.mixture_density(grid, np.array([4.0]), np.array([0.5]))
    samples = np.random.default_rng(7).normal(4.0, 0.5, 50_000)  # its own draws: any test order
    d_star, p_g = equilibrium.optimal_discriminator(grid, p_data, samples)
    np.testing.assert_allclose(d_star, 0.5, atol=0.03)
    np.testing.assert_allclose(p_g, p_data, rtol=0.1)
    gap = equilibrium.discriminator_gap(np.full(50, 0.5), d_star, p_data)
    assert gap["mean_abs"] < 0.01


def test_optimal_discriminator_prefers_data_where_g_puts_no_mass():
    grid = np.array([4.0, 8.0])
    p_data = equilibrium.mixture_density(grid, np.array([4.0]), np.array([0.5]))
    d_star, _ = equilibrium.optimal_discriminator(grid, p_data, RNG.normal(8.0, 0.5, 10_000))
    assert d_star[0] > 0.99 and d_star[1] < 0.01
