r"""Train the project's digit classifier (feature network and mode counter of the metrics).

    python -m experiments.train_classifier --data=digits --image_size=16 --out=classifiers/digits16
    python -m experiments.train_classifier --data=idx:../shared/data/mnist --split=test \
        --image_size=32 --out=classifiers/mnist32

Split rule: the examples of --split are taken in file order; the first (1 - holdout) of them train
the classifier and the last `holdout` fraction is the held-out test set whose accuracy is recorded.
(For the shared MNIST test split: 8,000 to train, 2,000 to test.) Deterministic for a given seed.
"""

import pathlib
import time

import ml_collections
from absl import flags

from experiments import cli
from gan_jax import classifier, data

_DATA = flags.DEFINE_string("data", "digits", "Data source name (digits, idx:<dir>, tfds:<name>).")
_SPLIT = flags.DEFINE_string("split", "train", "Split of the data source to use.")
_SIZE = flags.DEFINE_integer("image_size", 16, "Image size the GANs to be evaluated produce.")
_HOLDOUT = flags.DEFINE_float("holdout", 0.2, "Fraction held out (from the end) for testing.")
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
    n_train = int(round(len(images) * (1 - _HOLDOUT.value)))
    start = time.perf_counter()
    params = classifier.train(
        images[:n_train], labels[:n_train], source.num_classes, _EPOCHS.value, _SEED.value
    )
    name = f"CNN-{pathlib.Path(_OUT.value).name}"
    info = {
        "name": name,
        "data": source.name,
        "image_size": _SIZE.value,
        "channels": images.shape[-1],
        "num_classes": source.num_classes,
        "epochs": _EPOCHS.value,
        "seed": _SEED.value,
        "split": f"{_SPLIT.value}: examples [0, {n_train}) train, [{n_train}, {len(images)}) test",
        "num_train": n_train,
        "num_test": len(images) - n_train,
    }
    test_x = images[n_train:].astype("float32") / 127.5 - 1.0
    accuracy = classifier.feature_net(params, info).accuracy(test_x, labels[n_train:])
    directory = pathlib.Path(_OUT.value)
    info = classifier.save(directory, params, {**info, "test_accuracy": accuracy})
    print(
        f"{name}: test accuracy {100 * accuracy:.2f}% on {len(images) - n_train} held-out "
        f"images; trained in {time.perf_counter() - start:.0f}s; saved to {directory} "
        f"(sha256 {info['sha256'][:12]}...)."
    )


def cli_main() -> None:
    cli.run(main)


if __name__ == "__main__":
    cli_main()
