"""Signed, dated evidence: detached Ed25519 signatures over a saved audit.

EU AI Act Annex IV asks for test logs "dated and signed by the responsible
persons". :func:`sign` writes a small JSON file beside a result
(``result.json.sig``) that says who signed, when, with which key, and the
SHA-256 of the result (and optionally of its HTML report); :func:`verify`
checks it. The signature is over the canonical bytes of every field of that
file except the signature itself, so changing the signer, the date, a hash or
the key breaks it.

Canonical JSON
--------------
The result is hashed as ``json.dumps(obj, sort_keys=True, separators=(",", ":"),
ensure_ascii=False, allow_nan=False).encode("utf-8")`` of the loaded JSON. So
whitespace and key order are not content (a re-indented file still verifies),
while any change to a key, a value or the structure is. auditkit writes NaN and
infinity as tagged objects (``{"__float__": "NaN"}``), so its results are
strict JSON; a file with a bare ``NaN``, ``Infinity`` or a duplicate key has no
single meaning and is refused, both when signing and when verifying.

The report is hashed as its raw bytes: any byte changed is a different report.

Examples
--------
>>> from auditkit import signing
>>> key = signing.generate_key("key.pem")  # doctest: +SKIP
>>> signing.sign("result.json", key, signer="Ada Lovelace <ada@example.org>")  # doctest: +SKIP
PosixPath('result.json.sig')
>>> signing.verify("result.json", public_key="key.pub.pem").ok  # doctest: +SKIP
True
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from os import PathLike
from pathlib import Path
from typing import Any

from .exceptions import BAD_VALUE, AuditkitError

__all__ = [
    "SIGNATURE_FORMAT",
    "SIGNATURE_SUFFIX",
    "SigningError",
    "Verification",
    "canonical_json",
    "generate_key",
    "public_key_path_for",
    "sign",
    "signature_path_for",
    "verify",
    "with_signature",
]

#: The ``format`` field of a signature file, and the version this module writes.
SIGNATURE_FORMAT = "auditkit-signature"
_FORMAT_VERSION = 1
_ALGORITHM = "Ed25519"
#: A detached signature sits beside the result, with this suffix added.
SIGNATURE_SUFFIX = ".sig"
_SIGNED_FIELDS = ("format", "format_version", "algorithm", "signer", "signed_at", "public_key",
                  "result", "report")
_DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

_MISSING_FILE = "The '{param}' parameter must name an existing file. Got {got!r} instead."
_NOT_JSON = ("The '{param}' file must be {expected}. Got {got!r}, which cannot be read as "
             "such: {problem}")
_KEY_EXISTS = ("The '{param}' parameter must name a file that does not exist yet (a key is "
               "never overwritten). Got {got!r}, which exists.")


class SigningError(AuditkitError):
    """A key, a result or a signature file cannot be used as given."""


@dataclass(frozen=True)
class Verification:
    """What :func:`verify` found.

    Parameters
    ----------
    ok : bool
        True when every check passed: signature, result hash and, when a
        report was given, report hash.
    signer : str or None
        The ``signer`` field of the signature file (untrusted when ``ok`` is False).
    signed_at : datetime or None
        The UTC date-time the signature file records.
    reason : str
        One sentence: what failed, or what was verified.
    result_sha256, report_sha256 : str or None
        The hashes the signature file records.
    public_key : str or None
        The signing key, raw 32 bytes in base64.
    key_trusted : bool
        True when the caller gave the public key; False when the key was taken
        from the signature file itself, which proves integrity but not identity.
    """

    ok: bool
    signer: str | None
    signed_at: datetime | None
    reason: str
    result_sha256: str | None = None
    report_sha256: str | None = None
    public_key: str | None = None
    key_trusted: bool = False

    @property
    def fingerprint(self) -> str | None:
        """The first 16 hex digits of the SHA-256 of the raw public key."""
        if self.public_key is None:
            return None
        return hashlib.sha256(base64.b64decode(self.public_key)).hexdigest()[:16]

    def summary(self) -> str:
        """One line for people: "Signed by ... on ..." or why it does not verify."""
        if not self.ok:
            return f"The signature does not verify. {self.reason}"
        when = self.signed_at.strftime("%Y-%m-%d %H:%M UTC") if self.signed_at else "?"
        key = "key " + str(self.fingerprint) + ("" if self.key_trusted
                                                else ", taken from the signature file")
        return f"Signed by {self.signer} on {when} (Ed25519, {key})."


def canonical_json(obj: Any) -> bytes:
    """The canonical UTF-8 bytes of JSON data: sorted keys, no spaces, no NaN.

    Parameters
    ----------
    obj : JSON-ready data

    Returns
    -------
    bytes

    Raises
    ------
    ValueError
        When ``obj`` holds NaN or infinity, which strict JSON cannot hold.

    Examples
    --------
    >>> canonical_json({"b": 1, "a": [1.5, None]})
    b'{"a":[1.5,null],"b":1}'
    """
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def signature_path_for(result_path: str | PathLike[str]) -> Path:
    """The default signature path of a result: ``result.json`` -> ``result.json.sig``."""
    path = Path(result_path)
    return path.with_name(path.name + SIGNATURE_SUFFIX)


def generate_key(path: str | PathLike[str]) -> Path:
    """Write a new Ed25519 private key (PEM, mode 0600) and its public key beside it.

    Parameters
    ----------
    path : path-like
        Where the private key goes; it must not exist. The public key goes to
        the same name with ``.pub.pem`` (``key.pem`` -> ``key.pub.pem``).

    Returns
    -------
    pathlib.Path
        The private key's path.

    Examples
    --------
    >>> generate_key("key.pem")  # doctest: +SKIP
    PosixPath('key.pem')
    """
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    path = Path(path)
    public_path = public_key_path_for(path)
    for param, target in (("out", path), ("out", public_path)):
        if target.exists():
            raise SigningError(_KEY_EXISTS.format(param=param, got=str(target)))
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
    # Created with 0600 from the start, so the key is never readable by others, not even briefly.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(private_pem)
    os.chmod(path, 0o600)  # in case the umask removed bits we meant to keep
    public_path.write_bytes(public_pem)
    return path


def public_key_path_for(private_path: str | PathLike[str]) -> Path:
    """``key.pem`` -> ``key.pub.pem``; ``key`` -> ``key.pub.pem``."""
    path = Path(private_path)
    stem = path.name[:-len(".pem")] if path.name.endswith(".pem") else path.name
    return path.with_name(stem + ".pub.pem")


def sign(result_path: str | PathLike[str], key_path: str | PathLike[str], *, signer: str,
         report_path: str | PathLike[str] | None = None,
         out: str | PathLike[str] | None = None, signed_at: datetime | None = None) -> Path:
    """Write a detached, dated Ed25519 signature of a saved audit (and its report).

    Parameters
    ----------
    result_path : path-like
        A JSON result written by ``auditkit audit --json`` or ``save_json``.
    key_path : path-like
        An unencrypted Ed25519 private key in PEM (``auditkit keygen``).
    signer : str
        Who signs, e.g. ``"Ada Lovelace <ada@example.org>"``; one line.
    report_path : path-like, optional
        The report file (HTML or PDF) to bind to the signature by its SHA-256.
    out : path-like, optional
        Where to write; default ``result_path`` with ``.sig`` added.
    signed_at : datetime, optional
        The signing time (default now); stored in UTC to the second.

    Returns
    -------
    pathlib.Path
        The signature file written.

    Examples
    --------
    >>> sign("result.json", "key.pem", signer="Ada <ada@example.org>")  # doctest: +SKIP
    PosixPath('result.json.sig')
    """
    from cryptography.hazmat.primitives import serialization

    if not isinstance(signer, str) or not signer.strip() or "\n" in signer or "\r" in signer:
        raise SigningError(BAD_VALUE.format(param="signer", expected="a non-empty, one-line "
                                            "name such as 'Name <email>'", got=repr(signer)))
    result_hash = _result_sha256(Path(result_path), param="result")
    private_key = _load_private_key(Path(key_path))
    when = (signed_at or datetime.now(timezone.utc)).astimezone(timezone.utc)
    raw_public = private_key.public_key().public_bytes(serialization.Encoding.Raw,
                                                       serialization.PublicFormat.Raw)
    document: dict[str, Any] = {
        "format": SIGNATURE_FORMAT,
        "format_version": _FORMAT_VERSION,
        "algorithm": _ALGORITHM,
        "signer": signer.strip(),
        "signed_at": when.strftime(_DATE_FORMAT),
        "public_key": base64.b64encode(raw_public).decode("ascii"),
        "result": {"file": Path(result_path).name, "sha256": result_hash,
                   "canonicalization": "json-sorted-compact-utf8"},
        "report": None,
    }
    if report_path is not None:
        document["report"] = {"file": Path(report_path).name,
                              "sha256": _file_sha256(Path(report_path), param="report")}
    signature = private_key.sign(canonical_json(document))
    document["signature"] = base64.b64encode(signature).decode("ascii")
    target = Path(out) if out is not None else signature_path_for(result_path)
    target.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return target


def verify(result_path: str | PathLike[str],
           signature_path: str | PathLike[str] | None = None, *,
           report_path: str | PathLike[str] | None = None,
           public_key: str | PathLike[str] | None = None) -> Verification:
    """Check a detached signature against a result, its report and a public key.

    Parameters
    ----------
    result_path : path-like
        The signed JSON result.
    signature_path : path-like, optional
        The signature file; default ``result_path`` with ``.sig`` added.
    report_path : path-like, optional
        The report to check against the hash in the signature; without it the
        report is not checked.
    public_key : path-like, optional
        The signer's public key (PEM, or their private key). Without it the key
        recorded in the signature file is used, which proves the files were not
        changed after signing but not who signed.

    Returns
    -------
    Verification
        ``ok`` is False, with a one-sentence ``reason``, on any mismatch.

    Raises
    ------
    SigningError
        When a file is missing or the result or key cannot be read (bad input,
        as opposed to a failed verification).

    Examples
    --------
    >>> verify("result.json", public_key="key.pub.pem").ok  # doctest: +SKIP
    True
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    result_path = Path(result_path)
    sig_path = Path(signature_path) if signature_path is not None else signature_path_for(
        result_path)
    if not result_path.is_file():
        raise SigningError(_MISSING_FILE.format(param="result", got=str(result_path)))
    if not sig_path.is_file():
        raise SigningError(_MISSING_FILE.format(param="sig", got=str(sig_path)))
    try:
        actual_result: str | None = _result_sha256(result_path, param="result")
        unreadable = ""
    except SigningError as exc:  # a result that no longer parses was changed: a failed check
        actual_result, unreadable = None, str(exc)
    actual_report = (_file_sha256(Path(report_path), param="report")
                     if report_path is not None else None)
    given_key = _load_public_raw(Path(public_key)) if public_key is not None else None

    failed = Verification(ok=False, signer=None, signed_at=None, reason="")
    try:
        document = _load_json(sig_path, param="sig", expected="an auditkit signature (JSON)")
    except SigningError as exc:
        return replace(failed, reason=f"{exc}")
    problem = _shape_problem(document)
    if problem:
        return replace(failed, reason=f"The signature file {str(sig_path)!r} {problem}.")
    recorded = Verification(
        ok=False, signer=document["signer"], signed_at=_parse_date(document["signed_at"]),
        reason="", result_sha256=document["result"]["sha256"],
        report_sha256=(document["report"] or {}).get("sha256"),
        public_key=document["public_key"], key_trusted=given_key is not None)
    try:
        raw_key = base64.b64decode(document["public_key"], validate=True)
        signature = base64.b64decode(document["signature"], validate=True)
        key = Ed25519PublicKey.from_public_bytes(raw_key)
    except ValueError as exc:
        return replace(recorded, reason=f"The signature file's key or signature is not valid "
                                        f"base64 Ed25519 data ({exc}).")
    if given_key is not None and given_key != raw_key:
        return replace(recorded, reason="The result was signed with a different key than the "
                                        f"public key given ({str(public_key)!r}).")
    try:
        key.verify(signature, canonical_json({k: document[k] for k in _SIGNED_FIELDS}))
    except InvalidSignature:
        return replace(recorded, reason="The signature does not match the signed fields: the "
                                        "signer, date, hashes or key in the signature file "
                                        "were changed after signing.")
    if actual_result is None:
        return replace(recorded, reason=f"The result was changed after signing: {unreadable}")
    if actual_result != recorded.result_sha256:
        return replace(recorded, reason=f"The result {str(result_path)!r} was changed after "
                                        "signing (its canonical SHA-256 differs).")
    if actual_report is not None:
        if recorded.report_sha256 is None:
            return replace(recorded, reason="The signature does not cover a report, so "
                                            f"{str(report_path)!r} cannot be verified by it.")
        if actual_report != recorded.report_sha256:
            return replace(recorded, reason=f"The report {str(report_path)!r} was changed "
                                            "after signing (its SHA-256 differs).")
    covered = "the result" + (" and the report" if actual_report is not None else "")
    if actual_report is None and recorded.report_sha256 is not None:
        covered += " (the signed report was not checked: pass the report to check it)"
    trust = ("" if given_key is not None else "; the key was taken from the signature file, so "
             "pass the signer's public key to check who signed")
    return replace(recorded, ok=True, reason=f"The signature verifies for {covered}{trust}.")


