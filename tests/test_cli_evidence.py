"""The command line writes the model card and the compliance map, and checks executor options."""

from __future__ import annotations

import json

import pytest

from auditkit import AuditResult, CheckResult, Metric, Status
from auditkit.cli import main


@pytest.fixture
def saved(tmp_path):
    result = AuditResult([
        CheckResult(name="performance_metrics", family="performance", status=Status.PASS,
                    headline="Accuracy 0.85.", metrics={"accuracy": Metric(0.85, 0.83, 0.87,
                                                                           0.95, n=1000)}),
        CheckResult(name="fairness_disparities", family="fairness", status=Status.FAIL,
                    headline="Gap 0.3."),
    ], title="Saved audit", model_card={"intended_use": "Screening loan files for review."})
    path = tmp_path / "result.json"
    result.save_json(path)
    return path


def test_report_writes_the_model_card_and_the_compliance_map(saved, tmp_path, capsys):
    card, compliance = tmp_path / "card.json", tmp_path / "compliance.json"
    assert main(["report", str(saved), "--out", str(tmp_path / "r.html"),
                 "--model-card", str(card), "--compliance", str(compliance)]) == 0
    out = capsys.readouterr().out
    assert f"Wrote {card.resolve()}" in out and f"Wrote {compliance.resolve()}" in out
    exported = json.loads(card.read_text("utf-8"))
    assert exported["schema_version"] == "0.0.2"
    assert "Screening loan files for review." in json.dumps(exported["considerations"])
    rows = json.loads(compliance.read_text("utf-8"))
    by_id = {row["requirement"]: row for row in rows}
    assert by_id["MEASURE 2.11"]["status"] == "FAIL"  # fairness_disparities failed
    assert "fairness_disparities (FAIL)" in by_id["MEASURE 2.11"]["evidence"]
    assert by_id["Art. 14"]["note"].startswith("needs a documented process")


def test_unwritable_model_card_path_is_refused_before_work(saved, tmp_path, capsys):
    missing = tmp_path / "no" / "such" / "card.json"
    assert main(["report", str(saved), "--out", str(tmp_path / "r.html"),
                 "--model-card", str(missing)]) == 2
    assert "--model-card" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_ray_address_without_the_ray_executor_is_a_usage_error(tmp_path, capsys):
    assert main(["audit", "--zoo", "adult-mlp", "--ray-address", "auto",
                 "--out", str(tmp_path / "r.html")]) == 2
    assert "'--ray-address' option needs '--executor ray'" in capsys.readouterr().err


def test_unknown_executor_is_a_usage_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["audit", "--zoo", "adult-mlp", "--executor", "spark"])
    assert stop.value.code == 2
    assert "invalid choice: 'spark'" in capsys.readouterr().err


def test_a_missing_pdf_engine_is_reported_before_the_audit_runs(tmp_path, capsys, monkeypatch):
    from auditkit.report import _pdf

    def missing():
        raise _pdf.PdfEngineError(_pdf.PDF_ENGINE_MISSING.format(error="ImportError: none"))

    monkeypatch.setattr(_pdf, "require_pdf_engine", missing)
    ran = []
    monkeypatch.setattr("auditkit.audit", lambda *a, **k: ran.append(1))
    assert main(["audit", "--zoo", "adult-mlp", "--out", str(tmp_path / "r.html"),
                 "--pdf", str(tmp_path / "r.pdf")]) == 2
    assert not ran and not (tmp_path / "r.html").exists()
    err = capsys.readouterr().err
    assert 'pip install "auditkit[pdf]"' in err and "libpango-1.0-0" in err
