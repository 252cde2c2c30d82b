"""Every config loads, shrinks for smoke tests, and rejects bad command-line overrides."""

import pathlib
import subprocess
import sys

import pytest
from absl import flags
from helpers import REPO, load_config
from ml_collections import config_flags

from experiments import cli
from gan_jax import config as config_lib
from gan_jax import sweep
from gan_jax.errors import ConfigError, UserError
from studies import pacgan as pacgan_study
from studies import stacked_mnist as stacked_study

CONFIGS = {
    "configs/gan_mlp.py": [
        "",
        "ring",
        "grid",
        "hd1200",
        "gaussian1d",
        "ring,smoke",
        "grid,smoke",
        "gaussian1d,smoke",
        "grid,hinge,sn",
        "grid,lsgan,r1",
        "ring,rsgan,smoke",
    ],
    "configs/semi_supervised.py": ["", "smoke"],
    "configs/mode_collapse.py": ["ring", "grid", "grid,smoke"],
    "configs/imbalance.py": ["grid", "digits", "digits,smoke"],
    "configs/equilibrium.py": ["gaussian1d", "ring", "ring,smoke"],
    "configs/diagnosis.py": ["", "smoke", "batch", "batch,smoke", "real_ring", "real_grid,smoke"],
    "configs/improved_gan.py": ["grid,baseline", "grid,all", "digits,all", "digits,virtual_batch_norm,smoke"],
    "configs/objectives.py": ["grid", "digits", "grid,wgan_gp,smoke", "digits,hinge,sn,smoke"],
    "configs/cgan.py": ["digits", "ring", "grid,projection", "mnist,cbn", "digits,smoke"],
    "configs/pacgan.py": ["ring", "grid,cpu", "ring,pack=3", "grid,smoke,pack=2"],
    "configs/unrolled.py": ["ring", "grid,cpu", "ring,unroll=0,smoke"],
    "configs/stacked_mnist.py": [
        "",
        "cpu",
        "pack=4,tfds",
        "steps=5000,pack=2",
        "smoke",
        "pack=3,smoke",
        "quarter,cpu",
        "half,pack=3",
        "half,smoke,pack=2",
    ],
    "configs/limited_data.py": [
        "digits",
        "fashion_mnist,cell=ada",
        "digits,cell=diffaugment + lecam,smoke",
        "digits,cell=bcr,bcr=1",
        "digits,cell=bcr,bcr_flip=false",
        "digits,cell=bcr,bcr_flip=false,bcr_shift=0.0625",
    ],
    "configs/sngan.py": [
        "",
        "fashion_mnist",
        "cifar10",
        "digits,train_size=500,diffaugment,lecam",
        "fashion_mnist,ada,bcr,top_k",
        "smoke",
        "digits,ada,lecam,bcr,top_k,smoke",
    ],
    "configs/dcgan.py": [
        "",
        "digits",
        "mnist",
        "stacked_mnist",
        "fashion_mnist",
        "cifar10",
        "celeb_a",
        "smoke",
        "cifar10,smoke",
        "digits,wgan_gp,smoke",
        "digits,hinge,r1,sn,smoke",
    ],
}


@pytest.mark.parametrize("spec", [f"{p}:{a}" if a else p for p, args in CONFIGS.items() for a in args])
def test_config_loads_and_validates(spec):
    config = load_config(spec)
    config_lib.validate(config)
    assert config.is_locked
    if "smoke" in spec:
        assert config.train.total_steps <= 50


def test_every_config_file_is_covered_and_documented():
    files = sorted(
        str(p.relative_to(REPO)) for p in (REPO / "configs").glob("*.py") if p.name != "__init__.py"
    )
    assert files == sorted(CONFIGS)
    for path in files:
        doc = (REPO / path).read_text()
        assert f"python -m experiments.run --config={path}" in doc
        assert "CPU time" in doc and "Expected" in doc


