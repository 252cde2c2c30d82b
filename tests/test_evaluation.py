"""Evaluation: which metrics apply, known answers for a generator that returns real data,
determinism, the periodic evaluation of a run, the CLI, and the classifier's checksum."""

import json
import re
import subprocess
import sys

import jax
import ml_collections
import numpy as np
import pytest
from helpers import JAX_CACHE, REPO, SHARED_MNIST, evaluation_run, load_config

from gan_jax import classifier, data, evaluation, trainer
from gan_jax.errors import NonFiniteError
from gan_jax.evaluation import registry

DIGITS16 = REPO / "classifiers" / "digits16"


def test_applicable_metrics():
    ring = data.load(ml_collections.ConfigDict(dict(name="ring")))
    line = data.load(ml_collections.ConfigDict(dict(name="gaussian1d")))
    assert evaluation.applicable_metrics(ring, False) == ("equilibrium", "modes", "parzen")
    assert evaluation.applicable_metrics(line, False) == ("equilibrium", "modes", "parzen", "optimal_d")
    digits = data.load(ml_collections.ConfigDict(dict(name="digits", image_size=16, split="train")))
    assert evaluation.applicable_metrics(digits, False) == ("equilibrium", "parzen")
    assert evaluation.applicable_metrics(digits, True) == (
        "equilibrium",
        "parzen",
        "fd",
        "kid",
        "prdc",
        "copying",
        "score",
    )
    fixed_ring = data.load(ml_collections.ConfigDict(dict(name="ring", train_size=500)))
    assert evaluation.applicable_metrics(fixed_ring, False) == ("equilibrium", "modes", "parzen", "copying")


def test_a_fixed_training_sets_stand_ins_do_not_depend_on_how_training_walks_it():
    """The pool of training examples (the memoriser's, the copying test's) and the `data` row of
    a mixture's fixed set are the same draws from it whether training draws batches with
    replacement or walks PacGAN's fixed packs (data.fixed_packs)."""
    from gan_jax.evaluation.bank import SampleBank

    cfg = ml_collections.ConfigDict(dict(seed=0))
    drawn = []
    for fixed_packs in (False, True):
        source = data.load(
            ml_collections.ConfigDict(dict(name="grid", train_size=500, fixed_packs=fixed_packs)), pack=3
        )
        drawn.append(SampleBank(None, source, None, cfg, "").draw(source, 1_000, stream=3))
    np.testing.assert_array_equal(drawn[0][0], drawn[1][0])
    assert drawn[0][0].shape == (1_000, 2) and len({tuple(p) for p in drawn[0][0].tolist()}) < 500


def test_metrics_that_do_not_apply_fail_before_any_compute():
    config, gan, source, _ = evaluation_run("ring")
    with pytest.raises(ValueError, match=r"\['fd'\] do not apply to data 'ring'.*config.eval.classifier"):
        evaluation.Evaluator(config, gan, source, ("modes", "fd"))


def test_a_generator_that_returns_real_data_gets_the_real_datas_scores():
    config, gan, source, state = evaluation_run(
        "grid",
        parzen_samples=2000,
        parzen_valid=200,
        parzen_test=1000,
        parzen_log10_bandwidths=(-2.0, 0.0, 9),
    )
    evaluator = evaluation.Evaluator(config, gan, source, ("modes", "parzen"))
    perfect = lambda n: np.asarray(source.sample({}, jax.random.PRNGKey(9), np.int32(0), n)["x"])  # noqa: E731
    results = evaluator(state, step=0, sampler=perfect)
    modes = results["metrics"]["modes"]
    assert modes["modes_captured"] == 25 and modes["high_quality_percent"] > 97
    assert modes["protocol"]["num_samples"] == 2500 and modes["protocol"]["threshold"] == pytest.approx(3.0)
    # The true density of the grid: log(1/25) + log N(0, 0.05^2 I) in 2-D, ~ +1.46 on average.
    expected = -np.log(25) - np.log(2 * np.pi * 0.05**2) - 1.0
    assert results["metrics"]["parzen"]["mean"] == pytest.approx(expected, abs=0.25)


