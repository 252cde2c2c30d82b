"""The accelerator benchmark runs (on this CPU, in its smoke mode) and reports what it measures."""

import json
from types import SimpleNamespace

import pytest

from benchmarks import accelerator


@pytest.mark.slow
def test_the_accelerator_benchmark_reports_throughput_flops_and_the_ratio_to_pytorch(capsys, tmp_path):
    rows = accelerator.main(["--smoke", "--groups=dcgan32", f"--json={tmp_path}"])  # 8 images, width 4
    assert json.loads((tmp_path / "dcgan32.json").read_text())["rows"] == rows
    ours = rows[0]
    assert ours["name"] == "dcgan 32px b8: ours, float32"
    assert ours["steps_per_s"] > 0 and ours["throughput"] == 8 * ours["steps_per_s"]
    assert ours["flops"] > 1e6 and ours["mfu"] is None  # XLA counted; no peak known for a CPU
    torch_rows = [r for r in rows if "PyTorch" in r["name"]]
    if accelerator.torch_variants(on_gpu=False):  # PyTorch installed (the bench extra): eager on a CPU
        (eager,) = torch_rows
        assert eager["flops"] == ours["flops"] and eager["steps_per_s"] > 0  # our count, shared
        assert "dcgan 32px b8, float32: ours" in capsys.readouterr().out
    else:
        assert not torch_rows


def test_the_ratio_is_our_best_over_pytorchs_best_per_setting_and_dtype():
    def row(name, rate, dtype="float32"):
        return {"name": name, "steps_per_s": rate, "dtype": dtype}

    results = [
        row("dcgan 64px b128: ours, float32", 300.0),
        row("dcgan 64px b128: ours, bfloat16", 500.0, "bfloat16"),
        row("dcgan 64px b128: PyTorch eager", 100.0),
        row("dcgan 64px b128: PyTorch CUDA graph", 200.0),
        row("dcgan 64px b128: PyTorch AMP bf16", 250.0, "bfloat16"),
        {"name": "dcgan 64px b128: PyTorch torch.compile", "error": "no compiler"},
        row("dcgan 64px b128, reuse_fake: PyTorch eager", 120.0),  # no row of ours: no ratio
    ]
    assert accelerator.ratio_lines(results) == [
        "dcgan 64px b128, float32: ours 300.0 / PyTorch's best (CUDA graph) 200.0 = 1.50x",
        "dcgan 64px b128, bfloat16: ours 500.0 / PyTorch's best (AMP bf16) 250.0 = 2.00x",
    ]


def test_peak_flops_by_device_kind():
    h200 = SimpleNamespace(device_kind="NVIDIA H200")
    assert (
        accelerator.peak_flops(h200, "bfloat16") == 989e12
        and accelerator.peak_flops(h200, "float32") == 494e12
    )
    assert accelerator.peak_flops(SimpleNamespace(device_kind="cpu"), "float32") is None


def test_each_cpu_row_is_compared_with_pytorch_in_the_same_order_and_process_arrangement():
    from benchmarks import train_step

    torch = "dcgan 32x32x1 b64, PyTorch 2.13.0 eager"
    medians = {
        "dcgan 32x32x1 b64, custom_vjp, 1 step/call (own process)": 6.0,
        "dcgan 32x32x1 b64, custom_vjp, 10 steps/call, reuse_fake (in one process)": 9.0,
        torch + " (in one process)": 4.0,
        torch + " (own process)": 5.0,
        torch + ", reuse_fake (in one process)": 6.0,
        torch + ", reuse_fake (own process)": 7.0,
    }
    assert train_step.torch_ratios(medians) == [
        f"ratio to PyTorch eager, dcgan 32x32x1 b64, custom_vjp, 1 step/call (own process): 1.20x "
        f"({torch} (own process))",
        f"ratio to PyTorch eager, dcgan 32x32x1 b64, custom_vjp, 10 steps/call, reuse_fake (in one process): "
        f"1.50x ({torch}, reuse_fake (in one process))",
    ]
