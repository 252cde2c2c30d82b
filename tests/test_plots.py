"""The labelling sheets: figures placed where they belong, runs in seed order, nothing else."""

import numpy as np
from etils import epath
from PIL import Image

from gan_jax import plots


def _solid(colour: str, width: int, height: int) -> Image.Image:
    return Image.new("RGB", (width, height), colour)


def test_a_contact_sheet_scales_each_figure_to_the_row_height_and_places_it_in_turn():
    sheet = plots.contact_sheet(
        [("a", [_solid("red", 100, 50), _solid("blue", 50, 50)]), ("b", [_solid("lime", 30, 60)])], height=40
    )
    pixels = np.asarray(sheet)
    caption = 16
    assert sheet.size == (80 + 40, 2 * (40 + caption))  # widths scaled by 40/50, 40/50 and 40/60
    assert tuple(pixels[caption + 20, 70]) == (255, 0, 0)  # row a: red over x 0-79
    assert tuple(pixels[caption + 20, 90]) == (0, 0, 255)  # then blue over x 80-119
    assert tuple(pixels[2 * caption + 40 + 20, 15]) == (0, 255, 0)  # row b: lime scaled to x 0-19
    assert tuple(pixels[2 * caption + 40 + 20, 25]) == (255, 255, 255)  # and white beyond it


def test_label_sheets_hold_each_cells_runs_in_seed_order(tmp_path):
    colours = {3: "red", 12: "blue", 7: "lime"}  # seed 12 sorts before 3 as text, not as a number
    for seed, colour in colours.items():
        run = tmp_path / "sweep" / "cell" / f"seed_{seed}"
        (run / "samples").mkdir(parents=True)
        _solid(colour, 30, 30).save(run / "samples" / "step_0000010.png")
        _solid("black", 60, 30).save(run / "curves.png")
    out = epath.Path(tmp_path / "sheets")
    written = plots.write_label_sheets(epath.Path(tmp_path / "sweep"), out, per_sheet=2)
    assert [p.name for p in written] == ["cell seeds 3-7.png", "cell seeds 12-12.png"]
    first = np.asarray(Image.open(written[0]))
    row = 16 + 240  # caption + row height
    assert tuple(first[16 + 100, 100]) == (255, 0, 0) and tuple(first[row + 16 + 100, 100]) == (0, 255, 0)
    assert tuple(first[16 + 100, 240 + 100]) == (0, 0, 0)  # the curves after the samples
    assert tuple(np.asarray(Image.open(written[1]))[16 + 100, 100]) == (0, 0, 255)
