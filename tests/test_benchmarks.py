"""The accelerator benchmark runs (on this CPU, in its smoke mode) and reports what it measures."""

import importlib.util
import json
import os
import subprocess
import sys
from types import SimpleNamespace

import pytest
from helpers import REPO

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


@pytest.mark.slow
def test_the_device_script_times_populations_again_under_command_buffers(tmp_path):
    """device/benchmark.sh's `population_dtype@cmdbuf` (here on the CPU, in smoke): the group's
    rows in cmdbuf/, measured by a process whose XLA_FLAGS hold the command-buffer types, loops
    included; a population's throughput is its members' steps (members x steps/s), its FLOPs the
    members' sum, and the bfloat16 row's step does its matmuls in bfloat16 (its HLO)."""
    from gan_jax import experiment

    env = {**os.environ, "OUT": str(tmp_path), "ACCEL_ARGS": "--smoke --rounds=1", "BUDGET": "250"}
    subprocess.run(
        ["bash", "device/benchmark.sh", "population_dtype@cmdbuf:200"],
        cwd=REPO,
        env=env,
        timeout=300,
        check=True,
    )
    saved = json.loads((tmp_path / "cmdbuf" / "population_dtype.json").read_text())
    assert "--xla_gpu_enable_command_buffer=" in saved["machine"]["xla_flags"]
    assert ",WHILE," in saved["machine"]["xla_flags"] and not (tmp_path / "population_dtype.json").exists()
    rows = {r["name"]: r for r in saved["rows"]}
    f32, bf16 = (rows[f"pacgan ring pack 2, population of 2, {d}"] for d in ("float32", "bfloat16"))
    for row in (f32, bf16):
        assert row["steps_per_s"] > 0 and row["throughput"] == 2 * row["steps_per_s"]
    assert f32["flops"] == pytest.approx(2 * accelerator.step_flops(accelerator.pacgan_ring(1, True)))
    assert (f32["dtype"], bf16["dtype"]) == ("float32", "bfloat16")
    for dtype, hlo_type in (("float32", "f32"), ("bfloat16", "bf16")):
        run = experiment.build(accelerator.pacgan_ring(1, True, dtype))
        state = run.initial_state()
        hlo = run.lower(state, next(run.feed(state, 0))).as_text()
        types = [line.rsplit(":", 1)[1] for line in hlo.splitlines() if "stablehlo.dot_general" in line]
        assert types and all(t.count(f"x{hlo_type}>") == 3 for t in types), types[:3]


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


def test_each_cpu_row_is_compared_with_pytorch_in_the_same_order_process_arrangement_and_allocator():
    from benchmarks import train_step

    torch = "dcgan 32x32x1 b64, PyTorch 2.13.0 eager"
    medians = {
        "dcgan 32x32x1 b64, custom_vjp, 1 step/call (own process)": 6.0,
        "dcgan 32x32x1 b64, custom_vjp, 10 steps/call, reuse_fake (in one process)": 9.0,
        torch + " (in one process)": 4.0,
        torch + " (own process)": 5.0,
        torch + ", reuse_fake (in one process)": 6.0,
        torch + ", reuse_fake (own process)": 7.0,
        # --host_allocator=both: each row's process with glibc's default, and with the policy
        "dcgan 32x32x1 b64, custom_vjp, 1 step/call (own process, glibc's default allocator)": 3.0,
        "dcgan 32x32x1 b64, custom_vjp, 1 step/call (own process, freed memory reused)": 8.0,
        torch + " (own process, glibc's default allocator)": 2.0,
        torch + " (own process, freed memory reused)": 10.0,
    }
    assert train_step.torch_ratios(medians) == [
        f"ratio to PyTorch eager, dcgan 32x32x1 b64, custom_vjp, 1 step/call (own process): 1.20x "
        f"({torch} (own process))",
        f"ratio to PyTorch eager, dcgan 32x32x1 b64, custom_vjp, 10 steps/call, reuse_fake (in one process): "
        f"1.50x ({torch}, reuse_fake (in one process))",
        "ratio to PyTorch eager, dcgan 32x32x1 b64, custom_vjp, 1 step/call (own process, glibc's default "
        f"allocator): 1.50x ({torch} (own process, glibc's default allocator))",
        "ratio to PyTorch eager, dcgan 32x32x1 b64, custom_vjp, 1 step/call (own process, freed memory "
        f"reused): 0.80x ({torch} (own process, freed memory reused))",
    ]