def test_config_arguments_are_parsed_to_typed_fields():
    spec = dict(dataset=("ring", "grid"), smoke=False, seeds=10, lr=1e-3)
    assert config_lib.parse_arg("", "x.py", **spec).to_dict() == dict(
        dataset="ring", smoke=False, seeds=10, lr=1e-3
    )
    parsed = config_lib.parse_arg("grid,smoke,seeds=3,lr=2e-4", "x.py", **spec)
    assert parsed.to_dict() == dict(dataset="grid", smoke=True, seeds=3, lr=2e-4)
    assert type(parsed.seeds) is int and type(parsed.lr) is float
    assert config_lib.parse_arg("dataset=grid,smoke=false", "x.py", **spec).to_dict()["smoke"] is False


@pytest.mark.parametrize(
    "arg,message",
    [
        (
            "mnsit",
            r"x.py: unknown argument 'mnsit'; use one of ring\|grid \(default ring\), smoke, seeds=<int",
        ),
        ("width=3", "x.py: unknown argument 'width'"),
        ("ring,grid", "x.py: dataset is given twice in 'ring,grid'; give it once"),
        ("seeds=three", "x.py: seeds='three' is not a valid int"),
        ("dataset=moon", r"x.py: dataset='moon' is not one of ring\|grid"),
        ("smoke=maybe", "x.py: smoke='maybe' is not a bool"),
    ],
)
def test_a_bad_config_argument_is_named(arg, message):
    with pytest.raises(ConfigError, match=message):
        config_lib.parse_arg(arg, "x.py", dataset=("ring", "grid"), smoke=False, seeds=10)


def test_every_config_file_parses_its_argument_the_same_way():
    with pytest.raises(ConfigError, match="dcgan.py: unknown argument 'mnsit'"):
        load_config("configs/dcgan.py:mnsit")
    with pytest.raises(ConfigError, match="improved_gan.py: virtual_batch_norm does not apply to grid"):
        load_config("configs/improved_gan.py:grid,virtual_batch_norm")
    assert load_config("configs/cgan.py:grid,projection").model.d.condition == "projection"
    mode_collapse, _ = cli.load_config_module("configs/mode_collapse.py")
    assert len(mode_collapse.get_sweep("grid,seeds=2")) == 4 * 2
    improved_gan, _ = cli.load_config_module("configs/improved_gan.py")
    assert len(improved_gan.get_sweep("digits")) == 7 * 5
    objectives, _ = cli.load_config_module("configs/objectives.py")
    grid = objectives.get_sweep("grid")
    assert len(grid) == 8 * 10 and len(objectives.get_sweep("digits,seeds=2")) == 8 * 2
    for entry in grid[::10]:  # every cell's config is valid (the sweep checks this too, before running)
        overrides = {k: v for k, v in entry.items() if k != "_name"}
        config_lib.validate(config_lib.apply_overrides(objectives.get_config("grid"), overrides))
    pacgan, _ = cli.load_config_module("configs/pacgan.py")
    cells = {e["_name"]: e for e in pacgan.get_sweep("ring,cpu")}
    assert len(pacgan.get_sweep("ring,cpu")) == 9 * 10 and set(pacgan_study.PUBLISHED["ring"]) < set(cells)
    assert (cells["hinge"]["loss.d"], cells["lsgan"]["loss.g"]) == ("hinge", "least_squares")
    assert [cells[f"PacGAN{m}"]["train.batch_size"] for m in (2, 3, 4)] == [200, 300, 400]  # 100 packs
    # G once per pack slot, one training set per trial (seed); the ablation cell: G on all 400
    assert [cells[f"PacGAN{m}"]["model.g.norm_slots"] for m in (2, 3, 4)] == [2, 3, 4]
    assert [(e["seed"], e["data.seed"]) for e in pacgan.get_sweep("ring,cpu")[:3]] == [(0, 0), (1, 1), (2, 2)]
    ablation = cells["PacGAN4, one G batch"]
    assert (ablation["model.d.pack"], ablation["model.g.norm_slots"]) == (4, 1)
    assert pacgan.get_sweep("grid,steps=40000,ablation,seeds=2") == [
        e
        for e in pacgan.get_sweep("grid,steps=40000,seeds=2")
        if e["_name"] in ("GAN", "PacGAN4", "PacGAN4, one G batch")
    ]
    with pytest.raises(ConfigError, match="give one of them"):
        pacgan.get_sweep("ring,ablation,one_g_batch")
    (fixed,) = pacgan.get_sweep("grid,steps=40000,packs_ablation,seeds=1")
    (fresh,) = [e for e in pacgan.get_sweep("grid,steps=40000,ablation,seeds=1") if e["_name"] == "PacGAN4"]
    assert fixed == {**fresh, "_name": "PacGAN4, fixed packs", "data.fixed_packs": True}
    assert not pacgan.get_config("grid").data.fixed_packs
    with pytest.raises(ConfigError, match="without `fixed_packs`, `ablation`"):
        pacgan.get_sweep("grid,packs_ablation,fixed_packs")
    before = {e["_name"]: e for e in pacgan.get_sweep("ring,cpu,one_g_batch")}
    assert len(before) == 8 and before["PacGAN4"]["model.g.norm_slots"] == 1
    assert (
        pacgan.get_config("ring,pack=3").model.g.norm_slots == 3
        and pacgan.get_config("ring").train.reuse_fake
    )
    diagnosis, _ = cli.load_config_module("configs/diagnosis.py")
    real = diagnosis.get_sweep("real_grid,seeds=2")  # the study's mode-collapse cells, new seeds
    assert [e["seed"] for e in real] == [10, 11] * 4 and diagnosis.get_config("real_grid").data.name == "grid"
    assert [e["_name"] for e in real[::2]] == [f"grid: {c['_name']}" for c in mode_collapse.cells()]
    assert [e["seed"] for e in diagnosis.get_sweep("real_ring,first_seed=20,seeds=2")[:2]] == [20, 21]
    unrolled, _ = cli.load_config_module("configs/unrolled.py")
    assert [e["train.unroll_steps"] for e in unrolled.get_sweep("grid,seeds=1")] == [0, 5]


