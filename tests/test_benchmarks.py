"""The accelerator benchmark runs (on this CPU, in its smoke mode) and reports what it measures."""

from types import SimpleNamespace

import pytest

from benchmarks import accelerator


@pytest.mark.slow
def test_the_accelerator_benchmark_reports_throughput_and_flops():
    (dcgan,) = accelerator.main(["--smoke", "--only=b8 float32 custom_vjp"])  # one row: seconds
    assert dcgan["name"] == "dcgan 32x32x3 b8 float32 custom_vjp"
    assert dcgan["steps_per_s"] > 0 and dcgan["throughput"] == 8 * dcgan["steps_per_s"]
    assert dcgan["flops"] > 1e6 and dcgan["mfu"] is None  # XLA counted; no peak known for a CPU


def test_peak_flops_by_device_kind():
    h200 = SimpleNamespace(device_kind="NVIDIA H200")
    assert (
        accelerator.peak_flops(h200, "bfloat16") == 989e12
        and accelerator.peak_flops(h200, "float32") == 494e12
    )
    assert accelerator.peak_flops(SimpleNamespace(device_kind="cpu"), "float32") is None
