"""The commands as a user types them: a user error is one line (the traceback only with --verbose),
and they work from any directory with a `~` workdir."""

import importlib.util
import re
import subprocess
import sys

import pytest
from helpers import JAX_CACHE, REPO, checkpoint_steps, subprocess_env

from experiments import cli
from gan_jax.errors import UserError


def command(*args, cwd=REPO, env=None):
    environment = {k: v for k, v in subprocess_env().items() if k != "GAN_JAX_VERBOSE"}
    return subprocess.run(
        [sys.executable, "-m", *args, f"--jax_cache_dir={JAX_CACHE}"],
        cwd=cwd,
        env={**environment, **(env or {})},
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_run_starts_without_importing_pytorch_or_scikit_learn(tmp_path):
    """TensorBoard writing and the digits cost a command no PyTorch import (~1.5 s) and no
    scikit-learn one (~1 s); PyTorch, where installed (the bench extra), is importable again
    afterwards (the benchmarks use it)."""
    torch_installed = importlib.util.find_spec("torch") is not None
    script = (
        "import sys\n"
        "from gan_jax import writers\n"
        "from gan_jax.data import images\n"
        f"with writers.MetricWriter(__import__('etils').epath.Path({str(tmp_path)!r}), 0, 1, True) as w:\n"
        "    w.write(1, {'d_loss': 1.0})\n"
        "images.load_digits(8)\n"
        "print(sorted({'torch', 'sklearn'} & set(sys.modules)))\n"
        "import importlib.util\n"
        f"assert (importlib.util.find_spec('torch') is not None) == {torch_installed}  # hidden: None\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stdout + result.stderr[-2000:]
    assert any(p.name.startswith("events.out.tfevents") for p in (tmp_path / "tensorboard").iterdir())


@pytest.mark.slow
def test_a_user_error_is_one_line_and_verbose_shows_the_traceback(tmp_path):
    missing = ["experiments.run", "--config=configs/dcgan.py:smoke", f"--workdir={tmp_path / 'run'}"]
    missing.append("--config.data.name=idx:/nonexistent")
    result = command(*missing)
    lines = (result.stdout + result.stderr).strip().splitlines()
    assert result.returncode == 1 and len(lines) == 1, lines
    assert lines[0].startswith("Error: No IDX file train-images-idx3-ubyte[.gz] in /nonexistent")
    verbose = command(*missing, "--verbose")
    assert verbose.returncode != 0 and "Traceback (most recent call last)" in verbose.stderr
    assert "MissingFileError" in verbose.stderr


@pytest.mark.slow
def test_a_config_flag_with_a_space_is_checked_like_one_with_an_equals_sign(tmp_path):
    spec = ["--config", "configs/gan_mlp.py:smoke", f"--workdir={tmp_path}", "--config.model.wide=2"]
    result = command("experiments.run", *spec)
    assert result.returncode == 1 and not any(tmp_path.iterdir())
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("Error: Unknown config key 'model.wide': model has no field 'wide' (it has [")


@pytest.mark.slow
def test_the_commands_run_from_any_directory_with_a_home_relative_workdir(tmp_path):
    """`pip install -e .` installs `experiments`; configs/ and classifiers/ are found in the
    repository; `--workdir=~/x` (which no shell expands) lands in $HOME/x, not in ./~/x."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    spec = ["--config=configs/dcgan.py:smoke", "--workdir=~/run", "--config.train.total_steps=4"]
    spec.append("--config.eval.every=4")  # the smoke config's metrics use classifiers/digits16
    result = command("experiments.run", *spec, cwd=elsewhere, env={"HOME": str(tmp_path)})
    assert result.returncode == 0, result.stderr[-2000:]
    assert checkpoint_steps(tmp_path / "run") == [4] and (tmp_path / "run" / "eval_4.json").exists()
    assert f"Outputs in {tmp_path / 'run'}." in result.stdout and not (elsewhere / "~").exists()
    # a config and its study that import `configs` / `studies` load from here too
    records = REPO / "docs" / "mode_collapse" / "unrolled_grid" / "runs.jsonl.gz"
    result = command(
        "experiments.report", f"--records={records}", f"--out={tmp_path / 'report'}", cwd=elsewhere
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "report" / "report.md").read_text() == (records.parent / "report.md").read_text()


@pytest.mark.parametrize(
    "text,problem",
    [
        ("x = 1\n", r"is not a config file: it defines no get_config\(\)"),
        ("def get_config(:\n    pass\n", r"does not load: SyntaxError: invalid syntax"),
        ("raise ImportError('no such thing')\n", r"does not load: ImportError: no such thing"),
        ("def get_config():\n    raise KeyError('k')\n", r"get_config\(\) raised KeyError: 'k'"),
        (
            "def get_config():\n    return 3\n",
            r"get_config\(\) returned int, not an ml_collections.ConfigDict",
        ),
    ],
)
def test_a_config_file_that_is_not_one_is_named_with_its_problem(tmp_path, text, problem):
    """These were 27-58 line tracebacks."""
    path = tmp_path / "bad.py"
    path.write_text(text)
    with pytest.raises(UserError, match=f"{path}.*{problem}"):
        cli.load_config(str(path))


@pytest.mark.slow
def test_a_bad_config_argument_and_a_batch_too_big_for_memory_are_one_line_each(tmp_path):
    """absl printed a 13-line FATAL block for the first; the second was a 50-line
    RESOURCE_EXHAUSTED traceback at the first step."""
    bogus = command(
        "experiments.run", "--config=configs/gan_mlp.py:smoke,bogus", f"--workdir={tmp_path / 'a'}"
    )
    assert bogus.returncode == 1 and bogus.stderr.strip().splitlines() == [
        "Error: gan_mlp.py: unknown argument 'bogus'; use one of ring|grid|hd1200|gaussian1d (default ring), "
        "one of minimax|hinge|wgan_gp|lsgan|rsgan|rpgan|r3gan (default minimax), r1, sn, smoke."
    ]
    huge = [
        "--config=configs/gan_mlp.py:smoke",
        f"--workdir={tmp_path / 'b'}",
        "--config.train.batch_size=1073741824",
    ]
    # compiled as a user's command is: at the tests' COMPILE_FLAGS XLA:CPU's older emitters refuse
    # the 2^30-example batch's scatter (maxout's gradient) before its memory can be counted
    result = command("experiments.run", *huge, env={"XLA_FLAGS": subprocess_env(optimised=True)["XLA_FLAGS"]})
    [line] = result.stderr.strip().splitlines()
    assert result.returncode == 1 and re.match(
        r"Error: The compiled train step needs [\d,.]+ GiB on each cpu", line
    )
    assert "Lower config.train.batch_size (now 1,073,741,824; about " in line


@pytest.mark.slow
def test_label_sheets_without_runs_say_so_in_one_line(tmp_path):
    result = command("experiments.label_sheets", f"--workdir={tmp_path}", f"--out={tmp_path / 'sheets'}")
    assert result.returncode == 1 and result.stderr.strip().splitlines() == [
        f"Error: No run under {tmp_path} has curves.png: give a sweep's --workdir."
    ]
