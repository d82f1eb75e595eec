"""Signed, dated evidence: keygen, sign and verify, through the API and the command line."""

from __future__ import annotations

import json
import stat
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import auditkit
from auditkit import AuditData
from auditkit.cli import main
from auditkit.signing import (
    SigningError,
    canonical_json,
    generate_key,
    sign,
    signature_path_for,
    verify,
)

SIGNER = "Ada Lovelace <ada@example.org>"
WHEN = datetime(2026, 3, 14, 15, 9, 26, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def audit_result():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] + rng.normal(size=200) > 0).astype(int)
    checks = [auditkit.get_check("performance_metrics", n_resamples=30)]
    return auditkit.audit(LogisticRegression().fit(X, y), AuditData(X, y), checks=checks,
                          title="Audit of a signed model", progress=False)


@pytest.fixture()
def signed(tmp_path, audit_result):
    """A result, its report, a key pair and a signature over both, in tmp_path."""
    result = audit_result.save_json(tmp_path / "result.json")
    report = audit_result.save_html(tmp_path / "report.html")
    key = generate_key(tmp_path / "key.pem")
    sig = sign(result, key, signer=SIGNER, report_path=report, signed_at=WHEN)
    return {"result": result, "report": report, "key": key, "sig": sig,
            "pub": tmp_path / "key.pub.pem"}


def _flip_byte(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] = ord("7") if data[at] != ord("7") else ord("8")
    path.write_bytes(bytes(data))


def _first_digit(path: Path) -> int:
    """Offset of the first digit inside a JSON value (not whitespace, not a key)."""
    text = path.read_bytes()
    start = text.index(b'"random_state": ') + len(b'"random_state": ')
    assert text[start:start + 1].isdigit()
    return start


# -- keys ----------------------------------------------------------------------------------


def test_keygen_writes_a_private_key_only_its_owner_can_read(tmp_path):
    key = generate_key(tmp_path / "key.pem")
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert key.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert (tmp_path / "key.pub.pem").read_text().startswith("-----BEGIN PUBLIC KEY-----")
    with pytest.raises(SigningError, match="never overwritten"):
        generate_key(key)


# -- round trip ----------------------------------------------------------------------------


def test_sign_then_verify_names_the_signer_the_date_and_both_hashes(signed):
    assert signed["sig"] == signature_path_for(signed["result"])
    document = json.loads(signed["sig"].read_text())
    assert document["algorithm"] == "Ed25519"
    assert document["signer"] == SIGNER
    assert document["signed_at"] == "2026-03-14T15:09:26Z"
    loaded = json.loads(signed["result"].read_text())
    import hashlib

    assert document["result"]["sha256"] == hashlib.sha256(canonical_json(loaded)).hexdigest()
    assert document["report"]["sha256"] == hashlib.sha256(
        signed["report"].read_bytes()).hexdigest()

    found = verify(signed["result"], report_path=signed["report"], public_key=signed["pub"])
    assert found.ok and found.key_trusted
    assert found.signer == SIGNER and found.signed_at == WHEN
    assert "the result and the report" in found.reason
    assert found.summary().startswith(f"Signed by {SIGNER} on 2026-03-14 15:09 UTC")


def test_verify_without_a_public_key_says_the_key_is_only_self_declared(signed):
    found = verify(signed["result"])
    assert found.ok and not found.key_trusted
    assert "taken from the signature file" in found.reason
    assert "signed report was not checked" in found.reason


def test_reformatting_the_result_keeps_the_signature_valid(signed):
    # Whitespace and key order are not content: the hash is of the canonical JSON.
    data = json.loads(signed["result"].read_text())
    signed["result"].write_text(json.dumps(data, indent=None, sort_keys=False))
    assert verify(signed["result"], public_key=signed["pub"]).ok


# -- tampering -----------------------------------------------------------------------------


def test_one_changed_byte_of_the_result_fails(signed):
    _flip_byte(signed["result"], _first_digit(signed["result"]))
    found = verify(signed["result"], public_key=signed["pub"])
    assert not found.ok
    assert "result" in found.reason and "changed after signing" in found.reason


def test_a_result_that_no_longer_parses_fails_rather_than_erroring(signed):
    text = signed["result"].read_bytes()
    signed["result"].write_bytes(text.replace(b"{", b"[", 1))
    found = verify(signed["result"])
    assert not found.ok and "changed after signing" in found.reason


def test_one_changed_byte_of_the_report_fails(signed):
    _flip_byte(signed["report"], 100)
    found = verify(signed["result"], report_path=signed["report"], public_key=signed["pub"])
    assert not found.ok
    assert "report" in found.reason and "changed after signing" in found.reason


@pytest.mark.parametrize("field, value", [("signer", "Mallory <m@example.org>"),
                                          ("signed_at", "2025-01-01T00:00:00Z")])