def test_the_limited_data_study_reads_fashion_mnist_offline_unless_told_tfds():
    """A sweep takes no --config.data.name: the config itself names the offline files (the first
    1,000 training images; the test split held out), and `tfds` the same splits from the network."""
    offline, online = (load_config(f"configs/limited_data.py:fashion_mnist{a}") for a in ("", ",tfds"))
    assert (offline.data.name, online.data.name) == ("idx:../shared/data/fashion_mnist", "tfds:fashion_mnist")
    for c in (offline, online):
        assert (c.data.split, c.data.eval_split, c.data.image_size) == ("train[:1000]", "test", 32)


def test_the_limited_data_sweep_takes_one_cell_and_bcrs_weight_flip_and_shift():
    """`cell=` alone sweeps that cell's seeds; `bcr=W` other than the paper's 10, `bcr_flip=false`
    or `bcr_shift=R` other than the paper's 1/8 renames bCR's cell after it, so its runs join the
    6-cell sweep's without sharing a cell; the run of a cell carries the same overrides."""
    study, _ = cli.load_config_module("configs/limited_data.py")
    every = study.get_sweep("digits,seeds=1")
    assert [e["_name"] for e in every] == list(study.CELLS) and every[3]["reg.bcr_real"] == 10.0
    weighed = study.get_sweep("digits,cell=bcr,bcr=1,seeds=3")
    assert [(e["_name"], e["reg.bcr_real"], e["reg.bcr_fake"], e["seed"]) for e in weighed] == [
        ("bcr (lambda 1)", 1.0, 1.0, seed) for seed in range(3)
    ]
    run = load_config("configs/limited_data.py:digits,cell=bcr,bcr=1")
    assert (run.reg.bcr_real, run.reg.bcr_fake, run.reg.bcr_flip, run.reg.lecam) == (1.0, 1.0, True, 0.0)
    unflipped = study.get_sweep("digits,cell=bcr,bcr_flip=false,seeds=1")
    assert [(e["_name"], e["reg.bcr_real"], e["reg.bcr_flip"]) for e in unflipped] == [
        ("bcr (no flip)", 10.0, False)
    ]
    narrow = study.get_sweep("digits,cell=bcr,bcr_flip=false,bcr_shift=0.0625,seeds=1")
    assert [(e["_name"], e["reg.bcr_flip"], e["reg.bcr_shift"]) for e in narrow] == [
        ("bcr (no flip, shift 0.0625)", False, 0.0625)
    ]
    assert load_config("configs/limited_data.py:digits,cell=bcr,bcr_shift=0.0625").reg.bcr_shift == 0.0625
    assert [e["_name"] for e in study.get_sweep("digits,cell=lecam,bcr=1,seeds=1")] == ["lecam"]


