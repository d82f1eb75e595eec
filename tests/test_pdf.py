"""The PDF report carries everything its HTML report carries.

The PDF is the HTML report laid out for print by WeasyPrint. These tests read
both back, the HTML with a small stdlib parser and the PDF's text with pypdf,
and check that print loses nothing the HTML shows: section headings, provenance
hashes, "Evidence for" clauses, every table's column headers, and every figure
(drawn, with its text). The expected content comes from each HTML page, never
from a hard-coded list.
"""

from __future__ import annotations

import builtins
import logging
import re
import sys
import unicodedata
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pypdf import PdfReader
from sklearn.linear_model import LogisticRegression

import auditkit
from auditkit import AuditData, AuditResult, CheckResult, Status, preset_options, zoo
from auditkit.exceptions import AuditkitError
from auditkit.report import render_html, render_pdf

#: A few checks per modality, at the quick preset's options: every kind of
#: content (metrics, clauses, figures, tables) in seconds.
MODALITIES = {
    "adult-mlp": ("performance_metrics", "performance_calibration", "fairness_group_metrics",
                  "fairness_disparities"),
    "mnist-cnn": ("performance_metrics", "performance_confusion_matrix",
                  "explanations_saliency"),
    "sentiment-lstm": ("performance_metrics", "performance_confusion_matrix"),
    "mnist-vae": ("generative_coverage", "generative_autoencoder"),
}
#: Full audits (the modality's own preset), slow: ``pytest -m slow tests/test_pdf.py``.
FULL = {"adult-mlp": "standard", "mnist-cnn": "standard", "sentiment-lstm": "standard",
        "mnist-vae": "generative"}
HEADINGS = {"h1", "h2", "h3", "h4", "caption", "summary"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
HEX = re.compile(r"\b[0-9a-f]{32,}\b")
FIGURE_FAILED = ("could not be drawn", "There is no drawing")


# -- reading the HTML back -----------------------------------------------------------------


@dataclass
class Node:
    """One HTML element: its tag, attributes and children (nodes and strings)."""

    tag: str
    attrs: dict[str, str]
    children: list[Node | str] = field(default_factory=list)

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self, tag: str | None = None, cls: str | None = None):
        for child in self.children:
            if isinstance(child, Node):
                if (tag is None or child.tag == tag) and (cls is None or cls in child.classes):
                    yield child
                yield from child.iter(tag, cls)


