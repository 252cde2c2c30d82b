"""Data sources: mixture geometry, epoch sampling, digits, IDX files, tfds (mock), errors."""

import gzip
import pathlib

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest
from helpers import SHARED_MNIST

from gan_jax import data
from gan_jax.data import images, mixtures, source
from gan_jax.errors import DataError


def data_cfg(**kw):
    base = dict(name="digits", split="train", image_size=0, data_dir="", download=False)
    return ml_collections.ConfigDict({**base, **kw})


def device_arrays(source):
    return {k: jnp.asarray(v) for k, v in source.arrays.items()}


def test_ring_has_eight_distinct_modes_on_the_unit_circle():
    means = mixtures.ring_means()
    assert len(np.unique(np.round(means, 6), axis=0)) == 8
    np.testing.assert_allclose(np.linalg.norm(means, axis=1), 1.0)
    np.testing.assert_allclose(means[2], [0.0, 1.0], atol=1e-12)


def test_grid_means():
    means = mixtures.grid_means()
    assert means.shape == (25, 2)
    assert set(means[:, 0]) == {-4.0, -2.0, 0.0, 2.0, 4.0}


@pytest.mark.parametrize("name,modes,std", [("ring", 8, 0.01), ("grid", 25, 0.05), ("gaussian1d", 1, 0.5)])
def test_mixture_samples_have_the_right_statistics(name, modes, std):
    source = data.load(data_cfg(name=name))
    batch = source.sample({}, jax.random.PRNGKey(0), jnp.int32(3), 20_000)
    x, label = np.asarray(batch["x"]), np.asarray(batch["label"])
    residual = x - source.mixture.means[label]
    np.testing.assert_allclose(residual.std(0), std, rtol=0.05)
    np.testing.assert_allclose(residual.mean(0), 0.0, atol=4 * std / np.sqrt(len(x)) * 3)
    counts = np.bincount(label, minlength=modes)
    assert counts.min() > 0.8 * len(x) / modes
    other = source.sample({}, jax.random.PRNGKey(0), jnp.int32(4), 20_000)["x"]
    assert not np.allclose(x, other)  # every draw is fresh


def test_epoch_sampling_is_without_replacement():
    n, batch = 50, 8
    arrays = {
        "x": jnp.arange(n, dtype=jnp.uint8).reshape(n, 1, 1, 1),
        "label": jnp.arange(n, dtype=jnp.int32),
    }
    key = jax.random.PRNGKey(0)
    per_epoch = n // batch
    sample = jax.jit(data.source.sample_epochs, static_argnums=3)  # as the step runs it: one program
    epoch0 = np.concatenate([sample(arrays, key, jnp.int32(i), batch)["label"] for i in range(per_epoch)])
    assert len(set(epoch0.tolist())) == per_epoch * batch  # no repeats within an epoch
    epoch1 = np.concatenate(
        [sample(arrays, key, jnp.int32(per_epoch + i), batch)["label"] for i in range(per_epoch)]
    )
    assert not np.array_equal(epoch0, epoch1)  # a new permutation each epoch
    first = sample(arrays, key, jnp.int32(0), batch)
    np.testing.assert_allclose(first["x"][:, 0, 0, 0], first["label"] / 127.5 - 1.0, rtol=1e-6)


def test_digits_bundled_with_scikit_learn():
    source = data.load(data_cfg(name="digits", image_size=16))
    assert source.shape == (16, 16, 1) and source.num_examples == 1797 and source.num_classes == 10
    assert source.arrays["x"].dtype == np.uint8 and source.arrays["x"].max() == 255
    batch = source.sample(device_arrays(source), jax.random.PRNGKey(0), jnp.int32(0), 32)
    assert batch["x"].shape == (32, 16, 16, 1)
    assert -1.0 <= float(batch["x"].min()) and float(batch["x"].max()) <= 1.0


def test_digits_read_from_scikit_learns_file_equal_its_loader():
    from sklearn.datasets import load_digits

    digits, labels = images.bundled_digits()
    reference = load_digits()
    np.testing.assert_array_equal(digits, reference.images)
    np.testing.assert_array_equal(labels, reference.target)
    assert digits.dtype == reference.images.dtype and labels.dtype == reference.target.dtype