# A GPU's trace as JAX's profiler writes it: two streams whose kernels overlap, each kernel with
# the XLA op that launched it and its grid, and XLA's op line (not kernels: left out). Times in
# picoseconds from each line's start at 1,000 ns.
GPU_XSPACE = """
planes { id: 1 name: "/device:GPU:0"
  lines { id: 1 name: "Stream #13(Compute)" timestamp_ns: 1000
    events { metadata_id: 1 offset_ps: 0 duration_ps: 4000000
      stats { metadata_id: 1 str_value: "cudnn-conv.40" } stats { metadata_id: 2 str_value: "grid:1,1,1" } }
    events { metadata_id: 2 offset_ps: 6000000 duration_ps: 1000000
      stats { metadata_id: 1 str_value: "command_buffer_3" }
      stats { metadata_id: 2 str_value: "grid:4,2,1" } }
    events { metadata_id: 1 offset_ps: 8000000 duration_ps: 4000000
      stats { metadata_id: 1 str_value: "cudnn-conv.40" } stats { metadata_id: 2 str_value: "grid:1,1,1" } } }
  lines { id: 2 name: "Stream #14(MemcpyD2D)" timestamp_ns: 1000
    events { metadata_id: 3 offset_ps: 3000000 duration_ps: 2000000 } }
  lines { id: 3 name: "XLA Ops" timestamp_ns: 1000
    events { metadata_id: 2 offset_ps: 0 duration_ps: 90000000 } }
  event_metadata { key: 1 value { id: 1 name: "sm90_xmma_fprop_implicit_gemm_bf16" } }
  event_metadata { key: 2 value { id: 2 name: "loop_convert_fusion" } }
  event_metadata { key: 3 value { id: 3 name: "MemcpyD2D" } }
  stat_metadata { key: 1 value { id: 1 name: "hlo_op" } }
  stat_metadata { key: 2 value { id: 2 name: "kernel_details" } }
}
planes { id: 2 name: "/host:CPU" }
"""


def test_the_profile_summary_counts_the_device_streams_kernels_busy_time_and_kinds(tmp_path, capsys):
    import jax

    from benchmarks import profile_step

    trace = tmp_path / "gpu.xplane.pb"
    trace.write_bytes(jax.profiler.ProfileData.text_proto_to_serialized_xspace(GPU_XSPACE))
    kernels = profile_step.device_kernels(jax.profiler.ProfileData.from_file(str(trace)))
    assert sorted((k.op, k.start_ns, k.duration_ns, k.blocks) for k in kernels) == [
        ("MemcpyD2D", 4000.0, 2000.0, 0),  # no op, no grid: a copy
        ("command_buffer_3", 7000.0, 1000.0, 8),
        ("cudnn-conv.40", 1000.0, 4000.0, 1),
        ("cudnn-conv.40", 9000.0, 4000.0, 1),
    ]
    # busy: [1000, 6000) (a kernel and the copy overlapping) + [7000, 8000) + [9000, 13000) = 10 us
    s = profile_step.summary(kernels, steps=2, wall_ns=20000.0)
    assert (s["wall_us_per_step"], s["busy_us_per_step"], s["kernel_us_per_step"]) == (10.0, 5.0, 5.5)
    assert s["kernels_per_step"] == 2.0
    kinds = {"convolution/matmul": 8 / 11, "copy/memset": 2 / 11, "element-wise/other": 1 / 11}
    assert s["share_by_kind"] == kinds
    assert (s["share_in_one_block"], s["share_under_5us"]) == (8 / 11, 1.0)
    assert [(k["op"], k["kind"], k["calls_per_step"], k["share"]) for k in s["top"]] == [
        ("cudnn-conv.40", "convolution/matmul", 1.0, 8 / 11),
        ("MemcpyD2D", "copy/memset", 0.5, 2 / 11),
        ("command_buffer_3", "element-wise/other", 0.5, 1 / 11),
    ]
    # a kept trace read back: the wall is then the kernels' span, 1,000 to 13,000 ns
    (read,) = profile_step.main([f"--read={trace}:2"]).values()
    assert read == {**s, "wall_us_per_step": 6.0}
    assert "| cudnn-conv.40 | sm90_xmma_fprop_implicit_gemm_bf16 | convolution/matmul | 1 | 72.7% |" in (
        capsys.readouterr().out
    )
    with pytest.raises(SystemExit):
        profile_step.main([f"--read={trace}"])  # the steps it holds are needed


