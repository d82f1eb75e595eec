"""Figures of the generative family: every kind draws, in HTML and PDF, edge cases included."""

from __future__ import annotations

import io
import re
import warnings

import numpy as np
import pytest

import auditkit
from auditkit import AuditResult, CheckResult, Figure, Status
from auditkit.report import render_html
from auditkit.report._plots import draw, drawing_into, style, to_svg

RNG = np.random.default_rng(0)
KINDS = ("generative_samples", "generative_pairs", "generative_class_histogram",
         "generative_calibration", "generative_distances", "generative_copying_cells",
         "generative_elbo")


def _digits(n: int, *, shape=(1, 28, 28)) -> np.ndarray:
    return RNG.uniform(0, 1, size=(n, *shape))


def _samples(real=None, generated=None) -> Figure:
    return Figure("generative_samples", {
        "real": _digits(100) if real is None else real,
        "generated": _digits(64) if generated is None else generated,
        "real_label": "real (held-out)", "generated_label": "generated"}, "Samples")


def _pairs(n: int, **overrides) -> Figure:
    data = {"left": _digits(n), "right": _digits(n), "left_label": "generated",
            "right_label": "nearest training sample",
            "captions": [f"L2 {0.1 * i:.2f} (held-out median 6.2)" for i in range(n)]}
    return Figure("generative_pairs", {**data, **overrides}, "Closest pairs")


def _classes(status: list[str]) -> Figure:
    k = len(status)
    share = [0.0 if s == "missing" else 1.0 / k for s in status]
    return Figure("generative_class_histogram", {
        "classes": [f"digit {i}" for i in range(k)], "real_share": [1.0 / k] * k,
        "generated_share": share, "generated_lower": [max(s - 0.02, 0) for s in share],
        "generated_upper": [s + 0.02 for s in share], "status": status}, "Class shares")


def _calibration(model=(12.3, 0.011, 0.71), floor=(0.8, 0.0001, 0.74)) -> Figure:
    return Figure("generative_calibration", {
        "metrics": ["Fréchet distance", "KID", "precision"], "model": list(model),
        "model_lower": [11.0, 0.008, 0.68], "model_upper": [13.9, 0.014, 0.74],
        "floor": list(floor),
        "ceilings": {"noise s1": [5.0, 0.004, 0.65], "noise s3": [90.0, 0.1, np.nan]},
        "higher_is_better": [False, False, True]}, "Calibration")


def _distances(generated, held_out, threshold=3.1) -> Figure:
    return Figure("generative_distances", {"generated": generated, "held_out": held_out,
                                           "threshold": threshold, "space": "mnist-cnn"},
                  "Distances")


def _cells(z, threshold=-3.0) -> Figure:
    return Figure("generative_copying_cells", {
        "cells": list(range(len(z))), "z": list(z), "n_generated": [40] * len(z),
        "threshold": threshold}, "Cells")


def _elbo(train, test) -> Figure:
    return Figure("generative_elbo", {"train": train, "test": test, "label": "ELBO (nats)"},
                  "ELBO")


def _svg(figure: Figure) -> str:
    drawing = to_svg(figure, salt="t")
    assert drawing.note is None, drawing.note
    return str(drawing.svg)


def _texts(svg: str) -> str:
    """The text of the SVG's text elements, one line each (fonttype none keeps it as text)."""
    return "\n".join(re.sub(r"<[^>]+>", "", t) for t in re.findall(r"<text[^>]*>.*?</text>",
                                                                   svg, re.DOTALL))


def _drawn(figure: Figure):
    with style():
        return draw(figure)


def _images(fig) -> list:
    return [image for ax in fig.axes for image in ax.get_images()]


# -- images -----------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(1, 28, 28), (28, 28), (784,), (28, 28, 1)])
def test_samples_are_two_grids_of_at_most_8_by_8_grey_images(shape):
    fig = _drawn(_samples(_digits(100, shape=shape), _digits(64, shape=shape)))
    real, generated = _images(fig)
    # 8 images of 28 pixels and 7 gaps of 2 pixels each way
    assert real.get_array().shape == generated.get_array().shape == (238, 238)
    assert real.get_clim() == (0.0, 1.0) and real.get_cmap().name.startswith("gray")
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["real (held-out) (64 of 100)", "generated"]