def test_stacked_mnist_is_pacgans_table_2_protocol():
    """DCGAN and PacDCGAN2-4 of 64 packs, G per pack slot; one D and two G updates on one z batch;
    5 evaluations of 26,000 samples whatever the length; the published rows' names are cells."""
    stacked, _ = cli.load_config_module("configs/stacked_mnist.py")
    cells = {e["_name"]: e for e in stacked.get_sweep("cpu")}
    assert len(stacked.get_sweep("cpu")) == 4 * 10 and set(stacked_study.PUBLISHED["veegan"]) == set(cells)
    assert [(c["model.d.pack"], c["model.g.norm_slots"], c["train.batch_size"]) for c in cells.values()] == [
        (m, m, 64 * m) for m in (1, 2, 3, 4)
    ]
    config = stacked.get_config("cpu")
    assert (config.model.name, config.data.image_size, config.train.total_steps) == ("dcgan_tf", 28, 2_000)
    assert config.model.z_dist == "uniform"
    assert (config.train.d_steps, config.train.g_steps, config.train.same_noise) == (1, 2, True)
    assert config.train.reuse_fake  # G's first update on D's samples; its second runs G again
    assert (config.eval.every, config.eval.stacked_samples) == (400, 26_000)
    assert stacked.get_config("").train.total_steps == 100_000
    for bad in ("cpu,steps=1000", "steps=1234"):
        with pytest.raises(ConfigError, match="stacked_mnist.py"):
            stacked.get_config(bad)
    # Table 3, Metz et al.'s setting: small 3x3 networks, D 1/4 or 1/2 of G's width, batch 128
    quarter, half = stacked.get_config("quarter"), stacked.get_config("half,pack=2")
    assert (quarter.model.d.width, half.model.d.width, quarter.model.g.width) == (2, 4, 8)
    assert (quarter.model.d.kernel, quarter.model.d.norm_first, quarter.model.g.output) == (3, True, "conv")
    assert (quarter.model.z_dim, quarter.model.z_dist, quarter.train.total_steps) == (256, "normal", 500_000)
    assert (quarter.optim.g.lr, quarter.optim.d.lr, quarter.optim.d.b2, quarter.train.g_steps) == (
        1e-4,
        2e-4,
        0.99,
        1,
    )
    assert half.train.batch_size == 256 and half.eval.stacked_samples == 25_600
    assert quarter.train.reuse_fake and quarter.train.same_noise  # one G forward: the same step
    assert [c["train.batch_size"] for c in stacked.get_sweep("half")[::10]] == [128, 256, 384, 512]
    assert [c["_name"] for c in stacked.get_sweep("quarter,max_pack=2,seeds=1")] == ["DCGAN", "PacDCGAN2"]
    with pytest.raises(ConfigError, match="max_pack=5"):
        stacked.get_sweep("max_pack=5")
    # `min_pack=m`: a table's later cells alone, for a sweep whose report joins an earlier one's
    assert [c["_name"] for c in stacked.get_sweep("quarter,min_pack=3,seeds=1")] == ["PacDCGAN3", "PacDCGAN4"]
    assert stacked.get_sweep("quarter,min_pack=3,max_pack=3,seeds=1")[0]["train.batch_size"] == 384
    with pytest.raises(ConfigError, match="min_pack=3, max_pack=2"):
        stacked.get_sweep("min_pack=3,max_pack=2")
    # `unrolled=K`: Metz et al.'s unrolled GAN beside DCGAN, G's samples not shared with D's update
    with_unrolled = stacked.get_sweep("quarter,max_pack=2,seeds=1,unrolled=10")
    assert [c["_name"] for c in with_unrolled] == ["DCGAN", "Unrolled GAN (10 steps)", "PacDCGAN2"]
    later = stacked.get_sweep("quarter,min_pack=2,max_pack=2,seeds=1,unrolled=10")
    assert [c["_name"] for c in later] == ["Unrolled GAN (10 steps)", "PacDCGAN2"]
    # the unrolled GAN alone, its seeds in two halves (a sweep each, their reports joined)
    second_half = stacked.get_sweep("quarter,max_pack=0,unrolled=10,seeds=5,first_seed=5")
    unrolled_cell = "Unrolled GAN (10 steps)"
    assert [(c["_name"], c["seed"]) for c in second_half] == [(unrolled_cell, s) for s in range(5, 10)]
    for arg in ("max_pack=0", "min_pack=3,max_pack=2,unrolled=10"):
        with pytest.raises(ConfigError, match="max_pack=0 only beside unrolled=K"):
            stacked.get_sweep(arg)
    with pytest.raises(ConfigError, match="first_seed=-1"):
        stacked.get_sweep("first_seed=-1")
    unrolled = config_lib.apply_overrides(stacked.get_config("quarter"), sweep.overrides_of(with_unrolled[1]))
    train = unrolled.train
    assert (train.unroll_steps, train.reuse_fake, train.batch_size) == (10, False, 128)
    config_lib.validate(unrolled)
    with pytest.raises(ConfigError, match="unrolled=-1"):
        stacked.get_sweep("unrolled=-1")
    # `unrolled_loss=saturating`: the same cell with the loss of the authors' notebook, alone
    (saturating,) = stacked.get_sweep("half,max_pack=0,unrolled=10,unrolled_loss=saturating,seeds=1")
    assert saturating["_name"] == "Unrolled GAN (10 steps, saturating G loss)"
    assert saturating["_name"] in dict(stacked_study.REPORT["comparisons"])
    config = config_lib.apply_overrides(stacked.get_config("half"), sweep.overrides_of(saturating))
    assert (config.loss.g, config.train.unroll_steps, unrolled.loss.g) == ("saturating", 10, "non_saturating")
    # `unrolled_updates=simultaneous` beside it: the notebook's step, G against D before its update
    (notebook,) = stacked.get_sweep(
        "half,max_pack=0,unrolled=10,unrolled_loss=saturating,unrolled_updates=simultaneous,seeds=1"
    )
    assert (notebook["_name"], saturating["_name"]) in stacked_study.REPORT["comparisons"]
    config = config_lib.apply_overrides(stacked.get_config("half"), sweep.overrides_of(notebook))
    assert (config.loss.g, config.train.simultaneous, unrolled.train.simultaneous) == (
        "saturating",
        True,
        False,
    )
    (one_step,) = stacked.get_sweep("half,max_pack=0,unrolled=1,seeds=1")
    assert (one_step["_name"], "Unrolled GAN (10 steps)") in stacked_study.REPORT["comparisons"]
    (simultaneous,) = stacked.get_sweep("half,max_pack=0,unrolled=10,unrolled_updates=simultaneous,seeds=1")
    assert (simultaneous["_name"], "Unrolled GAN (10 steps)") in stacked_study.REPORT["comparisons"]
    (held_fixed,) = stacked.get_sweep("half,max_pack=0,unrolled=1,unrolled_grad=held_fixed,seeds=1")
    assert (held_fixed["_name"], one_step["_name"]) in stacked_study.REPORT["comparisons"]
    config = config_lib.apply_overrides(stacked.get_config("half"), sweep.overrides_of(held_fixed))
    assert (config.train.unroll_through_d, unrolled.train.unroll_through_d) == (False, True)
    (ten_held_fixed,) = stacked.get_sweep("half,max_pack=0,unrolled=10,unrolled_grad=held_fixed,seeds=1")
    assert (ten_held_fixed["_name"], "Unrolled GAN (10 steps)") in stacked_study.REPORT["comparisons"]
    for arg in ("unrolled_loss=saturating", "unrolled_updates=simultaneous", "unrolled_grad=held_fixed"):
        with pytest.raises(ConfigError, match="set the unrolled cell; give unrolled=K"):
            stacked.get_sweep(arg)
    trials = stacked_study.REPORT["published_trials"]
    assert (trials("cpu"), trials("quarter,cpu")) == (10, 50)