# XLA:CPU's compiled text, abridged: a YNNPACK fusion holding a convolution and one holding a
# reduction, an element-wise fusion, a plain convolution and a copy.
CPU_HLO = """HloModule jit_step, entry_computation_layout={(f32[8,4]{1,0})->f32[8]{0}}

%fused_computation.9 (param_0.9: f32[8,28,28,128], param_1.9: f32[28,28,128,3]) -> f32[8,3,3,3] {
  %param_0.9 = f32[8,28,28,128]{3,2,1,0} parameter(0)
  %param_1.9 = f32[28,28,128,3]{3,2,1,0} parameter(1)
  ROOT %conv.1 = f32[8,3,3,3]{3,2,1,0} convolution(%param_0.9, %param_1.9), window={size=28x28}
}

%fused_computation.20 (param_0.20: f32[128,8]) -> f32[8] {
  %param_0.20 = f32[128,8]{1,0} parameter(0)
  %multiply.3 = f32[128,8]{1,0} multiply(%param_0.20, %param_0.20)
  %constant.1 = f32[] constant(0)
  ROOT %reduce.2 = f32[8]{0} reduce(%multiply.3, %constant.1), dimensions={0}, to_apply=%add
}

%fused_computation.31 (param_0.31: f32[128,8]) -> f32[128,8] {
  %param_0.31 = f32[128,8]{1,0} parameter(0)
  ROOT %tanh.1 = f32[128,8]{1,0} tanh(%param_0.31)
}

ENTRY %main.5 (x.1: f32[128,8], w.1: f32[3,3,8,3]) -> (f32[8,3,3,3], f32[8]) {
  %x.1 = f32[128,8]{1,0} parameter(0)
  %ynn_fusion.9 = f32[8,3,3,3]{3,2,1,0} fusion(%x.1, %x.1), kind=kCustom, calls=%fused_computation.9
  %ynn_fusion.20 = f32[8]{0} fusion(%x.1), kind=kCustom, calls=%fused_computation.20
  %add_tanh_fusion = f32[128,8]{1,0} fusion(%x.1), kind=kLoop, calls=%fused_computation.31
  %conv_general_dilated.5 = f32[128,28,28,3]{3,2,1,0} convolution(%x.1, %x.1), window={size=3x3}
  %copy.7 = f32[128,8]{1,0} copy(%add_tanh_fusion)
  ROOT %tuple.1 = (f32[8,3,3,3]{3,2,1,0}, f32[8]{0}) tuple(%ynn_fusion.9, %ynn_fusion.20)
}
"""


def test_cpu_kernels_are_counted_by_what_their_hlo_computes_where_their_names_do_not_say():
    from benchmarks import profile_step

    kinds = profile_step.hlo_kinds(CPU_HLO)
    assert kinds == {
        "ynn_fusion.9": "convolution/matmul",
        "conv.1": "convolution/matmul",
        "ynn_fusion.20": "reduction",
        "reduce.2": "reduction",
        "conv_general_dilated.5": "convolution/matmul",
        "copy.7": "copy/memset",
    }
    kernels = [
        profile_step.Kernel(name, name, start, 1000.0)
        for start, name in enumerate(
            ["ynn_fusion.9", "ynn_fusion.20", "add_tanh_fusion", "transpose_copy_fusion"]
        )
    ]
    s = profile_step.summary(kernels, steps=1, kinds=kinds)
    assert s["share_by_kind"] == {
        "convolution/matmul": 0.25,
        "reduction": 0.25,
        "element-wise/other": 0.25,
        "layout transpose": 0.25,
    }
    # without the HLO (a kept trace read back) the YNNPACK fusions are counted as element-wise
    assert profile_step.summary(kernels, steps=1)["share_by_kind"]["element-wise/other"] == 0.75


@pytest.mark.slow
def test_the_profiler_traces_our_step_on_this_cpu_and_keeps_the_trace(tmp_path):
    from benchmarks import profile_step

    results = profile_step.main(["--smoke", "--cells=32,float32,8", "--calls=2", f"--out={tmp_path}"])
    (s,) = [v for k, v in results.items() if k != "machine"]
    assert s["steps"] == 2 and s["kernels_per_step"] > 10  # XLA's CPU ops: convolutions, fusions
    assert 0 < s["busy_us_per_step"] <= s["wall_us_per_step"]
    assert "convolution/matmul" in s["share_by_kind"]
    assert json.loads((tmp_path / "profile.json").read_text())["machine"] == results["machine"]
    assert list(tmp_path.glob("*.xplane.pb"))


def test_both_convolution_forms_the_layer_benchmark_times_compute_the_same_passes():
    import jax.numpy as jnp
    import numpy as np

    from benchmarks import conv_layers

    custom, flax = (conv_layers.xla_primitives(2, 8, 3, 4, jnp.float32, form) for form in conv_layers.FORMS)
    for name in ("forward", "input grad", "weight grad"):
        np.testing.assert_allclose(custom[name](), flax[name](), rtol=1e-5, atol=1e-5, err_msg=name)
    medians = conv_layers.main(
        ["--shapes=8,3,4", "--batch=2", "--forms=custom_vjp,flax", "--rounds=1", "--seconds=0"]
    )
    frameworks = ["custom_vjp", "flax", *(["PyTorch"] if importlib.util.find_spec("torch") else [])]
    assert {name[1:] for name in medians} == {
        (p, f) for p in ("forward", "input grad", "weight grad") for f in frameworks
    }


def test_both_allocators_need_a_process_per_row():
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.train_step", "--host_allocator=both"],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert done.returncode == 2
    assert (
        done.stderr.strip()
        .splitlines()[-1]
        .endswith("--host_allocator=both times each row in a process of its own: add --processes=yes.")
    )