def test_the_copying_test_flags_copies_and_the_training_set_but_not_new_data():
    """A ring trained on 2,000 fixed points: new draws of the mixture (a perfect generator) get a
    C_T near 0; half of them replaced by training points, and the training set itself (the
    reference row `data`), sit far closer to the training set than held-out draws do."""
    config, gan, source, state = evaluation_run(
        "ring", edit=lambda c: c.data.update(train_size=2000), num_samples=2000, parzen_valid=500
    )
    evaluator = evaluation.Evaluator(config, gan, source, ("copying",))
    mixture = data.load(ml_collections.ConfigDict(dict(name="ring")))
    new = lambda n: evaluator.bank.draw(mixture, n, stream=7)[0]  # noqa: E731
    result = evaluator(state, 0, sampler=new)["metrics"]["copying"]
    assert abs(result["c_t"]) < 1.5
    assert result["protocol"]["cells"] == 10 and result["protocol"]["num_train"] == 2000
    half = lambda n: np.concatenate([new(n)[: n // 2], source.arrays["x"][: n - n // 2]])  # noqa: E731
    assert evaluator(state, 0, sampler=half)["metrics"]["copying"]["c_t"] < -4
    assert evaluator.references()["data"]["metrics"]["copying"]["c_t"] < -10
    config.eval.num_samples = 20
    with pytest.raises(ValueError, match="num_samples=20: the copying test counts a cell with more than 20"):
        evaluation.Evaluator(config, gan, source, ("copying",))


def test_evaluation_is_deterministic_and_uses_the_ema_generator():
    config, gan, source, state = evaluation_run("ring", edit=lambda c: c.train.update(ema_decay=0.9))
    evaluator = evaluation.Evaluator(config, gan, source, ("modes",))
    first, second = evaluator(state, 0), evaluator(state, 0)
    assert first == second and first["generator"] == "ema"
    assert evaluation.scalars(first)["modes/modes_captured"] == first["metrics"]["modes"]["modes_captured"]


def test_a_diverged_generator_is_not_evaluated():
    """A finite FD of NaN images once reported a diverged run as merely bad."""
    config, gan, source, state = evaluation_run("ring")
    state = state.replace(g=state.g.replace(params=jax.tree.map(lambda p: p * np.nan, state.g.params)))
    with pytest.raises(
        NonFiniteError, match="generator of step 0 produces NaN/Inf samples .100% of the values"
    ):
        evaluation.Evaluator(config, gan, source, ("modes",))(state, 0)


def test_modes_draw_until_enough_samples_are_high_quality():
    """With eval.mode_min_high_quality = 20, a generator with one high-quality sample in 50 is
    measured on a doubled draw until 8 x 20 of them are high quality (2,500 -> 5,000 -> 10,000
    samples: 200), or up to the cap; at 0 the draw is VEEGAN/PacGAN's fixed 2,500."""
    config, gan, source, state = evaluation_run("ring")
    means = source.mixture.means

    def one_in_fifty(n):  # on mode i % 8 for every 50th sample, else at the ring's centre
        return np.where((np.arange(n) % 50 == 0)[:, None], means[np.arange(n) % 8], 0.0)

    def measured(min_per_mode, cap=40_000):
        config.eval.update(mode_min_high_quality=min_per_mode, mode_max_samples=cap)
        evaluator = evaluation.Evaluator(config, gan, source, ("modes",))
        return evaluator(state, 0, sampler=one_in_fifty)["metrics"]["modes"]

    fixed, drawn, capped = measured(0), measured(20), measured(20, cap=5_000)
    assert (fixed["protocol"]["num_samples"], fixed["high_quality_count"]) == (2_500, 50)
    assert "drawn_until" not in fixed["protocol"]
    assert (drawn["protocol"]["num_samples"], drawn["high_quality_count"]) == (10_000, 200)
    assert drawn["protocol"]["drawn_until"].startswith("2,500 samples, doubled until 20 high-quality")
    assert (capped["protocol"]["num_samples"], capped["high_quality_count"]) == (5_000, 100)


def test_a_larger_draw_of_g_begins_with_the_smaller_one():
    """What lets the mode draw grow: the bank's n samples are the first n of any larger draw."""
    config, gan, source, state = evaluation_run("ring")
    sample = evaluation.Evaluator(config, gan, source, ("modes",)).bank.generator(state)
    np.testing.assert_array_equal(sample(1_200)[:700], sample(700))


def test_optimal_d_is_one_half_where_g_matches_the_data():
    """D* = p_data / (p_data + p_g): with G's samples drawn from p_data itself, 1/2 wherever the
    data have mass; and the gap is D's distance to it, weighted by (p_data + p_g) / 2."""
    config, gan, source, state = evaluation_run("gaussian1d")
    evaluator = evaluation.Evaluator(config, gan, source, ("optimal_d",))
    true_samples = lambda n: evaluator.bank.draw(source, n, stream=5)[0]  # noqa: E731
    gap = evaluator(state, 0, sampler=true_samples)["metrics"]["optimal_d"]
    curves = {k: np.asarray(v) for k, v in gap["curves"].items()}
    assert len(curves["x"]) == 400
    bulk = curves["p_data"] > 0.1 * curves["p_data"].max()  # within ~2 standard deviations
    assert np.abs(curves["d_star"][bulk] - 0.5).max() < 0.05
    weights = (curves["p_data"] + curves["p_g"]) / 2
    expected = np.sum(weights * np.abs(curves["d"] - curves["d_star"])) / np.sum(weights)
    assert gap["mean_abs"] == pytest.approx(expected, rel=1e-6)


@pytest.mark.slow
def test_feature_metrics_and_stacked_modes_with_the_committed_classifier():
    config, gan, source, state = evaluation_run("digits", 16, classifier=str(DIGITS16), num_samples=600)
    evaluator = evaluation.Evaluator(config, gan, source, ("fd", "kid", "prdc", "score"))
    metrics = evaluator(state, 0, sampler=evaluator.bank.real)["metrics"]
    assert metrics["fd"]["name"] == "FD-CNN-digits16"
    assert metrics["fd"]["value"] == pytest.approx(0.0, abs=1e-6)  # identical sets
    assert metrics["prdc"]["precision"] == 1.0 and metrics["prdc"]["recall"] == 1.0
    assert metrics["score"]["mean"] > 5  # confident, varied predictions on real digits
    assert metrics["fd"]["protocol"]["feature_network"]["test_accuracy"] > 0.9
    assert metrics["fd"]["protocol"]["feature_network"]["sha256"].startswith("a5613377")

    config, gan, stacked, state = evaluation_run(
        "stacked:digits", 16, classifier=str(DIGITS16), stacked_samples=3000
    )
    evaluator = evaluation.Evaluator(config, gan, stacked, ("stacked_modes",))
    result = evaluator(state, 0, sampler=lambda n: evaluator.bank.real(n)[::-1])["metrics"]["stacked_modes"]
    assert result["modes"] == result["real_reference"]["modes"] > 900  # 3,000 draws of 1,000 modes


def test_what_no_evaluation_changes_is_computed_once_a_run(monkeypatch):
    """The classifier's outputs on the held-out digits (FD's real side, Stacked MNIST's real
    reference) and on the training set (the copying test) are computed at a run's first
    evaluation only; every evaluation after it equals a fresh evaluator's."""
    from gan_jax.evaluation import features

    seen = []
    network_outputs = features.network_outputs
    monkeypatch.setattr(
        features, "network_outputs", lambda net, x: seen.append(len(x)) or network_outputs(net, x)
    )
    metrics = ("fd", "copying")
    config, gan, source, state = evaluation_run("digits", 16, classifier=str(DIGITS16), num_samples=300)
    evaluator = evaluation.Evaluator(config, gan, source, metrics)
    first, second = evaluator(state, 0), evaluator(state.replace(step=state.step + 1), 1)
    assert seen == [300, 300, 1438, 300]  # real, generated, the training set; then generated only
    assert second == evaluation.Evaluator(config, gan, source, metrics)(state.replace(step=state.step + 1), 1)
    assert first["metrics"]["fd"]["value"] == second["metrics"]["fd"]["value"]  # the same G

    config, gan, stacked, state = evaluation_run(
        "stacked:digits", 16, classifier=str(DIGITS16), stacked_samples=200
    )
    evaluator, seen[:] = evaluation.Evaluator(config, gan, stacked, ("stacked_modes",)), []
    first, second = (evaluator(state, step)["metrics"]["stacked_modes"] for step in (0, 1))
    assert seen == [200, 200, 200] and first == second


def test_classifier_mismatch_is_a_clear_error():
    config, gan, source, _ = evaluation_run(
        "digits", 32, classifier=str(DIGITS16)
    )  # a classifier of 16x16 images
    with pytest.raises(ValueError, match="takes 16x16x1 images"):
        evaluation.Evaluator(config, gan, source, ("fd",))


@pytest.mark.slow
def test_classifier_save_load_and_checksum(tmp_path):
    source = data.load(ml_collections.ConfigDict(dict(name="digits", image_size=16, split="train")))
    x, y = source.arrays["x"], source.arrays["label"]
    params = classifier.train(x[:1400], y[:1400], 10, epochs=3)
    info = {
        "name": "CNN-test",
        "data": "digits",
        "image_size": 16,
        "channels": 1,
        "num_classes": 10,
        "split": "first 1400",
        "num_test": 397,
        "test_accuracy": None,
    }
    classifier.save(tmp_path, params, info)
    net = classifier.load(tmp_path)
    assert net.accuracy(x[1400:] / 127.5 - 1.0, y[1400:]) > 0.8  # it learned
    (tmp_path / "params.msgpack").write_bytes(b"x" + (tmp_path / "params.msgpack").read_bytes()[1:])
    with pytest.raises(ValueError, match="fails its checksum"):
        classifier.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="experiments.train_classifier"):
        classifier.load(tmp_path / "missing")


def held_out_accuracy(directory, data_cfg) -> tuple[float, float]:
    """(accuracy measured here on the classifier's held-out images, the accuracy its info claims)."""
    net, test = classifier.load(directory), data.load(ml_collections.ConfigDict(data_cfg))
    return net.accuracy(test.arrays["x"] / 127.5 - 1.0, test.arrays["label"]), net.protocol["test_accuracy"]


def test_the_digits_classifier_has_the_accuracy_it_claims_on_its_held_out_images():
    measured, claimed = held_out_accuracy(DIGITS16, dict(name="digits", image_size=16, split="train[1438:]"))
    assert measured == pytest.approx(claimed, abs=1e-9) and measured > 0.9


@pytest.mark.skipif(not SHARED_MNIST.exists(), reason="the shared MNIST files are not here")
@pytest.mark.parametrize(
    "name,data_name,split,least",
    [("mnist32", "mnist", "test[8000:]", 0.98), ("fashion32", "fashion_mnist", "test", 0.9)],
)
@pytest.mark.slow
def test_the_mnist_classifiers_have_the_accuracy_they_claim_on_their_held_out_images(
    name, data_name, split, least
):
    held_out = dict(name=f"idx:{SHARED_MNIST.parent / data_name}", image_size=32, split=split)
    measured, claimed = held_out_accuracy(REPO / "classifiers" / name, held_out)
    assert measured == pytest.approx(claimed, abs=1e-9) and measured >= least


@pytest.mark.slow
def test_periodic_evaluation_and_the_cli(tmp_path, one_device):
    config = load_config("configs/gan_mlp.py:smoke")
    trainer.train_and_evaluate(config, str(tmp_path), devices=one_device)
    rows = [json.loads(line) for line in (tmp_path / "eval.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [20, 40] and "modes/modes_captured" in rows[0]
    saved = json.loads((tmp_path / "eval_40.json").read_text())
    assert saved["metrics"]["modes"]["protocol"]["num_samples"] == 2500
    assert (tmp_path / "eval_40" / "samples.png").exists()
    assert (tmp_path / "eval_40" / "mode_histogram.png").exists()

    def evaluate(*flags):
        command = [sys.executable, "-m", "experiments.evaluate", f"--workdir={tmp_path}", "--step=20", *flags]
        result = subprocess.run(
            [*command, f"--jax_cache_dir={JAX_CACHE}"], cwd=REPO, capture_output=True, text=True, timeout=300
        )
        assert result.returncode == 0, result.stderr[-2000:]
        return result.stdout

    # What training wrote is kept (it was replaced: the mode metrics lost, the report broken);
    # what it did not compute is added.
    trained = json.loads((tmp_path / "eval_20.json").read_text())
    assert "eval_20.json already holds ['modes']: kept as written" in evaluate("--metrics=modes,parzen")
    again = json.loads((tmp_path / "eval_20.json").read_text())
    assert (
        set(again["metrics"]) == {"modes", "parzen"}
        and again["metrics"]["modes"] == trained["metrics"]["modes"]
    )
    # --out: the whole evaluation in a file of its own; the CLI on the step-20 checkpoint reproduces
    # what the run measured at step 20.
    assert "modes/modes_captured" in evaluate("--metrics=modes", f"--out={tmp_path / 'again.json'}")
    recomputed = json.loads((tmp_path / "again.json").read_text())["metrics"]["modes"]
    for key in ("modes_captured", "high_quality_percent", "reverse_kl"):
        assert recomputed[key] == pytest.approx(rows[0][f"modes/{key}"], rel=1e-12)
    assert json.loads((tmp_path / "eval_20.json").read_text()) == again

    sample = [
        sys.executable,
        "-m",
        "experiments.sample",
        f"--workdir={tmp_path}",
        f"--jax_cache_dir={JAX_CACHE}",
    ]
    drawn = subprocess.run([*sample, "--n=5"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert drawn.returncode == 0 and (tmp_path / "samples_step40.png").exists(), drawn.stderr[-2000:]
    assert "5 samples at step 40" in drawn.stdout  # an unconditional run has no label to name
    none = subprocess.run([*sample, "--n=0"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert none.returncode == 1 and none.stderr.strip() == "Error: --n=0: draw at least one sample."
    many = subprocess.run([*sample, "--n=1000000000"], cwd=REPO, capture_output=True, text=True, timeout=300)
    [line] = many.stderr.strip().splitlines()  # was a 44-line RESOURCE_EXHAUSTED traceback
    assert many.returncode == 1 and re.match(
        r"Error: Drawing 1,000,000,000 samples needs [\d,.]+ GiB on", line
    )
    assert "Lower --n (now 1,000,000,000; about " in line


def test_equilibrium_metric_at_the_theorys_fixed_point():
    """A D that outputs 1/2 everywhere: D(x) = D(G(z)) = 1/2 and V = -log 4 exactly."""
    config, gan, source, state = evaluation_run("ring")
    zero_d = state.d.replace(params=jax.tree.map(np.zeros_like, state.d.params))
    result = evaluation.Evaluator(config, gan, source, ("equilibrium",))(state.replace(d=zero_d), 0)
    eq = result["metrics"]["equilibrium"]
    assert eq["d_real"] == pytest.approx(0.5) and eq["d_fake"] == pytest.approx(0.5)
    assert eq["V_minus_optimum"] == pytest.approx(0.0, abs=1e-6)
    assert eq["g_grad_norm"] == pytest.approx(0.0, abs=1e-7)  # a constant D gives G no gradient
    assert eq["protocol"]["batches"] == config.eval.equilibrium_batches


def test_equilibrium_panels_over_steps(tmp_path):
    config, gan, source, state = evaluation_run("gaussian1d")
    evaluator = evaluation.Evaluator(config, gan, source, ("optimal_d",))
    for step in (0, 10):
        evaluation.write(evaluator(state, step), tmp_path)
    assert (tmp_path / "eval_10.json").exists() and (tmp_path / "equilibrium_steps.png").exists()


@pytest.mark.parametrize("data_name", ["ring", "digits"])
def test_figures_only_write_what_the_evaluation_drew(data_name, tmp_path):
    """Every process runs the evaluation's device work; the figures, drawn by one process only,
    must not add any (a multi-host program would wait forever on it): nothing crosses to the host."""
    size = 16 if data_name == "digits" else 0
    config, gan, source, state = evaluation_run(data_name, size, parzen_valid=100, parzen_test=200)
    evaluator = evaluation.Evaluator(config, gan, source, ("parzen",))
    results = evaluator(state, 0)
    with jax.transfer_guard("disallow_explicit"):
        evaluator.figures(results, tmp_path)
    expected = {"ring": ["samples.png"], "digits": ["nearest_real.png", "real_vs_generated.png"]}
    assert sorted(p.name for p in tmp_path.iterdir()) == expected[data_name]


def test_every_metric_is_registered_with_what_it_reads():
    """The registry decides applicability and the reference rows: metrics of samples alone are
    exactly those a stand-in without networks can have."""
    alone = {name for name, metric in registry.METRICS.items() if metric.of_samples_alone}
    on_features = {f"{net}_{m}" for net in ("inception", "dinov2") for m in ("fd", "kid", "prdc")}
    assert (
        alone
        == {"modes", "parzen", "fd", "kid", "prdc", "copying", "score", "stacked_modes"}
        | {"inception_score"}
        | on_features
    )
    real = {name for name, metric in registry.METRICS.items() if "real" in metric.needs}
    assert (
        real
        == {
            "parzen",
            "fd",
            "kid",
            "prdc",
            "copying",
            "conditional",
            "stacked_modes",
            "semi_supervised",
        }
        | on_features
    )
