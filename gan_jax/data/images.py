"""Image data sets held in memory as uint8 NHWC, then on the device.

Sources (config.data.name):
  `digits`       scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes):
                 ships with the package, so it works offline.
  `idx:<dir>`    MNIST-format IDX files in <dir>: {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]
                 (config.data.split 'train' or 'test' picks the prefix).
Splits take tfds's slicing syntax everywhere: 'test[:8000]', 'train[1438:]' (example counts).
  `tfds:<name>`  any tensorflow-datasets image set with an 'image' feature (mnist, fashion_mnist,
                 cifar10, celeb_a, ...), read through `tfds.data_source`, which needs no TensorFlow.
Every image is centre-cropped to a square and resized to config.data.image_size (0: native size).

Each set is first an `Examples`: random access to its examples as training sees them. The device
pipeline reads them all into memory and onto the device; the streaming one (data/stream.py) reads
each batch as training needs it -- a tfds set from its ArrayRecord files, never whole.
"""

import dataclasses
import gzip
import importlib.util
import re
import zlib
from collections.abc import Callable

import jax
import numpy as np
from etils import epath

import gan_jax
from gan_jax.data.source import DataSource, sample_epochs, sample_streamed
from gan_jax.errors import DataError, MissingFileError

_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.int16, 0x0C: np.int32, 0x0D: np.float32}
_IDX_PREFIX = {"train": "train", "test": "t10k"}
_READ_CHUNK = 1024