def test_a_changed_signature_field_fails(signed, field, value):
    document = json.loads(signed["sig"].read_text())
    document[field] = value
    signed["sig"].write_text(json.dumps(document))
    found = verify(signed["result"], public_key=signed["pub"])
    assert not found.ok
    assert "does not match the signed fields" in found.reason


def test_a_changed_result_hash_in_the_signature_fails(signed):
    document = json.loads(signed["sig"].read_text())
    document["result"]["sha256"] = "0" * 64
    signed["sig"].write_text(json.dumps(document))
    assert "does not match the signed fields" in verify(signed["result"]).reason


def test_another_key_fails(signed, tmp_path):
    generate_key(tmp_path / "other.pem")
    found = verify(signed["result"], public_key=tmp_path / "other.pub.pem")
    assert not found.ok and "different key" in found.reason
    # Re-signing with another key is caught by the public key the verifier trusts.
    sign(signed["result"], tmp_path / "other.pem", signer=SIGNER)
    assert verify(signed["result"]).ok  # integrity only: the embedded key matches
    assert "different key" in verify(signed["result"], public_key=signed["pub"]).reason


def test_a_report_the_signature_does_not_cover_fails(signed):
    sign(signed["result"], signed["key"], signer=SIGNER)  # no report this time
    found = verify(signed["result"], report_path=signed["report"])
    assert not found.ok and "does not cover a report" in found.reason


def test_a_signature_file_that_is_not_one_fails(signed):
    signed["sig"].write_text('{"format": "something else"}')
    found = verify(signed["result"])
    assert not found.ok and "lacks the field(s)" in found.reason


# -- bad input -----------------------------------------------------------------------------


def test_bare_nan_or_duplicate_keys_cannot_be_signed(tmp_path, signed):
    for name, text in (("nan.json", '{"a": NaN}'), ("dup.json", '{"a": 1, "a": 2}')):
        (tmp_path / name).write_text(text)
        with pytest.raises(SigningError, match="The 'result' file must be strict JSON"):
            sign(tmp_path / name, signed["key"], signer=SIGNER)


def test_bad_signer_key_and_missing_files_are_refused(tmp_path, signed):
    with pytest.raises(SigningError, match="The 'signer' parameter must be a non-empty"):
        sign(signed["result"], signed["key"], signer="  ")
    with pytest.raises(SigningError, match="The 'key' parameter must be an unencrypted Ed25519"):
        sign(signed["result"], signed["pub"], signer=SIGNER)
    with pytest.raises(SigningError, match="The 'result' parameter must name an existing file"):
        verify(tmp_path / "absent.json")
    with pytest.raises(SigningError, match="The 'sig' parameter must name an existing file"):
        verify(signed["result"], tmp_path / "absent.sig")


# -- command line --------------------------------------------------------------------------


def test_cli_keygen_sign_verify_and_exit_codes(tmp_path, audit_result, capsys):
    result = audit_result.save_json(tmp_path / "result.json")
    report = audit_result.save_html(tmp_path / "report.html")
    key = tmp_path / "k.pem"
    assert main(["keygen", "--out", str(key)]) == 0
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert main(["keygen", "--out", str(key)]) == 2
    assert main(["sign", str(result), "--key", str(key), "--signer", SIGNER,
                 "--report", str(report)]) == 0
    capsys.readouterr()
    pub = str(tmp_path / "k.pub.pem")
    assert main(["verify", str(result), "--report", str(report), "--public-key", pub]) == 0
    out = capsys.readouterr().out
    assert f"Signed by {SIGNER} on " in out and "Report SHA-256:" in out

    _flip_byte(report, 100)
    assert main(["verify", str(result), "--report", str(report), "--public-key", pub]) == 1
    assert "verify failed: The report" in capsys.readouterr().err
    assert main(["verify", str(tmp_path / "absent.json")]) == 2
    assert main(["verify", str(result), "--sig", str(tmp_path / "absent.sig")]) == 2
    assert main(["sign", str(result), "--key", str(tmp_path / "absent.pem"),
                 "--signer", SIGNER]) == 2


def test_rerendered_report_shows_who_signed_or_that_it_does_not_verify(signed, tmp_path):
    out = tmp_path / "again.html"
    assert main(["report", str(signed["result"]), "--out", str(out)]) == 0
    html = out.read_text()
    assert f"Signed by {SIGNER.replace('<', '&lt;').replace('>', '&gt;')} on 2026-03-14" in html

    _flip_byte(signed["result"], _first_digit(signed["result"]))
    assert main(["report", str(signed["result"]), "--out", str(out)]) == 0
    html = out.read_text()
    assert "Signature (does not verify)" in html and "Signed by" not in html

    signed["sig"].unlink()
    assert main(["report", str(signed["result"]), "--out", str(out)]) == 0
    assert "Signature" not in out.read_text().split('id="provenance"')[1]