def test_colour_and_few_samples_and_no_samples():
    fig = _drawn(_samples(_digits(3, shape=(3, 8, 8)), _digits(0)))
    (real,) = _images(fig)
    assert real.get_array().shape == (8, 3 * 8 + 2 * 2, 3)
    assert "no images" in _texts(_svg(_samples(_digits(3, shape=(3, 8, 8)), _digits(0))))


def test_samples_svg_embeds_the_two_grids_and_the_labels():
    svg = _svg(_samples())
    assert svg.count("<image") == 2
    text = _texts(svg)
    assert "real (held-out) (64 of 100)" in text and "generated" in text


def test_pairs_in_rows_of_four_with_captions():
    fig = _drawn(_pairs(16))
    shown = [ax for ax in fig.axes if ax.get_visible()]
    assert len(shown) == 16
    assert len({round(ax.get_position().x0, 3) for ax in shown}) == 4
    # two 28-pixel images and a 1-pixel gap
    assert _images(fig)[0].get_array().shape == (28, 57)
    text = _texts(_svg(_pairs(16)))
    assert "In each pair: generated (left), nearest training sample (right)" in text
    assert "L2 1.50 (held-out" in text


def test_a_single_pair_and_no_pair_draw():
    fig = _drawn(_pairs(1))
    assert [ax.get_visible() for ax in fig.axes] == [True]
    assert "L2 0.00 (held-out" in _texts(_svg(_pairs(1)))
    empty = _pairs(0, captions=[])
    assert "no pairs to show" in _texts(_svg(empty))


def test_pairs_cap_at_sixteen_and_mix_grey_with_colour():
    assert len(_images(_drawn(_pairs(20)))) == 16
    mixed = _pairs(2, right=_digits(2, shape=(3, 28, 28)))
    assert _images(_drawn(mixed))[0].get_array().shape == (28, 57, 3)


# -- coverage and calibration -----------------------------------------------------------


def test_class_histogram_marks_missing_and_under_represented_classes():
    status = ["ok"] * 6 + ["under-represented", "missing", "missing", "ok"]
    text = _texts(_svg(_classes(status))).split("\n")
    assert text.count("missing") == 2
    assert text.count("under") == 1
    assert "real share" in text and "missing class (outline: real share)" in text
    ax = _drawn(_classes(status)).axes[0]
    assert not any(line.get_visible() for line in ax.get_xgridlines() + ax.get_ygridlines())


def test_class_histogram_of_a_single_class():
    text = _texts(_svg(_classes(["ok"])))
    assert "digit 0" in text and "missing" not in text


def test_calibration_strips_show_floor_ceilings_and_the_model():
    text = _texts(_svg(_calibration()))
    assert "model 12.3 [11, 13.9]" in text
    assert "floor = real vs real; ceilings = real vs corrupted real" in text
    assert "noise s1" in text and "noise s3" in text and "floor" in text
    assert "Fréchet distance (lower is better)" in text
    assert "precision (higher is better)" in text
    # KID spans 0.0001 to 0.1: a log axis, labelled in plain numbers
    assert "0.001" in text and "mathdefault" not in text


def test_calibration_skips_nan_values():
    text = _texts(_svg(_calibration(model=(np.nan, 0.011, 0.71), floor=(np.nan, 0.0001, np.nan))))
    assert "model: not measured" in text
    nothing = Figure("generative_calibration", {
        "metrics": ["coverage"], "model": [np.nan], "model_lower": [np.nan],
        "model_upper": [np.nan], "floor": [np.nan], "ceilings": {},
        "higher_is_better": [True]}, "")
    assert "no finite value" in _texts(_svg(nothing))


def test_calibration_takes_two_columns_in_a_low_pdf_slot():
    from matplotlib.figure import Figure as MplFigure

    six = Figure("generative_calibration", {
        "metrics": [f"metric {i}" for i in range(6)], "model": [0.5] * 6,
        "model_lower": [0.4] * 6, "model_upper": [0.6] * 6, "floor": [0.9] * 6,
        "ceilings": {"blur s1": [0.7] * 6}, "higher_is_better": [True] * 6}, "")
    with style():
        assert len({ax.get_position().x0 for ax in draw(six).axes}) == 1
        page = MplFigure(figsize=(8.27, 11.69))
        slot = page.add_subfigure(page.add_gridspec(3, 1)[1])
        with drawing_into(slot):
            draw(six)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # "constrained_layout not applied" when too low
            page.savefig(io.BytesIO(), format="png", dpi=40)
    assert len({round(ax.get_position().x0, 2) for ax in slot.axes}) == 2


