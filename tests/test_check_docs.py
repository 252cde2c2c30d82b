"""The docs checker: a comparative figure that no generated report contains fails, one that a
report contains passes."""

from experiments import check_docs

REPORT = """| setting | seeds | failed | modes captured | diagnosis |
|---|---|---|---|---|
| base | 10 | 0/10 | 7.9 +- 0.1 | 10 converged |
| x | 10 | 3/10* | 5.1 +- 0.6 [-4.3 s.e., p 0.0012*] | 3 mode collapse, 7 converged |

## Comparisons

- `x` vs `base`, modes captured: -2.8 (95% CI -4.2 to -1.4), t = -4.3, df = 9.5, p = 0.0012, Holm p = 0.0024:
"""
REPORTS = {"docs/x/report.md": REPORT}


def test_figures_a_report_contains_pass():
    doc = (
        "x loses modes (5.1 against 7.9, -4.3 s.e., Holm p = 0.0024); 3 of 10 runs collapse\n"
        "and 7 of 10 runs\nconverge (p = 0.0012)."
    )
    assert check_docs.unbacked(doc, REPORTS) == []


def test_a_planted_figure_fails_with_its_line():
    doc = "All is well.\nx loses modes (-4.5 s.e.;\n+68.6 and -4.3 s.e.); 4 of 10 runs collapse, p = 0.01.\n"
    assert check_docs.unbacked(doc, REPORTS) == [
        (2, "-4.5 s.e."),
        (3, "+68.6 s.e."),
        (3, "4 of 10 runs"),
        (3, "p = 0.01"),
    ]


def test_a_list_before_the_unit_is_of_signed_numbers():
    """'7.4 +- 0.3, -4.3 s.e.' cites -4.3; the mean's 0.3 is no difference."""
    assert check_docs.unbacked("modes 7.4 +- 0.3, -4.3 s.e.", REPORTS) == []


def test_a_table_shown_after_its_command_must_be_its_reports(tmp_path):
    (tmp_path / "docs" / "x").mkdir(parents=True)
    (tmp_path / "docs" / "x" / "report.md").write_text(REPORT)
    doc = (
        "## A\n\n```bash\npython -m experiments.report --workdir=runs/x --out=docs/x\n```\n\n"
        "| setting | seeds | failed | modes captured | diagnosis |\n|---|---|---|---|---|\n"
        "| base | 10 | 0/10 | 7.9 +- 0.1 [typed by hand] | 10 converged |\n\nThe end.\n"
    )
    assert check_docs.stale_tables(doc, tmp_path) == [(7, "docs/x")]
    fixed = check_docs.fix_tables(doc, tmp_path)
    assert check_docs.stale_tables(fixed, tmp_path) == []
    assert fixed.endswith(
        "| x | 10 | 3/10* | 5.1 +- 0.6 [-4.3 s.e., p 0.0012*] | 3 mode collapse, 7 converged |\n\nThe end.\n"
    )


def test_a_table_after_a_join_is_the_joined_reports_not_its_inputs():
    """A block that writes reports and then joins them shows one table, the joined report's; the
    reports the join reads are not waiting for tables of their own."""
    doc = (
        "```bash\n"
        "python -m experiments.report --workdir=runs/a --out=docs/a\n"
        "python -m experiments.report --workdir=runs/b --out=docs/b\n"
        "python -m experiments.report --workdir=runs/c --join=docs/a/runs.jsonl.gz,docs/b/runs.jsonl.gz "
        "--out=docs/ab\n"
        "python -m experiments.report --workdir=runs/d --out=docs/d\n"
        "```\n\n| setting | seeds |\n|---|---|\n\n| setting | seeds |\n|---|---|\n"
    )
    assert [t[2] for t in check_docs.embedded_tables(doc)] == ["docs/ab", "docs/d"]


def test_a_table_after_a_later_block_is_that_blocks_not_an_earlier_reports_without_one():
    """An exploratory report shown without a table (docs/mode_collapse.md's first PacDCGAN4 seeds)
    does not claim the table of the next block that writes a report; a block of sweeps alone
    between a report and its table leaves the report waiting."""
    report = "python -m experiments.report --workdir=runs/{0} --out=docs/{0}\n"
    table = "| setting | seeds |\n|---|---|\n\n"
    doc = (
        f"```bash\n{report.format('a')}```\n\nNo table from 2 seeds.\n\n"
        f"```bash\n{report.format('b')}```\n\n{table}"
        f"```bash\n{report.format('c')}```\n\n"
        f"```bash\npython -m experiments.sweep --workdir=runs/d\n```\n\n{table}"
    )
    assert [t[2] for t in check_docs.embedded_tables(doc)] == ["docs/b", "docs/c"]


def test_a_truth_table_shown_after_its_command_must_be_its_reports():
    """docs/diagnosis.md's confusion matrix is its report's, count for count."""
    doc = (check_docs.REPO / "docs" / "diagnosis.md").read_text()
    assert [t[2] for t in check_docs.embedded_tables(doc)] == [
        "docs/diagnosis/corpus",
        "docs/diagnosis/batch",
        "docs/diagnosis/real_ring",
        "docs/diagnosis/real_grid",
        "docs/diagnosis/fresh_ring",
        "docs/diagnosis/fresh_grid",
        "docs/diagnosis/seeds_30_34_ring",
        "docs/diagnosis/seeds_30_34_grid",
        "docs/diagnosis/lost",
    ]
    assert check_docs.stale_tables(doc) == []
    changed = doc.replace("| 27 | 27 | 1.00", "| 26 | 27 | 1.00", 1)
    assert changed != doc and check_docs.stale_tables(changed) == [(45, "docs/diagnosis/corpus")]


def test_the_committed_docs_and_readme_pass(capsys):
    """Every comparative figure in docs/*.md and README.md is in a generated report, and every table
    shown after its report command is that report's (the same check as `python -m
    experiments.check_docs`, on the real files)."""
    assert check_docs.main([]) == 0, capsys.readouterr().out