def test_the_diagnosis_corpus_cells_are_valid_and_know_their_truth():
    corpus, _ = cli.load_config_module("configs/diagnosis.py")
    for arg in ("", "batch", "lost"):
        cells = corpus.get_sweep(f"{arg},seeds=1")
        assert len(corpus.get_sweep(arg)) == 10 * len(cells)
        for entry in cells:
            overrides = {k: v for k, v in entry.items() if k != "_name"}
            config = config_lib.apply_overrides(corpus.get_config(arg), overrides)
            config_lib.validate(config)
            assert config.eval.every * corpus.EVALUATIONS == config.train.total_steps  # "modes lost" can fire
    truth = cli.load_study("configs/diagnosis.py")["truth"]
    ring = lambda captured: {"modes/num_modes": 8, "modes/modes_captured": captured}  # noqa: E731
    assert truth({"cell": "D wins", "final": {}}) == "D wins"
    assert truth({"cell": "converged (ring, R1)", "final": ring(8)}) == "converged"
    assert truth({"cell": "converged (ring, R1)", "final": ring(7)}) is None
    assert truth({"cell": "converged (Dirac, R1)", "final": {}}) == "converged"
    assert truth({"cell": "D wins (packing 2)", "final": ring(0)}) == "D wins"
    assert truth({"cell": "converged (ring, minibatch stddev)", "final": ring(7)}) is None
    switch = {"step": corpus.SWITCH}  # a run built to lose modes lost them only if it had them all
    lost = lambda had: {"cell": "mode collapse (modes lost)", "eval": [{**switch, **ring(had)}]}  # noqa: E731
    assert (truth(lost(8)), truth(lost(7))) == ("mode collapse", None)