class _TreeBuilder(HTMLParser):
    """The page as a tree of :class:`Node`; an ``<svg>`` is kept whole as one node."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag):
        for depth in range(len(self.stack) - 1, 0, -1):
            if self.stack[depth].tag == tag:
                del self.stack[depth:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def _tree(html: str) -> Node:
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def _outside_svg_text(node: Node) -> str:
    return "".join(c if isinstance(c, str) else ("" if c.tag == "svg" else _outside_svg_text(c))
                   for c in node.children)


@dataclass
class Expected:
    """What a reader sees in the HTML report, to be found in the PDF."""

    headings: list[str]
    hashes: list[str]
    clauses: list[tuple[str, str]]
    table_headers: list[list[str]]
    figure_texts: list[str]
    n_svg: int
    failed_figures: list[str]


def _expected(html: str) -> Expected:
    root = _tree(html)
    body = next(root.iter("body"))
    provenance = next(body.iter(None, "provenance"), None)
    hashes = [n.text() for n in body.iter("code", "hash")]
    if provenance is not None:
        hashes += HEX.findall(_outside_svg_text(provenance))
    clauses = []
    for block in body.iter(None, "clauses"):
        for dl in block.iter("dl"):
            terms = [n for n in dl.children if isinstance(n, Node) and n.tag in ("dt", "dd")]
            clauses += [(dt.text(), dd.text()) for dt, dd in zip(terms[::2], terms[1::2],
                                                                   strict=True)]
    headers = [[th.text() for thead in table.iter("thead") for th in thead.iter("th")]
               for table in body.iter("table")]
    svgs = list(body.iter("svg"))
    return Expected(
        headings=[_outside_svg_text(n) for n in body.iter() if n.tag in HEADINGS],
        hashes=sorted(set(hashes)),
        clauses=clauses,
        table_headers=headers,
        figure_texts=["".join(t.text() for t in svg.iter("text")) for svg in svgs],
        n_svg=len(svgs),
        failed_figures=[n.text() for n in body.iter("figure")
                        if any(s in n.text() for s in FIGURE_FAILED)],
    )


# -- reading the PDF back ------------------------------------------------------------------


def _squash(text: str) -> str:
    """Text compared across formats: NFKC, case-folded, without any whitespace (lines wrap)."""
    return re.sub(r"\s+", "", unicodedata.normalize("NFKC", text)).casefold()


def _read_pdf(path: Path) -> tuple[str, list[str]]:
    """The PDF's squashed text, and the text drawn from beyond its page's right margin.

    Text starting in the right margin or past the page's edge belongs to a
    column that does not fit: a reader of the printed page never sees it.
    """
    text, off_page = [], []
    for page in PdfReader(path).pages:
        right = float(page.mediabox.width) - 30  # the margins are 14 mm, about 40 pt

        def visit(chunk, cm, tm, _font, _size, right=right):
            if chunk.strip() and cm[0] * tm[4] + cm[2] * tm[5] + cm[4] > right:
                off_page.append(chunk)

        text.append(page.extract_text(visitor_text=visit))
    return _squash("".join(text)), off_page


# -- one audit per modality ----------------------------------------------------------------


def _quick_audit(name: str) -> AuditResult:
    options = preset_options("quick")
    model, data = zoo.load(name)
    checks = [auditkit.get_check(check, **options.get(check, {})) for check in MODALITIES[name]]
    return auditkit.audit(model, data, checks=checks, progress=False, title=f"Audit of {name}")


def _full_audit(name: str) -> AuditResult:
    model, data = zoo.load(name)
    return auditkit.audit(model, data, preset=FULL[name], progress=False,
                          title=f"Audit of {name}")


@pytest.fixture(scope="module", params=[
    *(pytest.param(("quick", name), id=name) for name in MODALITIES),
    *(pytest.param(("full", name), id=f"{name}-{FULL[name]}", marks=pytest.mark.slow)
      for name in FULL)])
def rendered(request, tmp_path_factory):
    """(expected content of the HTML, squashed PDF text, text off the page, weasyprint errors)."""
    kind, name = request.param
    result = (_quick_audit if kind == "quick" else _full_audit)(name)
    path = tmp_path_factory.mktemp("pdf") / f"{kind}-{name}.pdf"
    errors = _ErrorLog()
    logger = logging.getLogger("weasyprint")
    logger.addHandler(errors)
    try:
        render_pdf(result, path)
    finally:
        logger.removeHandler(errors)
    return (_expected(render_html(result, print_mode=True)), *_read_pdf(path), errors.records)


class _ErrorLog(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record.getMessage())


def test_every_heading_is_in_the_pdf(rendered):
    expected, text, _, _ = rendered
    assert len(expected.headings) >= 8  # title, summary, families, checks, provenance...
    assert any("Provenance" in h for h in expected.headings)
    missing = [h for h in expected.headings if _squash(h) not in text]
    assert not missing


def test_every_hash_is_in_the_pdf(rendered):
    expected, text, _, _ = rendered
    assert any(len(h) == 64 for h in expected.hashes)  # SHA-256 of the model, data, policy
    assert not [h for h in expected.hashes if _squash(h) not in text]


def test_every_evidence_clause_is_in_the_pdf(rendered):
    expected, text, _, _ = rendered
    assert expected.clauses
    assert not [(i, t) for i, t in expected.clauses if _squash(i + t) not in text]


def test_no_table_loses_a_column(rendered):
    expected, text, off_page, _ = rendered
    assert len(expected.table_headers) >= 3
    for headers in expected.table_headers:
        assert not [h for h in headers if _squash(h) not in text], headers
    assert not off_page


def test_every_figure_is_drawn_in_the_pdf(rendered):
    expected, text, _, errors = rendered
    assert not expected.failed_figures  # the HTML drew them all
    assert expected.n_svg >= 1
    assert len(expected.figure_texts) == expected.n_svg
    drawn = [t for t in expected.figure_texts if t.strip() and _squash(t) in text]
    assert len(drawn) >= expected.n_svg  # each figure's text, in order, in the PDF
    assert not errors  # WeasyPrint drew every SVG and fetched nothing


# -- engine, determinism, network, signature -------------------------------------------------


@pytest.fixture(scope="module")
def small_result() -> AuditResult:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] + rng.normal(size=200) > 0).astype(int)
    return auditkit.audit(LogisticRegression().fit(X, y), AuditData(X, y),
                          checks=["performance_metrics"], progress=False, title="Small audit")


def test_same_signed_audit_gives_the_same_bytes_and_shows_its_signature(small_result,
                                                                          tmp_path):
    signature = {"verified": True, "file": "result.json.sig",
                 "text": "Signed by auditor@example.org on 2026-01-02 (ed25519 key abc123)."}
    signed = AuditResult(small_result.results,
                         provenance={**dict(small_result.provenance), "signature": signature})
    render_pdf(signed, tmp_path / "a.pdf")
    render_pdf(AuditResult.from_json(signed.to_json()), tmp_path / "b.pdf")
    content = (tmp_path / "a.pdf").read_bytes()
    assert content.startswith(b"%PDF")
    assert content == (tmp_path / "b.pdf").read_bytes()
    assert b"/CreationDate" not in content and b"/ID" not in content
    assert _squash(signature["text"]) in _read_pdf(tmp_path / "a.pdf")[0]


def test_a_table_too_wide_for_any_page_is_cut_into_parts(tmp_path):
    from auditkit.report._view import MAX_TABLE_COLUMNS

    n = MAX_TABLE_COLUMNS  # the widest table a report shows
    columns = [f"feature_{i}=a-rather-long-category-name" for i in range(n)]
    frame = pd.DataFrame(np.arange(5 * n).reshape(5, n) * 1001, columns=columns)
    result = AuditResult([CheckResult(name="custom_wide", family="performance",
                                      status=Status.INFO, headline="Wide.",
                                      tables={"records": frame})])
    html = render_html(result, print_mode=True)
    assert any(len(headers) == n for headers in _expected(html).table_headers)
    render_pdf(result, tmp_path / "wide.pdf")
    text, off_page = _read_pdf(tmp_path / "wide.pdf")
    assert not off_page
    assert not [c for c in columns if _squash(c) not in text]
    assert _squash(f"(columns 1\u201312 of {n})" + "".join(columns[:12])) in text
    # the next part repeats the first column, so that its rows can be told apart
    assert _squash(f"(columns 13\u201323 of {n})" + "".join([columns[0], *columns[12:23]])) \
        in text
    assert str(5 * n * 1001 - 1001) in text.replace(",", "")  # the last cell


def test_the_pdf_engine_fetches_nothing():
    from auditkit.report._pdf import offline_fetcher

    fetcher = offline_fetcher()
    for url in ("http://example.org/x.png", "https://example.org/a.css", "file:///etc/passwd",
                "ftp://example.org/f"):
        with pytest.raises(ValueError, match="loads nothing from outside the page"):
            fetcher(url)
    assert fetcher("data:text/plain;base64,aGk=").read() == b"hi"  # inline data only


def _import_fails_with(monkeypatch, error: Exception) -> None:
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "weasyprint" or name.startswith("weasyprint."):
            raise error
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "weasyprint", raising=False)
    monkeypatch.setattr(builtins, "__import__", fake_import)


@pytest.mark.parametrize("error", [ImportError("No module named 'weasyprint'"),
                                   OSError("cannot load library 'libpango-1.0-0'")])
def test_a_missing_engine_says_what_to_install(monkeypatch, small_result, tmp_path, error):
    from auditkit.report._pdf import require_pdf_engine

    _import_fails_with(monkeypatch, error)
    with pytest.raises(AuditkitError, match=r'pip install "auditkit\[pdf\]".*libpango-1\.0-0'):
        require_pdf_engine()
    with pytest.raises(AuditkitError, match=type(error).__name__):
        render_pdf(small_result, tmp_path / "none.pdf")
    assert not (tmp_path / "none.pdf").exists()
