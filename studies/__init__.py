"""Each sweep config's report spec (REPORT: its table's columns, baseline, failure rule, published
rows, truth), beside the config: configs/<name>.py describes the runs, studies/<name>.py how
experiments.report reads them."""