def parse(*args):
    """Parses a command line exactly as experiments/run.py does."""
    argv = ["run", *args]
    values = flags.FlagValues()
    config_flags.DEFINE_config_file("config", flag_values=values, sys_argv=argv)
    values(argv)
    return values.config


def test_pacgan_schedule_is_the_papers_the_cpus_or_a_given_length():
    lengths = {
        a: load_config(f"configs/pacgan.py:{a}").train.total_steps
        for a in ("ring", "ring,cpu", "grid,steps=40000")
    }
    assert lengths == {"ring": 400_000, "ring,cpu": 5_000, "grid,steps=40000": 40_000}
    config = load_config("configs/pacgan.py:grid,cpu")  # ~50 logged rows, 5 evaluations
    assert (config.log.every, config.checkpoint.every, config.eval.every) == (100, 1_000, 1_000)
    config = load_config("configs/pacgan.py:grid,steps=40000")
    assert (config.log.every, config.checkpoint.every, config.eval.every) == (800, 8_000, 8_000)
    with pytest.raises(ConfigError, match="pacgan.py: `cpu` and `steps=N` both set the schedule"):
        load_config("configs/pacgan.py:ring,cpu,steps=40000")
    with pytest.raises(ConfigError, match="pacgan.py: steps=1500; give a positive multiple of 1,000"):
        load_config("configs/pacgan.py:ring,steps=1500")


