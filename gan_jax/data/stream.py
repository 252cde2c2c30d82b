"""Streaming: each compiled call's batches read on the host while the device trains the previous call.

For image sets that do not fit on the device (config.data.pipeline). The examples come in exactly
the order the device pipeline draws them (`source.epoch_order` of the run's data key, the N mod
batch left-overs skipped), so a streamed run trains on the same batches as a device-resident one:
the position in the stream is the step, which every checkpoint holds, and a resumed run (kill -9
included) reads on from there -- there is no iterator state to lose.

Call c holds draws c*D .. c*D + D - 1 (D = steps_per_call * d_steps): an array (D, batch, ...)
sharded along the batch axis. Each process reads only the rows its devices hold, and
`jax.make_array_from_process_local_data` assembles the global array. grain reads `threads` calls
at once, on as many host threads, ahead of the device.
"""

import functools
import threading
from collections.abc import Iterator

import jax
import numpy as np
from jax.sharding import NamedSharding

from gan_jax.data.images import Examples
from gan_jax.data.source import check_batch_fits, epoch_order


def _process_rows(sharding: NamedSharding, shape: tuple[int, ...]) -> slice:
    """The batch rows (axis 1) that this process's devices hold: one contiguous block."""
    rows = [index[1] for index in sharding.addressable_devices_indices_map(shape).values()]
    start = min(r.start or 0 for r in rows)
    stop = max(shape[1] if r.stop is None else r.stop for r in rows)
    return slice(start, stop)


class Feed:
    """Iterator over the global batch arrays of the compiled calls in `calls`."""

    def __init__(
        self,
        examples: Examples,
        data_key: np.ndarray,
        batch_size: int,
        draws_per_call: int,
        sharding: NamedSharding,
        calls: range,
        threads: int,
    ):
        check_batch_fits(batch_size, examples.size)
        self.examples, self.batch_size, self.draws_per_call = examples, batch_size, draws_per_call
        self.sharding = sharding
        self.shape = (draws_per_call, batch_size, *examples.shape)
        self.rows = _process_rows(sharding, self.shape)
        cpu = jax.local_devices(backend="cpu")[0]
        self._key = jax.device_put(np.asarray(data_key), cpu)
        self._order = functools.lru_cache(maxsize=2)(self._epoch_order)
        self._lock = threading.Lock()  # one thread computes an epoch's order, the others wait
        import grain  # ~1.2 s to import: only streamed runs pay it

        dataset = grain.MapDataset.range(calls.start, calls.stop).map(self.read_call)
        options = grain.ReadOptions(num_threads=threads, prefetch_buffer_size=threads)
        self._calls = iter(dataset.to_iter_dataset(options))

    def _epoch_order(self, epoch: int) -> np.ndarray:
        with jax.default_device(self._key.device):
            return np.asarray(epoch_order(self._key, epoch, self.examples.size))

    def indices(self, draw: int) -> np.ndarray:
        """The examples of batch `draw` (all rows), as `source.sample_epochs` draws them."""
        epoch, position = divmod(draw, self.examples.size // self.batch_size)
        with self._lock:
            order = self._order(epoch)
        return order[position * self.batch_size : (position + 1) * self.batch_size]

    def read_call(self, call: int) -> dict[str, np.ndarray]:
        """This process's rows of every batch of call `call`: {'x': (D, rows, H, W, C) uint8, ...}."""
        draws = range(call * self.draws_per_call, (call + 1) * self.draws_per_call)
        indices = np.concatenate([self.indices(d)[self.rows] for d in draws])
        batch = self.examples.read(indices)
        return {k: v.reshape(self.draws_per_call, -1, *v.shape[1:]) for k, v in batch.items()}

    def __iter__(self) -> Iterator[dict[str, jax.Array]]:
        return self

    def __next__(self) -> dict[str, jax.Array]:
        local = next(self._calls)
        with jax.transfer_guard_host_to_device("allow"):  # the one transfer the training loop expects
            return {
                k: jax.make_array_from_process_local_data(self.sharding, v, (*self.shape[:2], *v.shape[2:]))
                for k, v in local.items()
            }