def square_resize(images: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop (N, H, W, C) uint8 images to squares and resize them (antialiased) to size.
    Always on the host's CPU, so both pipelines (and every machine) resize alike."""
    h, w = images.shape[1:3]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    images = images[:, top : top + side, left : left + side]
    if size in (0, side):
        return images
    with jax.default_device(jax.local_devices(backend="cpu")[0]):
        resized = jax.image.resize(
            images.astype(np.float32), (len(images), size, size, images.shape[3]), "bilinear"
        )
    return np.asarray(np.clip(np.round(resized), 0, 255), dtype=np.uint8)


@dataclasses.dataclass(frozen=True)
class Examples:
    """Random access to an image set as training sees it: `read(indices)` -> {'x': uint8 (k, H, W,
    C), 'label': int32 (k,) where labelled}, for any indices, from any thread."""

    name: str
    size: int
    shape: tuple[int, ...]  # one example's (H, W, C)
    read: Callable[[np.ndarray], dict[str, np.ndarray]]
    num_classes: int | None

    @property
    def nbytes(self) -> int:
        return self.size * int(np.prod(self.shape))


def in_memory(name: str, images: np.ndarray, labels: np.ndarray | None, num_classes: int | None) -> Examples:
    arrays = {"x": images} if labels is None else {"x": images, "label": labels.astype(np.int32)}
    read = lambda idx: {k: v[idx] for k, v in arrays.items()}  # noqa: E731
    return Examples(name, len(images), tuple(images.shape[1:]), read, num_classes)


def image_source(examples: Examples, streamed: bool = False) -> DataSource:
    """The source of `examples`: read whole into `arrays` (the device pipeline), or `streamed`."""
    common = dict(name=examples.name, kind="images", shape=examples.shape, num_classes=examples.num_classes)
    if streamed:
        return DataSource(arrays={}, sample=sample_streamed, examples=examples, **common)
    chunks = [
        examples.read(np.arange(i, min(i + _READ_CHUNK, examples.size)))
        for i in range(0, examples.size, _READ_CHUNK)
    ]
    arrays = {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}
    return DataSource(arrays=arrays, sample=sample_epochs, **common)


def parse_split(split: str) -> tuple[str, slice]:
    """'test[8000:]' -> ('test', slice(8000, None)): tfds's slicing syntax, in example counts."""
    match = re.fullmatch(r"(\w+)(?:\[(-?\d*):(-?\d*)\])?", split)
    if not match:
        raise DataError(
            f"config.data.split={split!r}: use a name, optionally sliced: 'train', 'test[:8000]'."
        )
    name, start, stop = match.groups()
    return name, slice(int(start) if start else None, int(stop) if stop else None)


def check_disjoint(split: str, heldout: str) -> None:
    """DataError unless the two splits share no example: different named splits ('train' vs
    'test'), or non-overlapping slices of one ('train[:1438]' vs 'train[1438:]')."""
    (name, part), (other, other_part) = parse_split(split), parse_split(heldout)
    if name != other:
        return
    bounds = [(p.start or 0, p.stop) for p in (part, other_part)]
    if any(b < 0 for bound in bounds for b in bound if b is not None):
        raise DataError(
            f"config.data.split={split!r} and eval_split={heldout!r} slice one split with negative "
            "bounds; use non-negative ones, so that their overlap can be checked."
        )
    (start, stop), (other_start, other_stop) = bounds
    if (stop is None or other_start < stop) and (other_stop is None or start < other_stop):
        raise DataError(
            f"config.data.eval_split={heldout!r} overlaps config.data.split={split!r}: the held-out "
            "examples must never be trained on (e.g. split='train[:1438]', eval_split='train[1438:]')."
        )


def bundled_digits() -> tuple[np.ndarray, np.ndarray]:
    """(images (1797, 8, 8) valued 0-16 as float64, labels): the file scikit-learn ships, read as
    `sklearn.datasets.load_digits` reads it, without importing scikit-learn (~1 s of every
    command's start-up; tests/test_data.py checks the two agree)."""
    package = importlib.util.find_spec("sklearn").submodule_search_locations[0]
    data = np.loadtxt(epath.Path(package, "datasets", "data", "digits.csv.gz"), delimiter=",")
    return data[:, :-1].reshape(-1, 8, 8), data[:, -1].astype(int)


def load_digits(image_size: int, split: str = "train") -> Examples:
    name, part = parse_split(split)
    if name != "train":
        raise DataError(f"digits has one split, 'train' (slice it: 'train[:1438]'); got {split!r}.")
    digits, labels = bundled_digits()
    images = np.round(digits * (255.0 / 16.0)).astype(np.uint8)[..., None]
    return in_memory("digits", square_resize(images[part], image_size), labels[part], 10)


def read_idx(path: epath.Path) -> np.ndarray:
    """Reads one IDX file (optionally gzipped): magic 0x0000 <dtype> <ndim>, big-endian dims, then
    exactly the values the dims say. Anything else is a DataError naming the file."""
    try:
        raw = path.read_bytes()
        raw = gzip.decompress(raw) if path.suffix == ".gz" else raw
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise DataError(f"{path} is damaged ({type(error).__name__}: {error}); download it again.") from error
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise DataError(f"{path} is not an IDX file (bad magic number {raw[:4].hex() or 'none: empty'}).")
    ndim, header = raw[3], 4 + 4 * raw[3]
    if len(raw) < header:
        raise DataError(
            f"{path} is cut short inside its header ({len(raw)} of {header} bytes); download it again."
        )
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_IDX_DTYPES[raw[2]]).newbyteorder(">")
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header != expected:
        state = "truncated" if len(raw) - header < expected else "damaged"
        raise DataError(
            f"{path} is {state}: its header says {dims} values of {dtype.name} ({expected:,} bytes), "
            f"it holds {len(raw) - header:,} bytes; download it again."
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def _find_idx(directory: epath.Path, stem: str) -> epath.Path:
    candidates = [directory / stem, directory / f"{stem}.gz"]
    for path in candidates:
        if path.exists():
            return path
    if directory.is_dir():
        found = f"the directory holds {sorted(p.name for p in directory.iterdir())}"
    else:
        found = "the directory does not exist"
    raise MissingFileError(
        f"No IDX file {stem}[.gz] in {directory} (looked for {[str(p) for p in candidates]}; "
        f"{found}). "
        "MNIST's files are at http://yann.lecun.com/exdb/mnist/ ; this project's machines keep "
        "the test split in ../shared/data/mnist (use config.data.split='test')."
    )


def load_idx(directory: str, split: str, image_size: int) -> Examples:
    name, part = parse_split(split)
    if name not in _IDX_PREFIX:
        raise DataError(f"config.data.split={split!r}: IDX data sets have {sorted(_IDX_PREFIX)}.")
    root = gan_jax.in_repo(directory)
    prefix = _IDX_PREFIX[name]
    images = read_idx(_find_idx(root, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(_find_idx(root, f"{prefix}-labels-idx1-ubyte"))
    if images.ndim != 3 or labels.shape != images.shape[:1]:
        raise DataError(f"IDX images {images.shape} and labels {labels.shape} in {root} do not match.")
    if images.dtype != np.uint8:  # floats were cast to bytes (all ~0) and trained on silently
        raise DataError(
            f"The IDX images in {root} are {images.dtype}; gan_jax reads pixels as unsigned bytes "
            "(0-255), as MNIST's files hold them. Convert them to uint8 (IDX type 0x08)."
        )
    if labels.dtype.kind not in "iu" or (labels.size and labels.min() < 0):
        raise DataError(
            f"The IDX labels in {root} must be integers >= 0 (class indices); they are {labels.dtype} "
            f"from {labels.min() if labels.size else 'none'}."
        )
    num_classes = int(labels.max()) + 1
    images, labels = images[part], labels[part]
    if not len(images):
        raise DataError(f"config.data.split={split!r} selects no examples of {root}.")
    images = square_resize(images[..., None], image_size)
    return in_memory(f"idx:{directory}", images, labels, num_classes)


def load_tfds(name: str, split: str, image_size: int, data_dir: str | None, download: bool) -> Examples:
    import tensorflow_datasets as tfds

    try:
        ds = tfds.data_source(name, split=split, data_dir=data_dir, download=download)
    except Exception as error:  # tfds raises many types; all mean "not available here"
        raise DataError(
            f"tensorflow-datasets could not provide {name!r} split {split!r} "
            f"(data_dir={data_dir or 'the tfds default, ~/tensorflow_datasets'}, "
            f"download={download}): {type(error).__name__}: {error}. Offline, prepare it on a "
            "machine with network and copy the data_dir here, or train on data.name='digits' "
            "or 'idx:<dir>' (MNIST-format files)."
        ) from error
    if len(ds) == 0:
        raise DataError(f"tfds {name!r} split {split!r} is empty.")
    labelled = "label" in ds[0]

    def read(indices: np.ndarray) -> dict[str, np.ndarray]:
        examples = [ds[int(i)] for i in indices]  # one at a time: mock data sources cannot batch
        batch = {
            "x": square_resize(np.stack([np.asarray(ex["image"], np.uint8) for ex in examples]), image_size)
        }
        if labelled:
            batch["label"] = np.array([ex["label"] for ex in examples], np.int32)
        return batch

    num_classes = None
    if labelled:
        num_classes = getattr(ds.dataset_info.features["label"], "num_classes", None)
        num_classes = num_classes or int(max(ds[i]["label"] for i in range(len(ds)))) + 1  # labels only
    return Examples(f"tfds:{name}", len(ds), read(np.arange(1))["x"].shape[1:], read, num_classes)