def test_command_line_overrides():
    config = parse(
        f"--config={REPO}/configs/dcgan.py:smoke", "--config.optim.d.lr=1e-4", "--config.train.d_steps=2"
    )
    assert config.optim.d.lr == 1e-4 and config.train.d_steps == 2


def test_unknown_key_is_named():
    with pytest.raises(AttributeError, match="^\"'learning_rate'\"$"):  # ml_collections alone
        parse(f"--config={REPO}/configs/dcgan.py", "--config.optim.d.learning_rate=1e-4")
    with pytest.raises(
        UserError,
        match=r"'optim.d.learning_rate': optim.d has no field "
        r"'learning_rate' \(it has \['b1', 'b2', 'decay_steps', 'lr', 'name'\]\)",
    ):
        cli.normalise_argv(["run", f"--config={REPO}/configs/dcgan.py", "--config.optim.d.learning_rate=1"])
    with pytest.raises(UserError, match="'optimizer.lr': the config has no field 'optimizer'"):
        cli.normalise_argv(["run", "--config", "configs/dcgan.py", "--config.optimizer.lr=1"])  # a space
    cli.normalise_argv(["run", f"--config={REPO}/configs/dcgan.py", "--config.optim.d.lr=1"])


@pytest.mark.slow
def test_run_command_names_a_bad_override(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "experiments.run",
            "--config=configs/gan_mlp.py:smoke",
            f"--workdir={tmp_path}",
            "--config.model.d.multiplier=2",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert "Unknown config key 'model.d.multiplier'" in result.stderr
    assert not any(tmp_path.iterdir())  # nothing was written


def test_wrong_type_is_named():
    with pytest.raises(Exception, match="train.batch_size"):
        parse(f"--config={REPO}/configs/dcgan.py", "--config.train.batch_size=big")


@pytest.mark.parametrize(
    "key,value,message",
    [
        ("log.every", 15, "log.every=15 must be a positive multiple"),
        ("train.ema_decay", 1.0, "ema_decay"),
        ("train.d_steps", 0, "d_steps"),
        ("train.unroll_steps", -1, "unroll_steps=-1 must be >= 0"),
        ("train.d_head_start", -1, "d_head_start=-1 must be >= 0"),
        ("train.total_steps", 0, "total_steps and steps_per_call must be >= 1"),  # not d_head_start's fault
        ("optim.g.lr", float("nan"), r"optim.g.lr=nan must be a finite number >= 0"),
        ("optim.d.lr", float("inf"), r"optim.d.lr=inf must be a finite number >= 0"),
        ("optim.d.lr", -1e-4, r"optim.d.lr=-0.0001 must be a finite number >= 0"),
        ("optim.g.b1", 1.0, r"optim.g.b1=1.0 must be in \[0, 1\)"),
        (
            "loss.d",
            "hinge",
            r"config.loss.g='non_saturating' belongs to the minimax .*\['hinge', 'feature_matching'\]",
        ),
        ("loss.g", "wasserstain", r"Unknown config.loss.g 'wasserstain'"),
        ("reg.r1", -1.0, r"config.reg.r1=-1.0 must be a finite number >= 0"),
        ("reg.every", 0, r"config.reg.every=0 must be >= 1"),
        ("reg.bcr_shift", 0.75, r"config.reg.bcr_shift=0.75 must be a fraction of the side in \[0, 0.5\]"),
        ("eval.mode_min_high_quality", -1, r"config.eval.mode_min_high_quality=-1 must be >= 0"),
    ],
)
def test_inconsistent_values_fail(key, value, message):
    config = load_config("configs/gan_mlp.py")
    *path, name = key.split(".")
    node = config
    for part in path:
        node = node[part]
    node[name] = value
    with pytest.raises(ConfigError, match=message):
        config_lib.validate(config)


def test_a_mode_draw_capped_below_its_first_draw_fails():
    config = load_config("configs/gan_mlp.py")
    config.eval.update(mode_min_high_quality=20, mode_max_samples=1_000)
    with pytest.raises(ConfigError, match=r"mode_max_samples=1,000 must be at least mode_samples=2,500"):
        config_lib.validate(config)
    config.eval.mode_min_high_quality = 0  # off: the cap is not used
    config_lib.validate(config)


def test_resume_conflicts_ignore_resumable_keys():
    saved = {
        "train": {"total_steps": 10, "batch_size": 4},
        "log": {"every": 2},
        "model": {"d": {"width_mult": 1.0}},
    }
    current = {
        "train": {"total_steps": 20, "batch_size": 4},
        "log": {"every": 5},
        "model": {"d": {"width_mult": 2.0}},
    }
    assert config_lib.resume_conflicts(saved, current) == ["model.d.width_mult"]
    older = {"train": {"total_steps": 10}}  # saved before config.reg existed: its defaults apply
    assert config_lib.resume_conflicts(older, {"train": {"total_steps": 10}, "reg": {"r1": 0.0}}) == []
    assert config_lib.resume_conflicts(older, {"train": {"total_steps": 10}, "reg": {"r1": 1.0}}) == [
        "reg.r1"
    ]
    before = {"model": {"name": "mlp", "g": {"norm": "batch"}}}  # saved before an option of G existed
    now = {"model": {"name": "mlp", "g": {"norm": "batch", "norm_slots": 1}}}
    assert config_lib.resume_conflicts(before, now) == []
    now["model"]["g"]["norm_slots"] = 2
    assert config_lib.resume_conflicts(before, now) == ["model.g.norm_slots"]
    nan = {"loss": {"real_label": float("nan")}}  # NaN != NaN must not read as a changed config
    assert config_lib.resume_conflicts(nan, {"loss": {"real_label": float("nan")}}) == []


def test_repo_layout():
    for path in (
        "gan_jax",
        "experiments",
        "configs",
        "tests",
        "benchmarks",
        "requirements.txt",
        "setup.cfg",
        "README.md",
        ".ci/run",
    ):
        assert (REPO / path).exists(), path
    assert pathlib.Path(REPO / ".ci/run").stat().st_mode & 0o111


def test_objective_pairs_are_checked_before_anything_runs():
    config = load_config("configs/gan_mlp.py")
    config.loss.update(d="wasserstein", g="wasserstein")
    with pytest.raises(ConfigError, match=r"'wasserstein' needs a Lipschitz constraint.*gradient_penalty"):
        config_lib.validate(config)
    config.reg.gradient_penalty = 10.0
    config_lib.validate(config)
    config.loss.update(d="hinge", g="hinge", real_label=0.9)
    with pytest.raises(ConfigError, match=r"real_label=0.9 \(one-sided label smoothing\) needs a minimax D"):
        config_lib.validate(config)
    config.loss.update(real_label=1.0, g="feature_matching")  # feature matching goes with any D loss
    config_lib.validate(config)


def test_objective_presets_set_their_papers_settings():
    wgan = load_config("configs/dcgan.py:wgan_gp")
    assert (wgan.loss.d, wgan.reg.gradient_penalty, wgan.train.d_steps) == ("wasserstein", 10.0, 5)
    assert (wgan.optim.d.lr, wgan.optim.d.b1, wgan.optim.d.b2, wgan.model.d.norm) == (1e-4, 0.0, 0.9, "none")
    r1_sn = load_config("configs/dcgan.py:hinge,r1,sn")
    assert (r1_sn.loss.g, r1_sn.reg.r1, r1_sn.model.d.spectral_norm, r1_sn.model.d.norm) == (
        "hinge",
        10.0,
        True,
        "none",
    )
    assert (
        load_config("configs/gan_mlp.py:grid").loss.to_dict()
        == load_config("configs/gan_mlp.py:grid,minimax").loss.to_dict()
    )