def with_signature(result: Any, result_path: str | PathLike[str]) -> Any:
    """Return ``result`` with a ``signature`` provenance entry when a ``.sig`` sits beside it.

    The report shows this entry as "Signed by ... on ..." or as "The signature
    does not verify: ...". Without a signature file, ``result`` is returned as is.

    Parameters
    ----------
    result : AuditResult
        The audit loaded from ``result_path``.
    result_path : path-like
        The JSON file it was loaded from.

    Returns
    -------
    AuditResult
    """
    import dataclasses

    sig_path = signature_path_for(result_path)
    if not sig_path.is_file():
        return result
    try:
        found = verify(result_path, sig_path)
    except SigningError as exc:
        found = Verification(ok=False, signer=None, signed_at=None, reason=str(exc))
    entry = {"verified": found.ok, "text": found.summary(), "file": sig_path.name}
    return dataclasses.replace(result, provenance={**dict(result.provenance), "signature": entry})


# -- helpers -------------------------------------------------------------------------------


def _load_json(path: Path, *, param: str, expected: str) -> Any:
    def no_constants(name: str) -> Any:
        raise ValueError(f"bare {name} is not strict JSON")

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"duplicate key(s) {duplicates}")
        return dict(pairs)

    try:
        return json.loads(path.read_text(encoding="utf-8"), parse_constant=no_constants,
                          object_pairs_hook=no_duplicates)
    except (ValueError, UnicodeDecodeError) as exc:
        problem = " ".join(str(exc).split())
        raise SigningError(_NOT_JSON.format(param=param, expected=expected, got=str(path),
                                            problem=problem)) from exc