IDX_TYPES = {np.dtype(np.uint8): 0x08, np.dtype(np.int32): 0x0C, np.dtype(np.float32): 0x0D}


def write_idx(path: pathlib.Path, array: np.ndarray, compress: bool = False) -> None:
    """An IDX file of `array` in its own type (uint8, int32 or float32), big-endian as IDX is."""
    header = bytes([0, 0, IDX_TYPES[array.dtype], array.ndim]) + b"".join(
        d.to_bytes(4, "big") for d in array.shape
    )
    payload = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    if compress:
        with gzip.open(path.with_name(path.name + ".gz"), "wb") as f:
            f.write(payload)
    else:
        path.write_bytes(payload)


@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path, compress):
    rng = np.random.default_rng(0)
    pics = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)
    labels = np.array([0, 1, 2, 3, 4, 9], np.uint8)
    write_idx(tmp_path / "train-images-idx3-ubyte", pics, compress)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels, compress)
    source = data.load(data_cfg(name=f"idx:{tmp_path}", split="train"))
    np.testing.assert_array_equal(source.arrays["x"][..., 0], pics)
    np.testing.assert_array_equal(source.arrays["label"], labels)
    assert source.num_classes == 10
    resized = data.load(data_cfg(name=f"idx:{tmp_path}", split="train", image_size=32))
    assert resized.shape == (32, 32, 1)


