r"""Sheets for labelling a sweep's runs by eye: python -m experiments.label_sheets \
        --workdir=runs/diagnosis_real --out=runs/diagnosis_real_sheets [--per_sheet=5]

For each cell, sheets of `per_sheet` runs: a row per run with G's samples at every step they were
plotted and its training curves, and nothing the metrics or the diagnosis concluded
(gan_jax.plots.write_label_sheets; docs/diagnosis.md's hand-labelled runs).
"""

from absl import flags

from experiments import cli
from gan_jax.errors import UserError

_WORKDIR = flags.DEFINE_string("workdir", None, "The sweep directory (<cell>/seed_<n>/ runs).")
_OUT = flags.DEFINE_string("out", None, "Where the sheets go.")
_PER_SHEET = flags.DEFINE_integer("per_sheet", 5, "Runs per sheet.")
flags.mark_flags_as_required(["workdir", "out"])


def main(argv):
    del argv
    from etils import epath

    from gan_jax import plots

    if _PER_SHEET.value < 1:
        raise UserError(f"--per_sheet={_PER_SHEET.value}: put at least one run on a sheet.")
    written = plots.write_label_sheets(epath.Path(_WORKDIR.value), epath.Path(_OUT.value), _PER_SHEET.value)
    if not written:
        raise UserError(f"No run under {_WORKDIR.value} has curves.png: give a sweep's --workdir.")
    print("\n".join(f"Wrote {path}" for path in written))


def cli_main() -> None:
    cli.run(main)


if __name__ == "__main__":
    cli_main()
