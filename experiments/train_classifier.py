r"""Train the project's digit classifier (feature network and mode counter of the metrics).

    python -m experiments.train_classifier --data=digits --image_size=16 --out=classifiers/digits16
    python -m experiments.train_classifier --data=idx:../shared/data/mnist --split=test \
        --image_size=32 --out=classifiers/mnist32
    python -m experiments.train_classifier --data=idx:../shared/data/fashion_mnist --split=train \
        --test_split=test --image_size=32 --epochs=5 --out=classifiers/fashion32

Split rule: the examples of --split are taken in file order; the first (1 - holdout) of them train
the classifier and the last `holdout` fraction is the held-out test set whose accuracy is recorded.
(For the shared MNIST test split: 8,000 to train, 2,000 to test.) With --test_split the classifier
trains on all of --split and is tested on that split instead. Deterministic for a given seed.
"""

import time

import ml_collections
from absl import flags
from etils import epath

from experiments import cli
from gan_jax import classifier, data

_DATA = flags.DEFINE_string("data", "digits", "Data source name (digits, idx:<dir>, tfds:<name>).")
_SPLIT = flags.DEFINE_string("split", "train", "Split of the data source to use.")
_SIZE = flags.DEFINE_integer("image_size", 16, "Image size the GANs to be evaluated produce.")
_HOLDOUT = flags.DEFINE_float("holdout", 0.2, "Fraction held out (from the end) for testing.")
_TEST_SPLIT = flags.DEFINE_string("test_split", "", "A separate test split (then --holdout is unused).")
_EPOCHS = flags.DEFINE_integer("epochs", 15, "Training epochs.")
_SEED = flags.DEFINE_integer("seed", 0, "Initialisation and shuffling seed.")
_OUT = flags.DEFINE_string("out", None, "Directory to write the classifier to.")
flags.mark_flag_as_required("out")


def main(argv):
    del argv
    cfg = ml_collections.ConfigDict(
        dict(name=_DATA.value, split=_SPLIT.value, image_size=_SIZE.value, data_dir="", download=True)
    )
    source = data.load(cfg)
    images, labels = source.arrays["x"], source.arrays["label"]
    if _TEST_SPLIT.value:  # a split of its own: train on all of --split
        test = data.load(ml_collections.ConfigDict({**cfg.to_dict(), "split": _TEST_SPLIT.value}))
        test_images, test_labels, n_train = test.arrays["x"], test.arrays["label"], len(images)
        split = f"{_SPLIT.value} ({n_train} examples) train, {_TEST_SPLIT.value} ({len(test_images)}) test"
    else:
        n_train = int(round(len(images) * (1 - _HOLDOUT.value)))
        test_images, test_labels = images[n_train:], labels[n_train:]
        split = f"{_SPLIT.value}: examples [0, {n_train}) train, [{n_train}, {len(images)}) test"
    start = time.perf_counter()
    params = classifier.train(
        images[:n_train], labels[:n_train], source.num_classes, _EPOCHS.value, _SEED.value
    )
    name = f"CNN-{epath.Path(_OUT.value).name}"
    info = {
        "name": name,
        "data": source.name,
        "image_size": _SIZE.value,
        "channels": images.shape[-1],
        "num_classes": source.num_classes,
        "epochs": _EPOCHS.value,
        "seed": _SEED.value,
        "split": split,
        "num_train": n_train,
        "num_test": len(test_images),
    }
    accuracy = classifier.feature_net(params, info).accuracy(test_images / 127.5 - 1.0, test_labels)
    directory = epath.Path(_OUT.value)
    info = classifier.save(directory, params, {**info, "test_accuracy": accuracy})
    print(
        f"{name}: test accuracy {100 * accuracy:.2f}% on {len(test_images)} held-out "
        f"images; trained in {time.perf_counter() - start:.0f}s; saved to {directory} "
        f"(sha256 {info['sha256'][:12]}...)."
    )


def cli_main() -> None:
    cli.run(main)


if __name__ == "__main__":
    cli_main()