def test_idx_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte"):
        data.load(data_cfg(name=f"idx:{tmp_path}", split="test"))
    (tmp_path / "train-images-idx3-ubyte").write_bytes(b"\x12\x34\x56\x78rest")
    with pytest.raises(ValueError, match="not an IDX file"):
        images.read_idx(tmp_path / "train-images-idx3-ubyte")
    truncated = bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + b"abc"
    (tmp_path / "short").write_bytes(truncated)
    with pytest.raises(ValueError, match="truncated"):
        images.read_idx(tmp_path / "short")
    whole = gzip.compress(bytes([0, 0, 8, 1]) + (1000).to_bytes(4, "big") + bytes(1000))
    (tmp_path / "cut.gz").write_bytes(whole[: len(whole) // 2])  # an interrupted download
    with pytest.raises(DataError, match=r"(?s)cut.gz is damaged.*download it again"):
        images.read_idx(tmp_path / "cut.gz")
    # These gave 37-line tracebacks: a file cut inside its header, an int32 file of odd length, an
    # empty file.
    (tmp_path / "header").write_bytes(bytes([0, 0, 8, 3]) + (10).to_bytes(4, "big") + b"\x00")
    with pytest.raises(DataError, match=r"header is cut short inside its header \(9 of 16 bytes\)"):
        images.read_idx(tmp_path / "header")
    (tmp_path / "odd").write_bytes(bytes([0, 0, 0x0C, 1]) + (2).to_bytes(4, "big") + bytes(7))
    with pytest.raises(
        DataError, match=r"odd is truncated: .* \(2,\) values of int32 \(8 bytes\), it holds 7"
    ):
        images.read_idx(tmp_path / "odd")
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(DataError, match=r"empty is not an IDX file \(bad magic number none: empty\)"):
        images.read_idx(tmp_path / "empty")


@pytest.mark.parametrize(
    "pixels,labels,problem",
    [
        (
            np.full((3, 4, 4), 0.5, np.float32),
            np.zeros(3, np.uint8),
            "images in .* are float32; .* unsigned bytes",
        ),
        (
            np.zeros((3, 4, 4), np.uint8),
            np.array([0, -1, 2], np.int32),
            "labels in .* integers >= 0 .* from -1",
        ),
    ],
)
def test_idx_pixels_and_labels_are_checked(tmp_path, pixels, labels, problem):
    """Float pixels were cast to bytes (all ~0) and trained on; a negative label gave a
    conditional run the wrong number of classes."""
    write_idx(tmp_path / "train-images-idx3-ubyte", pixels)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    with pytest.raises(DataError, match=problem):
        data.load(data_cfg(name=f"idx:{tmp_path}", split="train"))


@pytest.mark.skipif(not SHARED_MNIST.exists(), reason="the shared MNIST test split is not here")
def test_real_mnist_test_split():
    source = data.load(data_cfg(name=f"idx:{SHARED_MNIST}", split="test", image_size=32))
    assert source.num_examples == 10_000 and source.shape == (32, 32, 1)
    assert np.bincount(source.arrays["label"]).tolist()[:2] == [980, 1135]


@pytest.mark.parametrize("name,shape", [("mnist", (32, 32, 1)), ("cifar10", (32, 32, 3))])
def test_tfds_through_mock_data(name, shape):
    import tensorflow_datasets as tfds

    with tfds.testing.mock_data(num_examples=20):
        source = data.load(data_cfg(name=f"tfds:{name}", image_size=32))
    assert source.shape == shape and source.num_examples == 20 and source.num_classes == 10
    assert source.arrays["label"].max() < 10


@pytest.mark.parametrize("name,size", [("cifar10", 32), ("celeb_a", 64)])
def test_a_streamed_tfds_set_feeds_the_batches_the_device_pipeline_draws(name, size):
    """tfds mock data through both pipelines: the streamed feed's global batch arrays (8 devices,
    each holding its rows; 2 steps x 2 D steps per call) equal `sample_epochs` on the device-
    resident arrays, draw for draw, across epoch boundaries (13 examples, batch 8: one batch an
    epoch, 5 left-overs skipped)."""
    import tensorflow_datasets as tfds

    from gan_jax import parallel
    from gan_jax.data.stream import Feed

    with tfds.testing.mock_data(num_examples=13):
        device = data.load(data_cfg(name=f"tfds:{name}", image_size=size, pipeline="device"))
        streamed = data.load(data_cfg(name=f"tfds:{name}", image_size=size, pipeline="stream"))
        assert streamed.streamed and not streamed.arrays and not device.streamed
        assert streamed.shape == device.shape == (size, size, 3) and streamed.num_examples == 13
        mesh = parallel.make_mesh(jax.devices()[:8])
        key = jax.random.PRNGKey(7)
        feed = Feed(streamed.examples, np.asarray(key), 8, 4, parallel.stream_sharded(mesh), range(1, 3), 2)
        calls = [next(feed), next(feed)]
    arrays = device_arrays(device)
    for call, batches in zip((1, 2), calls, strict=True):
        assert batches["x"].shape == (4, 8, size, size, 3) and len(batches["x"].sharding.device_set) == 8
        for i in range(4):
            expected = source.sample_epochs(arrays, key, jnp.int32(4 * call + i), 8)
            got = source.sample_streamed(batches, key, jnp.int32(4 * call + i), 8)
            assert got.keys() == expected.keys()
            for k in expected:
                np.testing.assert_array_equal(np.asarray(got[k]), np.asarray(expected[k]))


def test_pipeline_auto_streams_what_exceeds_the_device_budget():
    kept = data.load(data_cfg(pipeline="auto", device_budget_mb=1))  # digits: 1,797 x 8 x 8 bytes
    streamed = data.load(data_cfg(pipeline="auto", device_budget_mb=0))
    assert not kept.streamed and streamed.streamed and streamed.num_examples == kept.num_examples == 1797
    with pytest.raises(
        DataError, match="pipeline='stream' streams image sets; 'ring' is built on the device"
    ):
        data.load(data_cfg(name="ring", pipeline="stream"))


def test_tfds_unavailable_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="(?s)could not provide .mnist.*Offline"):
        data.load(data_cfg(name="tfds:mnist", data_dir=str(tmp_path), download=False))


def test_unknown_source():
    with pytest.raises(ValueError, match="Unknown config.data.name 'rings'"):
        data.load(data_cfg(name="rings"))


def test_square_resize_crops_the_centre():
    tall = np.zeros((1, 6, 4, 1), np.uint8)
    tall[0, 1:5] = 200  # the centred 4x4 square
    np.testing.assert_array_equal(images.square_resize(tall, 0)[0, ..., 0], np.full((4, 4), 200))


def test_stacked_mnist_stacks_three_independent_digits(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.arange(50, dtype=np.uint8) % 10
    pics = (labels[:, None, None] * 20 + rng.integers(0, 5, (50, 8, 8))).astype(np.uint8)
    write_idx(tmp_path / "train-images-idx3-ubyte", pics, False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels, False)
    source = data.load(data_cfg(name=f"stacked:idx:{tmp_path}"))
    assert source.shape == (8, 8, 3) and source.num_classes == 1000
    batch = source.sample(device_arrays(source), jax.random.PRNGKey(0), jnp.int32(2), 40)
    x, label = np.asarray(batch["x"]), np.asarray(batch["label"])
    # Each channel's picture encodes its digit (value // 20), and the label spells the triple.
    digits = np.round((x[:, 0, 0, :] + 1) * 127.5).astype(int) // 20
    np.testing.assert_array_equal(label, digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2])
    assert not np.array_equal(digits[:, 0], digits[:, 1])  # channels drawn independently
    with pytest.raises(ValueError, match="single-channel"):
        data.load(data_cfg(name="stacked:ring"))


def test_a_fixed_mixture_training_set():
    """data.train_size > 0: that many points drawn once from data.seed (the same set every time,
    another with another seed), each batch drawn from them with replacement; the evaluation's
    real samples are fresh draws from the mixture instead (never trained on)."""
    cfg = data_cfg(name="grid", train_size=1_000, seed=3, eval_split="")
    source = data.load(cfg)
    points = source.arrays["x"]
    assert points.shape == (1_000, 2) and points.dtype == np.float32
    means = mixtures.grid_means()[source.arrays["label"]]
    assert np.abs(points - means).max() < 0.05 * 6  # each point near its own mode
    np.testing.assert_array_equal(data.load(cfg).arrays["x"], points)
    assert not np.array_equal(data.load(data_cfg(name="grid", train_size=1_000, seed=4)).arrays["x"], points)
    batch = jax.jit(source.sample, static_argnums=3)(device_arrays(source), jax.random.PRNGKey(0), 7, 4_000)
    rows = {tuple(p) for p in points.tolist()}
    assert all(tuple(p) in rows for p in np.asarray(batch["x"]).tolist())
    assert len({tuple(p) for p in np.asarray(batch["x"]).tolist()}) < 1_000  # with replacement
    heldout = data.load_heldout(cfg)
    assert heldout.arrays == {} and heldout.name == "grid"


@pytest.mark.parametrize("n", [1, 2, 3, 5, 64, 1_000, 100_003])
def test_walk_order_is_a_permutation_of_range_n(n):
    order = jax.jit(source.walk_order, static_argnums=2)(jax.random.PRNGKey(n), jnp.arange(n), n)
    np.testing.assert_array_equal(np.sort(np.asarray(order)), np.arange(n))


def test_walk_order_moves_with_its_key_as_a_uniform_shuffle_would():
    """Over 4,000 keys, where position 0 of a walk through 1,000 lands is uniform (chi-square over
    10 bins) and unrelated to where position 1 lands."""
    from scipy import stats

    keys = jax.random.split(jax.random.PRNGKey(5), 4_000)
    first = np.asarray(jax.vmap(lambda k: source.walk_order(k, jnp.arange(2), 1_000))(keys))
    assert stats.chisquare(np.bincount(first[:, 0] // 100, minlength=10)).pvalue > 1e-3
    assert abs(np.corrcoef(first[:, 0], first[:, 1])[0, 1]) < 0.06 and np.all(first[:, 0] != first[:, 1])


def test_fixed_packs_are_bootstrap_tuples_walked_once_an_epoch_in_a_new_order():
    """data.fixed_packs (PacGAN's code): the set's packs formed once from data.seed -- slot k of
    every pack from its own bootstrap resample -- and each epoch's batches visit every pack once,
    its points consecutive, in an order of the epoch's own; without a fixed set it is an error."""
    cfg = data_cfg(name="grid", train_size=1_000, seed=3, fixed_packs=True)
    fixed = data.load(cfg, pack=3)
    packs = fixed.arrays["packs"]
    assert packs.shape == (1_000, 3) and packs.dtype == np.int32 and 0 <= packs.min() < packs.max() < 1_000
    distinct = [len(np.unique(slot)) for slot in packs.T]  # a bootstrap keeps ~63.2% of the points
    assert all(580 < d < 690 for d in distinct) and len(set(map(tuple, packs.T.tolist()))) == 3
    np.testing.assert_array_equal(data.load(cfg, pack=3).arrays["packs"], packs)
    other = data.load(data_cfg(name="grid", train_size=1_000, seed=4, fixed_packs=True), pack=3)
    assert not np.array_equal(other.arrays["packs"], packs)
    draw = jax.jit(lambda n: fixed.sample(device_arrays(fixed), jax.random.PRNGKey(0), n, 120)["x"])
    where = {tuple(p): i for i, p in enumerate(fixed.arrays["x"].tolist())}
    row = {tuple(p): r for r, p in enumerate(packs.tolist())}

    def epoch(e):  # the pack rows of epoch e's 25 batches of 40 packs, in visiting order
        visits = []
        for n in range(25 * e, 25 * e + 25):
            points = np.asarray(draw(jnp.int32(n))).reshape(40, 3, 2)
            visits += [row[tuple(where[tuple(p)] for p in pack.tolist())] for pack in points]
        return visits

    first, second = epoch(0), epoch(1)
    assert sorted(first) == sorted(second) == list(range(1_000))
    assert first[:40] != second[:40]
    with pytest.raises(DataError, match="fixed_packs forms D's packs once from a fixed training set"):
        data.load(data_cfg(name="grid", fixed_packs=True), pack=2)


@pytest.mark.parametrize("train_size", [0, 2_000])
def test_training_on_the_first_modes_only_keeps_every_mode_for_evaluation(train_size):
    """data.train_modes = k: fresh draws and a fixed set alike come from modes 0..k-1 only, while
    the source's mixture (what the mode metrics count against) keeps all 8."""
    source = data.load(data_cfg(name="ring", train_modes=3, train_size=train_size))
    batch = source.sample(device_arrays(source), jax.random.PRNGKey(0), jnp.int32(2), 6_000)
    labels = np.asarray(batch["label"])
    assert set(labels.tolist()) == {0, 1, 2}
    np.testing.assert_allclose(np.asarray(batch["x"]), source.mixture.means[labels], atol=0.01 * 6)
    assert len(source.mixture.means) == 8 and source.num_classes == 8
    with pytest.raises(DataError, match="train_modes=9 for 'ring', which has 8 modes"):
        data.load(data_cfg(name="ring", train_modes=9))


def test_a_run_can_lose_modes_it_had_by_a_schedule_of_the_data():
    """data.train_modes_from = B: batches before number B come from all 8 modes, from B on from
    the first train_modes only -- inside the compiled step (the batch number is traced)."""
    source = data.load(data_cfg(name="ring", train_modes=5, train_modes_from=100))
    draw = jax.jit(lambda n: source.sample({}, jax.random.PRNGKey(0), n, 4_000)["label"])
    assert set(np.asarray(draw(jnp.int32(99))).tolist()) == set(range(8))
    assert set(np.asarray(draw(jnp.int32(100))).tolist()) == set(range(5))
    for bad in (
        dict(train_modes=0),
        dict(train_modes=5, train_size=2_000),
        dict(train_modes=5, train_modes_from=-1),
    ):
        with pytest.raises(DataError, match="train_modes_from=.* needs train_modes > 0 and no fixed"):
            data.load(data_cfg(name="ring", **{"train_modes_from": 100, **bad}))


def test_streaming_refuses_extra_real_batches_and_populations(tmp_path):
    """What the stream does not feed is an error before anything trains: the real batches of
    feature matching (and of the unrolled GAN and the semi-supervised D), and a population."""
    from helpers import load_config

    from gan_jax import experiment, trainer
    from gan_jax.errors import ConfigError

    config = load_config("configs/dcgan.py:smoke")
    config.data.pipeline, config.loss.g = "stream", "feature_matching"
    with pytest.raises(ConfigError, match="feeds D's batches only"):
        experiment.build(config, jax.devices()[:1])
    config.loss.g = "non_saturating"
    with pytest.raises(ConfigError, match="its seeds cannot stream theirs"):
        trainer.train_population(
            [config, config], [str(tmp_path / "a"), str(tmp_path / "b")], jax.devices()[:1]
        )
    assert not (tmp_path / "a").exists()