def _result_sha256(path: Path, *, param: str) -> str:
    if not path.is_file():
        raise SigningError(_MISSING_FILE.format(param=param, got=str(path)))
    data = _load_json(path, param=param, expected="strict JSON (no NaN, no duplicate keys)")
    return hashlib.sha256(canonical_json(data)).hexdigest()


def _file_sha256(path: Path, *, param: str) -> str:
    if not path.is_file():
        raise SigningError(_MISSING_FILE.format(param=param, got=str(path)))
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _load_private_key(path: Path) -> Any:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    if not path.is_file():
        raise SigningError(_MISSING_FILE.format(param="key", got=str(path)))
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        raise SigningError(BAD_VALUE.format(
            param="key", expected="an unencrypted Ed25519 private key in PEM (see "
            "'auditkit keygen')", got=f"{str(path)!r}, which cannot be loaded ({exc})")) from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningError(BAD_VALUE.format(param="key", expected="an Ed25519 private key",
                                            got=f"a {type(key).__name__} in {str(path)!r}"))
    return key


def _load_public_raw(path: Path) -> bytes:
    """The raw 32 bytes of a public key file (PEM public key, or a private key)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    if not path.is_file():
        raise SigningError(_MISSING_FILE.format(param="public-key", got=str(path)))
    data = path.read_bytes()
    try:
        key: Any = serialization.load_pem_public_key(data)
    except ValueError:
        key = _load_private_key(path).public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise SigningError(BAD_VALUE.format(param="public-key", expected="an Ed25519 public key",
                                            got=f"a {type(key).__name__} in {str(path)!r}"))
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _shape_problem(document: Any) -> str | None:
    """Why ``document`` is not a signature this module can check, or None."""
    if not isinstance(document, dict):
        return "is not a JSON object"
    missing = [k for k in (*_SIGNED_FIELDS, "signature") if k not in document]
    if missing:
        return f"lacks the field(s) {missing}"
    if document["format"] != SIGNATURE_FORMAT or document["format_version"] != _FORMAT_VERSION:
        return (f"is not an {SIGNATURE_FORMAT} version {_FORMAT_VERSION} file (format "
                f"{document['format']!r}, version {document['format_version']!r})")
    if document["algorithm"] != _ALGORITHM:
        return f"uses the algorithm {document['algorithm']!r}, not {_ALGORITHM!r}"
    if not isinstance(document["signer"], str) or _parse_date(document["signed_at"]) is None:
        return "has no readable signer or UTC date (YYYY-MM-DDTHH:MM:SSZ)"
    if not all(isinstance(v, str) for v in (document["public_key"], document["signature"])):
        return "has a key or signature that is not a base64 string"
    result, report = document["result"], document["report"]
    if not isinstance(result, dict) or not isinstance(result.get("sha256"), str):
        return "has no result SHA-256"
    if report is not None and (not isinstance(report, dict)
                               or not isinstance(report.get("sha256"), str)):
        return "has a report entry without a SHA-256"
    return None


def _parse_date(text: Any) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.strptime(text, _DATE_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        return None
