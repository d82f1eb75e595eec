"""The report's figures: legible text, text alternatives, honest colour scales, small SVG.

Figures are drawn from hand-made :class:`auditkit.Figure` data; the SVG is parsed
as XML, so every test also checks that it is well formed.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest

from auditkit import Figure
from auditkit.report._plots import (
    MIN_TEXT_PX,
    SHOWN_MAX_PX,
    contrast_ratio,
    draw,
    make_legible,
    style,
    to_svg,
)

SVG = "{http://www.w3.org/2000/svg}"
LONG_GROUP = "Asian-Pac-Islander and a group name far longer than a tick label"
LONG_METHOD = "Integrated Gradients with a smooth baseline"


# -- figures -------------------------------------------------------------------------------


def _group_rates(groups=("Female", "Male"), title="Rates by sex") -> Figure:
    k = len(groups)
    values = np.array([np.linspace(0.11, 0.31, k)] * 4)
    return Figure("group_rates", {
        "groups": list(groups), "rates": ["selection_rate", "tpr", "fpr", "accuracy"],
        "values": values, "lower": values - 0.02, "upper": values + 0.02,
        "count": [500 + i for i in range(k)], "too_small": [False] * k, "min_group_size": 30,
        "confidence": 0.95, "positive_class": ">50K"}, title)


def _attribution_bars(n_samples=6, n_features=12, signed=True) -> Figure:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(n_samples, n_features))
    return Figure("attribution_bars", {
        "names": [f"feature_number_{j}" for j in range(n_features)],
        "values": values if signed else np.abs(values),
        "labels": [f"sample {i}: true '>50K', predicted '<=50K' (p=0.91)"
                   for i in range(n_samples)]}, "Attributions per feature")


def _image_attributions(heatmaps: np.ndarray, **extra) -> Figure:
    images = np.zeros((len(heatmaps), 8, 8))
    images[:, 2:6, 3:5] = 1.0
    return Figure("image_attributions", {"images": images, "heatmaps": heatmaps,
                                         "labels": ["sample 0: true '1', predicted '1'"]
                                         * len(heatmaps), **extra}, "Saliency")


def _disparities(**levels) -> Figure:
    metrics = ["demographic_parity_difference", "equalized_odds_difference",
               "equal_opportunity_difference", "predictive_parity_difference"]
    values = np.array([[0.2, 0.21], [0.1, 0.3], [0.05, 0.2], [0.02, 0.1]])
    return Figure("disparity_intervals", {
        "features": ["sex", "race"], "metrics": metrics, "values": values,
        "lower": values - 0.05, "upper": values + 0.05, "confidence": 0.95, **levels},
        "Disparities between groups")


def _tokens(scores) -> Figure:
    words = [f"word{i}" for i in range(len(scores))]
    return Figure("token_attributions", {"tokens": [words], "scores": [list(scores)],
                                         "labels": ["sample 0: true 'pos'"]}, "Tokens")


def _svg(figure: Figure) -> str:
    drawing = to_svg(figure, salt="test")
    assert drawing.note is None, drawing.note
    return str(drawing.svg)


def _drawn(figure: Figure):
    with style():
        return draw(figure)


# -- reading the SVG -----------------------------------------------------------------------


def _rules(root) -> dict[str, dict[str, str]]:
    css = "".join(node.text or "" for node in root.iter(f"{SVG}style"))
    return {name: _declarations(body) for name, body in re.findall(r"\.([\w-]+)\{([^}]*)\}", css)}


def _declarations(text: str) -> dict[str, str]:
    pairs = (part.split(":", 1) for part in text.split(";") if ":" in part)
    return {key.strip(): value.strip() for key, value in pairs}


def _text_sizes(svg: str) -> list[tuple[str, float]]:
    """Each text of the SVG with its font size in CSS px as the report shows the figure."""
    root = ElementTree.fromstring(svg)
    width_px = float(root.get("width").removesuffix("pt")) * 4 / 3
    scale = min(width_px, SHOWN_MAX_PX) / float(root.get("viewBox").split()[2])
    rules = _rules(root)
    found: list[tuple[str, float]] = []

    def walk(node, inherited: dict[str, str]) -> None:
        props = dict(inherited)
        props.update(node.attrib)  # presentation attributes
        for name in (node.get("class") or "").split():
            props.update(rules.get(name, {}))
        props.update(_declarations(node.get("style") or ""))
        if node.tag == f"{SVG}text":
            size = float(props["font-size"].removesuffix("px"))
            found.append(("".join(node.itertext()), size * scale))
        for child in node:
            walk(child, props)

    walk(root, {})
    return found


def _texts(svg: str) -> list[str]:
    return [text for text, _ in _text_sizes(svg)]


# -- legibility ----------------------------------------------------------------------------


@pytest.mark.parametrize("figure", [
    _group_rates(), _attribution_bars(), _disparities(),
    _image_attributions(np.ones((2, 8, 8))), _tokens([0.5, -1.0, 0.2]),
    Figure("roc_curves", {"fpr": np.linspace(0, 1, 50), "tpr": [np.linspace(0, 1, 50) ** 0.3],
                          "classes": ["yes"]}, "ROC"),
    Figure("confusion_matrix", {"counts": np.arange(16).reshape(4, 4),
                                "normalised": np.eye(4), "labels": list("abcd")}, "Matrix"),
], ids=lambda figure: figure.kind)
def test_every_text_is_at_least_10_px_as_shown(figure):
    sizes = _text_sizes(_svg(figure))
    assert sizes
    small = [(text, round(px, 2)) for text, px in sizes if px < MIN_TEXT_PX - 1e-6]
    assert small == []


def test_a_figure_wider_than_the_page_gets_larger_text():
    from matplotlib.figure import Figure as MplFigure

    fig = MplFigure(figsize=(12.0, 3.0))
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1])
    ax.tick_params(labelsize=6.0)
    ax.set_title("tiny", fontsize=5.0)
    make_legible(fig)
    shown = SHOWN_MAX_PX / (12.0 * 96.0)  # the report scales the figure down to fit
    assert ax.title.get_fontsize() * 4 / 3 * shown >= MIN_TEXT_PX - 1e-9
    assert all(label.get_fontsize() * 4 / 3 * shown >= MIN_TEXT_PX - 1e-9
               for label in ax.get_xticklabels())


def test_grid_lines_are_drawn_behind_the_bars():
    fig = _drawn(_group_rates())
    ax = fig.axes[0]
    assert ax.get_axisbelow() is True
    assert ax.xaxis.get_zorder() < min(bar.get_zorder() for bar in ax.patches)


def test_no_label_is_cut_with_an_ellipsis():
    figures = [_group_rates(groups=("Female", LONG_GROUP)),
               Figure("agreement_matrix", {"matrix": np.eye(2), "labels": ["Saliency",
                                                                          LONG_METHOD]},
                      "Agreement"),
               Figure("robust_accuracy_curve", {
                   "epsilons": [0.1, 0.2], "accuracy": [[0.5, 0.2]], "lower": [[0.4, 0.1]],
                   "upper": [[0.6, 0.3]], "clean_accuracy": 0.9, "attacks": [LONG_METHOD * 2],
                   "reference": 0.1, "norm": "linf"}, "Robust accuracy")]
    for figure in figures:
        texts = _texts(_svg(figure))
        assert not [t for t in texts if t.rstrip().endswith(("\u2026", "..."))]
        words = " ".join(texts).split()
        for long in (LONG_GROUP, LONG_METHOD):
            if any(long.split()[0] in t for t in texts):
                assert all(word in words for word in long.split())


# -- text alternative ----------------------------------------------------------------------


def test_svg_has_an_escaped_title_and_a_description_of_the_values():
    svg = _svg(_group_rates(groups=("Female", "<script>x</script> & co"),
                            title="Rates by <b>sex</b> & race"))
    root = ElementTree.fromstring(svg)  # well formed: every text is escaped
    assert root[0].tag == f"{SVG}title" and root[1].tag == f"{SVG}desc"
    assert root[0].text == "Rates by <b>sex</b> & race"
    assert "<title>Rates by &lt;b&gt;sex&lt;/b&gt; &amp; race</title>" in svg
    assert "<script>" not in svg
    description = root[1].text
    assert "Selection rate" in description
    assert "Female (n=500) 0.11" in description
    assert "<script>x</script> & co (n=501) 0.31" in description


def test_description_names_curves_and_their_ranges():
    svg = _svg(Figure("roc_curves", {"fpr": np.linspace(0, 1, 50),
                                     "tpr": [np.linspace(0, 1, 50) ** 0.3],
                                     "classes": ["yes"]}, "ROC"))
    description = ElementTree.fromstring(svg)[1].text
    assert "curve 'yes' of 50 points, x from 0 to 1, y from 0 to 1" in description


# -- colour scales -------------------------------------------------------------------------


def _overlays(fig):
    return [ax.get_images()[-1] for ax in fig.axes if len(ax.get_images()) == 2]


def test_non_negative_attributions_use_a_sequential_scale_from_zero():
    heat = np.abs(np.random.default_rng(1).normal(size=(2, 8, 8)))
    fig = _drawn(_image_attributions(heat))
    overlays = _overlays(fig)
    assert len(overlays) == 2
    for image, row in zip(overlays, heat, strict=True):
        assert image.norm.vmin == 0.0 and image.norm.vmax == pytest.approx(row.max())
        alphas = [image.cmap(x)[3] for x in np.linspace(0, 1, 11)]
        assert alphas[0] == 0.0 and np.all(np.diff(alphas) >= 0)  # more opaque with magnitude
        # the input is drawn under the attribution, in the same axes
        assert image.axes.get_images()[0].get_cmap().name == "gray"


def test_signed_attributions_are_diverging_and_centred_at_zero():
    heat = np.random.default_rng(2).normal(size=(1, 8, 8))
    (image,) = _overlays(_drawn(_image_attributions(heat)))
    assert image.norm.vmin == -image.norm.vmax == -np.abs(heat).max()
    assert image.cmap(0.5)[3] < 0.01  # zero is clear: the input shows through


def test_the_figure_can_say_whether_attributions_are_signed():
    heat = np.abs(np.random.default_rng(3).normal(size=(1, 8, 8)))
    (image,) = _overlays(_drawn(_image_attributions(heat, signed=True)))
    assert image.norm.vmin < 0


def test_every_colour_bar_says_what_the_colour_means():
    figures = [_image_attributions(np.ones((2, 8, 8))),
               Figure("sequence_attributions", {"series": np.zeros((1, 5, 2)),
                                                "heatmaps": np.ones((1, 5, 2)),
                                                "labels": ["sample 0"]}, "Sequence"),
               Figure("agreement_matrix", {"matrix": np.eye(2), "labels": ["a", "b"]}, "A")]
    for figure in figures:
        bars = [ax for ax in _drawn(figure).axes if getattr(ax, "_colorbar", None)]
        assert bars
        assert all(ax.get_ylabel().strip() for ax in bars)


def test_token_text_contrasts_with_its_highlight():
    fig = _drawn(_tokens([1.0, 0.9, 0.5, 0.0, -0.5, -1.0]))
    highlighted = [t for t in fig.axes[0].texts if t.get_bbox_patch() is not None]
    assert len(highlighted) == 6
    darkest = highlighted[0]  # the largest positive score: the darkest blue
    assert darkest.get_color() == "#FFFFFF"
    for text in highlighted:
        background = text.get_bbox_patch().get_facecolor()
        assert contrast_ratio(text.get_color(), background) >= 4.5


def test_contrast_ratio_matches_wcag():
    assert contrast_ratio("#000000", "#FFFFFF") == pytest.approx(21.0)
    assert contrast_ratio("#777777", "#FFFFFF") == pytest.approx(4.48, abs=0.01)


# -- policy levels on the disparity plot ---------------------------------------------------


def _vertical_lines(fig) -> dict[str, float]:
    return {line.get_label(): float(line.get_xdata()[0]) for line in fig.axes[0].get_lines()
            if not line.get_label().startswith("_")
            and len(set(np.asarray(line.get_xdata(), dtype=float))) == 1}


def test_disparity_plot_draws_the_policy_levels_when_given():
    nan = float("nan")
    fig = _drawn(_disparities(warn_thresholds=[0.1, 0.1, nan, nan],
                              fail_thresholds=[0.2, 0.25, nan, nan]))
    lines = _vertical_lines(fig)
    assert lines["policy warn level 0.1"] == 0.1
    assert lines["policy fail level 0.2 (Demographic parity)"] == 0.2
    assert lines["policy fail level 0.25 (Equalized odds)"] == 0.25
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "policy warn level 0.1" in legend


def test_disparity_plot_without_levels_draws_none():
    assert not [label for label in _vertical_lines(_drawn(_disparities()))
                if label.startswith("policy")]


# -- size ----------------------------------------------------------------------------------


def test_svg_is_compact_and_keeps_its_data():
    rng = np.random.default_rng(4)
    fpr = np.sort(rng.uniform(size=2000))
    roc = Figure("roc_curves", {"fpr": fpr, "tpr": [np.sqrt(fpr)], "classes": ["yes"]}, "ROC")
    svg = _svg(roc)
    assert len(svg) < 12_000
    assert not re.search(r"\d\.\d{3,}", re.sub(r"<desc>.*?</desc>", "", svg))
    assert len(_svg(_attribution_bars())) < 24_000
    assert len(_svg(_group_rates(groups=[f"group {i}" for i in range(12)]))) < 20_000


def test_a_dense_scatter_is_embedded_as_a_picture():
    rng = np.random.default_rng(5)
    points = Figure("generative_distances", {
        "generated": rng.uniform(size=3000), "held_out": rng.uniform(size=3000),
        "threshold": 0.1, "space": "pixels"}, "Distances")
    svg = _svg(points)
    assert len(svg) < 60_000


def test_ids_are_unique_per_figure_and_references_resolve():
    first, second = _svg(_group_rates()), _svg(_disparities())
    second_salted = str(to_svg(_group_rates(), salt="other").svg)
    for svg in (first, second):
        ids = re.findall(r'\sid="([^"]+)"', svg)
        references = re.findall(r'(?:href="#|url\(#)([^")]+)', svg)
        assert set(references) <= set(ids)
    assert not set(re.findall(r'\sid="([^"]+)"', first)) & set(
        re.findall(r'\sid="([^"]+)"', second_salted))


@pytest.mark.slow
def test_the_default_adult_report_is_at_most_600_kb(tmp_path):
    from auditkit import audit, zoo

    model, data = zoo.load("adult-mlp")
    result = audit(model, data, preset="standard", device="cpu", progress=False)
    path = tmp_path / "report.html"
    result.save_html(path)
    html = path.read_text(encoding="utf-8")
    figures = sum(len(svg) for svg in re.findall(r"<svg\b.*?</svg>", html, re.DOTALL))
    assert figures <= 360_000
    assert len(html.encode("utf-8")) <= 600_000