# -- memorisation and the VAE -----------------------------------------------------------


def test_distances_with_and_without_near_copies():
    held_out = RNG.normal(6.0, 1.0, 500)
    copies = np.r_[RNG.uniform(0, 0.1, 30), RNG.normal(6.0, 1.0, 970)]
    text = _texts(_svg(_distances(copies, held_out)))
    assert "near-copy threshold" in text and "near-copy threshold (3.1)" in text
    assert "generated (n=1,000)" in text and "held-out real (n=500)" in text
    assert "Distance to the nearest training sample (mnist-cnn)" in text
    none_copied = _svg(_distances(RNG.normal(6.0, 1.0, 200), held_out))
    assert "near-copy threshold" in _texts(none_copied)
    ax = _drawn(_distances(copies, held_out)).axes[0]
    line = [line for line in ax.get_lines() if line.get_linestyle() == "--"][0]
    assert line.get_xdata()[0] == pytest.approx(3.1)


def test_distances_with_nan_and_empty_arrays():
    text = _texts(_svg(_distances(np.array([np.nan, 1.0, 2.0]), np.array([]))))
    assert "generated (n=2)" in text
    assert "no values" in _texts(_svg(_distances([], [], threshold=None)))


def test_copying_cells_flag_the_cells_under_the_threshold():
    fig = _drawn(_cells([0.5, -4.2, 1.0, -6.0, np.nan, -2.9]))
    ax = fig.axes[0]
    flagged = [p for p in ax.patches if p.get_hatch() == "//"]
    assert sorted(round(p.get_height(), 1) for p in flagged) == [-6.0, -4.2]
    assert len(ax.patches) == 5  # the NaN cell has no bar
    text = _texts(_svg(_cells([0.5, -4.2, 1.0, -6.0, np.nan, -2.9])))
    assert "copying cell (z &lt; -3)" in text or "copying cell (z < -3)" in text
    assert "threshold z = -3" in text and "n/a" in text and "n=40" in text


def test_copying_cells_without_copying_and_many_cells():
    text = _texts(_svg(_cells(RNG.uniform(-2, 2, 60))))
    assert "copying cell" not in text and "threshold z = -3" in text


def test_elbo_histograms_with_their_means():
    train, test = RNG.normal(-95.0, 10.0, 400), RNG.normal(-100.0, 12.0, 300)
    text = _texts(_svg(_elbo(train, test)))
    assert f"training mean {train.mean():.4g}" in text
    assert f"held-out mean {test.mean():.4g}" in text
    assert "training (n=400)" in text and "ELBO (nats), per sample" in text
    lonely = _texts(_svg(_elbo(np.array([-90.0, np.inf]), np.array([]))))
    assert "training mean -90" in lonely and "held-out mean" not in lonely


# -- through the report -----------------------------------------------------------------


def _every_kind() -> dict[str, Figure]:
    return {"samples": _samples(), "pairs": _pairs(5), "classes": _classes(["ok", "missing"]),
            "calibration": _calibration(), "distances": _distances(RNG.uniform(0, 9, 100),
                                                                   RNG.uniform(2, 9, 100)),
            "cells": _cells([1.0, -5.0]), "elbo": _elbo(RNG.normal(-90, 5, 50),
                                                        RNG.normal(-92, 5, 50))}


def test_every_kind_is_registered_and_draws_in_the_html_report_after_json():
    figures = _every_kind()
    assert {f.kind for f in figures.values()} == set(KINDS)
    check = CheckResult(name="generative_demo", family="generative", status=Status.INFO,
                        headline="demo", figures=figures)
    result = AuditResult(results=(check,), provenance={
        "auditkit_version": auditkit.__version__, "random_state": 0})
    html = render_html(AuditResult.from_json(result.to_json()))
    assert html.count('<figure class="plot"') == len(KINDS)
    assert "could not be drawn" not in html and "There is no drawing" not in html


def test_every_kind_draws_into_a_pdf_slot():
    from matplotlib.figure import Figure as MplFigure

    with style():
        for figure in _every_kind().values():
            page = MplFigure(figsize=(8.27, 11.69))
            slot = page.add_subfigure(page.add_gridspec(3, 1)[1])
            with drawing_into(slot):
                assert draw(figure) is slot
            page.savefig(io.BytesIO(), format="png", dpi=30)
