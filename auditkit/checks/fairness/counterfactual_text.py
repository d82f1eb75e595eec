"""Fairness of text models: counterfactual swaps of identity terms.

Gender words (he/she, his/her, man/woman, ...) and first names of the WEAT
name sets (European vs African American names, male vs female names; Caliskan
et al. 2017) are swapped (a) in the audited sentences that contain them, with
whole-word, case-preserving replacement, and (b) into neutral templates filled
with every name of each group. Reported: the prediction flip rate and the shift
of the positive-class score between each sentence and its counterfactual, the
mean template score per name group and the gaps between groups, and the terms
with the largest effect (perturbation sensitivity analysis, Prabhakaran et al.
2019).

Only words the model can see take part: a term the tokenizer maps to the
unknown token reads like every other unknown word (five of the eight WEAT
female names, but one of the eight male names, for the zoo's sentiment
tokenizer), so it is left out of the swaps and the templates, and the
in-vocabulary coverage of each group is reported. A gap between two name
groups is judged only when each group has at least ``min_known_terms``
in-vocabulary names, with a Welch t interval over names (the names, not the
templates, are the sample).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import pandas as pd
from scipy import stats

from ..._resources import weat_terms
from ..._stats import percentile_interval, resample_counts
from ...exceptions import CheckError
from ...inputs import AuditData, ModelAdapter
from ...results import CheckResult, Figure, Metric, Status
from .._base import Check, CheckContext, register_check
from .._params import BAD_OPTION, CONFIDENCE, NON_NEGATIVE_INT, POSITIVE_INT, Interval
from .._text import cased, needs_texts

__all__ = ["FairnessCounterfactualText", "GENDER_PAIRS", "TEMPLATES", "TermSwap", "swap_terms"]

#: (male, female) words; both directions are swapped. "her" is object and possessive at
#: once, so female-to-male reads it as "his" (the first pair naming it wins).
GENDER_PAIRS = (
    ("he", "she"), ("his", "her"), ("him", "her"), ("himself", "herself"), ("his", "hers"),
    ("man", "woman"), ("men", "women"), ("boy", "girl"), ("boys", "girls"),
    ("father", "mother"), ("fathers", "mothers"), ("dad", "mom"), ("son", "daughter"),
    ("sons", "daughters"), ("husband", "wife"), ("husbands", "wives"),
    ("brother", "sister"), ("brothers", "sisters"), ("uncle", "aunt"), ("nephew", "niece"),
    ("grandfather", "grandmother"), ("grandson", "granddaughter"), ("king", "queen"),
    ("kings", "queens"), ("prince", "princess"), ("mr", "mrs"), ("boyfriend", "girlfriend"),
    ("gentleman", "lady"), ("gentlemen", "ladies"), ("actor", "actress"),
    ("actors", "actresses"), ("male", "female"), ("males", "females"),
)

#: Neutral, positive and negative review templates; ``{name}`` is filled with each name.
TEMPLATES = (
    "{name} is a great lead.",
    "{name} gave a wonderful performance.",
    "I loved every scene with {name}.",
    "{name} gave a terrible performance.",
    "{name} is dull and annoying in this film.",
    "The film wastes {name}.",
    "The film stars {name}.",
    "{name} plays the lead role.",
    "The movie was written by {name}.",
    "{name} appears in the second half of the film.",
)

#: (swap set, first group, second group) of the WEAT names; names match case-sensitively,
#: the i-th name of one group swapping with the i-th of the other (male names come first).
_NAME_SETS = (("names: European / African American", "european_american_names",
               "african_american_names"),
              ("names: male / female", "male_names", "female_names"))
_UNSEEN = "qzxvjkq"  # a string no vocabulary holds: what an unknown word tokenizes to


@dataclass(frozen=True)
class TermSwap:
    """One sentence with its identity terms swapped.

    Attributes
    ----------
    text : str
        The counterfactual sentence.
    original_marked, swapped_marked : str
        The sentence before and after, each swapped word in ``[[...]]``.
    swaps : tuple of (str, str)
        The (original, replacement) words, in order of appearance.
    """

    text: str
    original_marked: str
    swapped_marked: str
    swaps: tuple[tuple[str, str], ...]


def swap_terms(text: str, mapping: Mapping[str, str], *, case_sensitive: bool = False) -> TermSwap:
    """Swap whole words of ``text`` by ``mapping``, keeping their case.

    Parameters
    ----------
    text : str
    mapping : mapping of str to str
        Word -> replacement, both sides swapped at once (``{"he": "she", "she": "he"}``
        turns "he said she" into "she said he"). Keys are lowercase unless
        ``case_sensitive``.
    case_sensitive : bool, default=False
        Match the keys exactly (names: "Bill" but not "bill").

    Returns
    -------
    TermSwap

    Examples
    --------
    >>> swap_terms("His hershey bar; he's HE.", {"his": "her", "he": "she"}).text
    "Her hershey bar; she's SHE."
    """
    if not mapping:
        return TermSwap(text, text, text, ())
    words = sorted(mapping, key=len, reverse=True)
    pattern = re.compile(r"(?<!\w)(" + "|".join(map(re.escape, words)) + r")(?!\w)",
                         0 if case_sensitive else re.IGNORECASE)
    swaps: list[tuple[str, str]] = []
    pieces, marked_in, marked_out, last = [], [], [], 0
    for match in pattern.finditer(text):
        word = match.group(0)
        replacement = mapping[word] if case_sensitive else cased(word, mapping[word.lower()])
        between = text[last:match.start()]
        pieces += [between, replacement]
        marked_in += [between, f"[[{word}]]"]
        marked_out += [between, f"[[{replacement}]]"]
        swaps.append((word, replacement))
        last = match.end()
    tail = text[last:]
    return TermSwap("".join(pieces) + tail, "".join(marked_in) + tail,
                    "".join(marked_out) + tail, tuple(swaps))


def _lower(group: str) -> str:
    """'Male names' -> 'male names' inside a sentence; 'European American names' unchanged."""
    words = group.split()
    return group[:1].lower() + group[1:] if len(words) > 1 and words[1].islower() else group


def _two_way(pairs: Sequence[tuple[str, str]]) -> tuple[dict[str, str], set[str], set[str]]:
    mapping: dict[str, str] = {}
    for first, second in pairs:
        mapping.setdefault(first, second)
        mapping.setdefault(second, first)
    return mapping, {a for a, _ in pairs}, {b for _, b in pairs}


@register_check
@dataclass(frozen=True)
class FairnessCounterfactualText(Check):
    """Counterfactual identity-term swaps in sentences and templates (text models).

    Parameters
    ----------
    positive_class : int, optional
        Column of ``predict_proba`` read as the score; the last one by default.
        It must be a column of the model's output (checked when the check runs).
    n_top_terms : int, default=15
        Rows of the term-sensitivity table.
    n_examples : int, default=8
        Sentence pairs shown, those with the largest score shift first.
    n_resamples : int, default=1000
        Bootstrap resamples of sentence pairs, at least 1 (the name-group
        intervals are t intervals over names).
    confidence : float, default=0.95
        Level of the intervals, in (0, 1).
    min_known_terms : int, default=5
        In-vocabulary names each group needs for its gap to be judged; with
        fewer, the gap is reported but ``name_group_score_gap`` is not emitted.

    Examples
    --------
    >>> from auditkit.checks import FairnessCounterfactualText
    >>> FairnessCounterfactualText(n_resamples=200).n_resamples
    200
    """

    positive_class: int | None = None
    n_top_terms: int = 15
    n_examples: int = 8
    n_resamples: int = 1000
    confidence: float = 0.95
    min_known_terms: int = 5

    name = "fairness_counterfactual_text"
    family = "fairness"
    order = 20
    verdict_metrics = ("counterfactual_flip_rate", "mean_absolute_score_shift",
                       "name_group_score_gap")
    parameter_constraints = {
        "positive_class": [Interval(Integral, 0, None), None],
        "n_top_terms": POSITIVE_INT,
        "n_examples": NON_NEGATIVE_INT,
        "n_resamples": POSITIVE_INT,
        "confidence": CONFIDENCE,
        "min_known_terms": POSITIVE_INT,
    }
    tags = ("text", "counterfactual", "perturbation sensitivity")
    requires = frozenset({"predict"})
    modalities = ("text",)
    description = ("Swaps gender words and WEAT first names in the audited sentences and in "
                   "neutral templates; reports the prediction flip rate, the score shift, the "
                   "score gap between name groups and the most influential terms.")

    def skip_reason(self, model: ModelAdapter, data: AuditData) -> str | None:
        """Why the check does not apply: also when the raw texts or the tokenizer are missing."""
        reason = super().skip_reason(model, data)
        if reason is None and (data.tokenizer is None or data.texts is None):
            reason = needs_texts("Counterfactual identity-term swaps")
        return reason

    def compute(self, model: ModelAdapter, data: AuditData, *,
                context: CheckContext) -> CheckResult:
        """Compute the check's metrics; see the module docstring."""
        weat = weat_terms()
        rng = context.rng(self.name)
        column = -1 if self.positive_class is None else self.positive_class
        texts = list(data.texts)
        known = self._known_words(data.tokenizer, weat)
        pairs = self._sentence_pairs(texts, weat, known)

        # (a) real sentences: originals and counterfactuals in one call
        rows = sorted({p["index"] for p in pairs})
        proba = np.zeros((0, 2))  # no sentence to swap: nothing to ask the model
        if pairs:
            proba = np.asarray(model.predict_proba(data.tokenizer(
                [texts[i] for i in rows] + [p["swap"].text for p in pairs])), dtype=np.float64)
        if proba.ndim == 2 and len(proba):
            self._check_column(proba.shape[1])
        where = {i: k for k, i in enumerate(rows)}
        before = proba[[where[p["index"]] for p in pairs]] if pairs else proba[:0]
        after = proba[len(rows):]
        score_0, score_1 = before[:, column], after[:, column]
        shift = score_1 - score_0
        flipped = (before.argmax(1) != after.argmax(1)).astype(float)
        orient = np.array([p["orientation"] for p in pairs], dtype=float)
        sentence_table = self._set_table(pairs, shift, flipped, orient, rng)

        # (b) templates filled with every in-vocabulary name of each group, one call
        groups = {key: [w for w in weat[key]["words"] if known[w]]
                  for _, a, b in _NAME_SETS for key in (a, b)}
        filled = [(key, name, t) for key, names in groups.items() for name in names
                  for t in range(len(TEMPLATES))]
        template_scores = np.zeros(0)
        if filled:
            template_proba = np.asarray(model.predict_proba(data.tokenizer(
                [TEMPLATES[t].format(name=name) for _, name, t in filled])), dtype=np.float64)
            self._check_column(template_proba.shape[1])
            template_scores = template_proba[:, column]
        group_table, gap_table = self._group_tables(weat, filled, template_scores, known)
        terms = self._term_table(pairs, shift, filled, template_scores, weat)
        coverage = _coverage_table(weat, known)

        metrics = {
            "counterfactual_flip_rate": self._metric(flipped, np.ones_like(flipped), rng, False),
            "mean_absolute_score_shift": self._metric(np.abs(shift), np.ones_like(shift), rng,
                                                      False),
            "mean_score_shift": self._metric(shift * orient, np.abs(orient), rng, None),
        }
        names = coverage[coverage.index.str.endswith("names")]
        metrics["name_in_vocabulary_coverage"] = Metric(
            float(names["in_vocabulary_coverage"].min()), n=int(names["n_terms"].sum()),
            method="smallest share of a name group's names the tokenizer knows",
            higher_is_better=True)
        judged = gap_table[gap_table["judged"]]
        if len(judged):
            widest = judged["gap"].abs().idxmax()
            low, high = _absolute(gap_table.loc[widest, "lower"], gap_table.loc[widest, "upper"])
            metrics["name_group_score_gap"] = Metric(
                abs(gap_table.loc[widest, "gap"]), low, high, self.confidence,
                int(gap_table.loc[widest, "n_names"]),
                "Welch t interval over in-vocabulary names", False)
        order = np.argsort(-np.abs(shift), kind="stable")[:self.n_examples]
        examples = pd.DataFrame({
            "swap_set": [pairs[i]["set"] for i in order],
            "original": [pairs[i]["swap"].original_marked for i in order],
            "counterfactual": [pairs[i]["swap"].swapped_marked for i in order],
            "original_score": score_0[order], "counterfactual_score": score_1[order],
            "score_shift": shift[order], "prediction_flipped": flipped[order].astype(bool)})
        figures = {
            "term_sensitivity": Figure("term_sensitivity", {
                "terms": terms["term"].tolist(), "mean_effect": terms["mean_effect"].to_numpy(),
                "mean_absolute_effect": terms["mean_absolute_effect"].to_numpy(),
                "groups": terms["group"].tolist()},
                "Terms with the largest effect on the positive score"),
            "name_group_scores": Figure("name_group_scores", {
                "groups": group_table.index.tolist(),
                "values": group_table["mean_score"].to_numpy(),
                "lower": group_table["lower"].to_numpy(),
                "upper": group_table["upper"].to_numpy(),
                "n_names": group_table["n_names_in_vocabulary"].to_numpy(),
                "confidence": self.confidence},
                "Mean positive score on templates, by name group"),
        }
        tables = {"swap_sets": sentence_table, "name_groups": group_table,
                  "name_group_gaps": gap_table, "vocabulary_coverage": coverage,
                  "term_sensitivity": terms, "examples": examples}
        headline = self._headline(len(rows), len(texts), metrics, gap_table, terms,
                                  coverage)
        return self.result(Status.INFO, headline, metrics=metrics, tables=tables,
                           figures=figures)

    def _check_column(self, n_columns: int) -> None:
        """Raise if ``positive_class`` is not a column of the model's probabilities."""
        if self.positive_class is not None and self.positive_class >= n_columns:
            raise CheckError(BAD_OPTION.format(
                option="positive_class", check=self.name,
                expected=f"a column of the model's probabilities (0 to {n_columns - 1}) or None",
                got=repr(self.positive_class)))

    # -- building the counterfactuals --------------------------------------------------

    def _sentence_pairs(self, texts: list[str], weat: Mapping[str, dict],
                        known: Mapping[str, bool]) -> list[dict]:
        # Only pairs of in-vocabulary words swap: a swap to or from the unknown token
        # measures the token, not the identity term.
        gender, male, female = _two_way([p for p in GENDER_PAIRS if known[p[0]] and known[p[1]]])
        sets = [("gender words", gender, male, female, False)]
        for label, a, b in _NAME_SETS:
            mapping, first, second = _two_way([
                (x, y) for x, y in zip(weat[a]["words"], weat[b]["words"], strict=True)
                if known[x] and known[y]])
            sets.append((label, mapping, first, second, True))
        pairs = []
        for label, mapping, first, second, exact in sets:
            for index, text in enumerate(texts):
                swap = swap_terms(text, mapping, case_sensitive=exact)
                if swap.swaps and swap.text != text:
                    norm = (lambda w: w) if exact else str.lower
                    n_first = sum(norm(w) in first for w, _ in swap.swaps)
                    n_second = sum(norm(w) in second for w, _ in swap.swaps)
                    pairs.append({"set": label, "index": index, "swap": swap,
                                  "orientation": int(np.sign(n_first - n_second))})
        return pairs

    @staticmethod
    def _known_words(tokenizer: object, weat: Mapping[str, dict]) -> dict[str, bool]:
        """Whether the tokenizer tells each word from an unseen one (unknown words read alike)."""
        words = sorted({w for pair in GENDER_PAIRS for w in pair}
                       | {w for _, a, b in _NAME_SETS for k in (a, b) for w in weat[k]["words"]})
        ids = np.asarray(tokenizer([_UNSEEN, *words]))  # type: ignore[operator]
        return {w: not np.array_equal(ids[i + 1], ids[0]) for i, w in enumerate(words)}

    # -- statistics ---------------------------------------------------------------------

    def _interval(self, values: np.ndarray, weights: np.ndarray,
                  rng: np.random.Generator) -> tuple[float, float, float, int]:
        n_used = int(weights.sum())
        if n_used == 0:
            return float("nan"), float("nan"), float("nan"), 0
        point = float((values * weights).sum() / weights.sum())
        counts = resample_counts(len(values), self.n_resamples, rng) * weights
        with np.errstate(invalid="ignore", divide="ignore"):
            samples = counts @ values / counts.sum(1)
        low, high = percentile_interval(samples, self.confidence)
        return point, low, high, n_used

    def _metric(self, values: np.ndarray, weights: np.ndarray, rng: np.random.Generator,
                higher_is_better: bool | None) -> Metric:
        point, low, high, n = self._interval(values, weights, rng)
        has = n > 0 and np.isfinite(low)
        return Metric(point, low if has else None, high if has else None,
                      self.confidence if has else None, n,
                      f"percentile bootstrap over sentence pairs, {self.n_resamples} resamples"
                      if has else None, higher_is_better)

    def _set_table(self, pairs: list[dict], shift: np.ndarray, flipped: np.ndarray,
                   orient: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
        labels = ["gender words"] + [label for label, _, _ in _NAME_SETS]
        records = []
        for label in labels:
            mask = np.array([p["set"] == label for p in pairs], dtype=bool)
            record = {"swap_set": label, "sentences_affected": int(mask.sum())}
            for key, values, weights in (
                    ("flip_rate", flipped[mask], np.ones(mask.sum())),
                    ("mean_absolute_shift", np.abs(shift[mask]), np.ones(mask.sum())),
                    ("mean_shift_toward_second_group", (shift * orient)[mask],
                     np.abs(orient[mask]))):
                point, low, high, _ = self._interval(values, weights, rng)
                record.update({key: point, f"{key}_lower": low, f"{key}_upper": high})
            records.append(record)
        return pd.DataFrame.from_records(records).set_index("swap_set")

    def _group_tables(self, weat: Mapping[str, dict], filled: list[tuple[str, str, int]],
                      scores: np.ndarray, known: Mapping[str, bool]
                      ) -> tuple[pd.DataFrame, pd.DataFrame]:
        keys = np.array([k for k, _, _ in filled])
        filled_names = np.array([n for _, n, _ in filled])
        per_name, records = {}, []
        for _, a, b in _NAME_SETS:
            for key in (a, b):
                names = [n for n in weat[key]["words"] if known[n]]
                means = np.array([scores[(keys == key) & (filled_names == name)].mean()
                                  for name in names])
                per_name[key] = means
                low, high = _t_interval(means, self.confidence)
                records.append({"group": weat[key]["name"],
                                "mean_score": float(means.mean()) if len(means) else np.nan,
                                "lower": low, "upper": high,
                                "n_names": len(weat[key]["words"]),
                                "n_names_in_vocabulary": len(means),
                                "n_templates": len(TEMPLATES)})
        groups = pd.DataFrame.from_records(records).set_index("group")
        gaps = []
        for label, a, b in _NAME_SETS:
            first, second = per_name[a], per_name[b]
            gap = float(first.mean() - second.mean()) if len(first) and len(second) else np.nan
            low, high = _welch_interval(first, second, self.confidence)
            gaps.append({"comparison": label, "first_group": weat[a]["name"],
                         "second_group": weat[b]["name"], "gap": gap, "lower": low,
                         "upper": high, "n_names_first": len(first),
                         "n_names_second": len(second), "n_names": len(first) + len(second),
                         "judged": bool(min(len(first), len(second)) >= self.min_known_terms)})
        return groups, pd.DataFrame.from_records(gaps).set_index("comparison")

    def _term_table(self, pairs: list[dict], shift: np.ndarray,
                    filled: list[tuple[str, str, int]], scores: np.ndarray,
                    weat: Mapping[str, dict]) -> pd.DataFrame:
        # Templates (Prabhakaran et al.): a name's effect on a template is its score there
        # minus the template's mean over all names.
        template_ids = np.array([t for _, _, t in filled])
        baseline = (np.array([scores[template_ids == t].mean() for t in range(len(TEMPLATES))])
                    if filled else np.zeros(len(TEMPLATES)))
        effects: dict[tuple[str, str, str], list[float]] = {}
        for (key, name, t), score in zip(filled, scores, strict=True):
            effects.setdefault((name, weat[key]["name"], "templates"), []).append(
                score - baseline[t])
        for pair, value in zip(pairs, shift, strict=True):
            for old, new in dict.fromkeys(pair["swap"].swaps):
                term = f"{old.lower()} -> {new.lower()}"
                effects.setdefault((term, pair["set"], "sentences"), []).append(value)
        records = [{"term": term, "group": group, "source": source, "n": len(values),
                    "mean_effect": float(np.mean(values)),
                    "mean_absolute_effect": float(np.mean(np.abs(values)))}
                   for (term, group, source), values in effects.items()]
        columns = ["term", "group", "source", "n", "mean_effect", "mean_absolute_effect"]
        table = pd.DataFrame.from_records(records, columns=columns)
        table = table.sort_values(["mean_absolute_effect", "term"], ascending=[False, True],
                                  kind="stable")
        return table.head(self.n_top_terms).reset_index(drop=True)

    def _headline(self, n_affected: int, n_texts: int, metrics: Mapping[str, Metric],
                  gaps: pd.DataFrame, terms: pd.DataFrame, coverage: pd.DataFrame) -> str:
        flip, shift = metrics["counterfactual_flip_rate"], metrics["mean_absolute_score_shift"]
        if n_affected:
            text = (f"Swapping in-vocabulary gender words or WEAT first names in the "
                    f"{n_affected} of {n_texts} test sentences that contain them flipped "
                    f"{flip.value:.1%} of {flip.n} predictions ({self.confidence:.0%} CI "
                    f"{flip.lower:.1%} to {flip.upper:.1%}) and moved the positive score by "
                    f"{shift.value:.3f} on average.")
        else:
            text = (f"None of the {n_texts} test sentences contains an in-vocabulary gender "
                    "word or WEAT name.")
        unknown = coverage[coverage["n_in_vocabulary"] < coverage["n_terms"]]
        if len(unknown):
            text += " In the tokenizer's vocabulary (the other words read alike, left out): " + (
                ", ".join(f"{int(row['n_in_vocabulary'])} of {int(row['n_terms'])} "
                          f"{_lower(group)}" for group, row in unknown.iterrows())) + "."
        for _, row in gaps.iterrows():
            if not np.isfinite(row["gap"]):
                continue
            higher, lower = ((row["first_group"], row["second_group"]) if row["gap"] >= 0
                             else (row["second_group"], row["first_group"]))
            text += (f" On {len(TEMPLATES)} templates, {row['n_names_first']} + "
                     f"{row['n_names_second']} in-vocabulary names: {_lower(higher)} score "
                     f"{abs(row['gap']):.3f} higher than {_lower(lower)}")
            if np.isfinite(row["lower"]):
                text += (f" ({self.confidence:.0%} CI of the gap {row['lower']:.3f} to "
                         f"{row['upper']:.3f})")
            if not row["judged"]:
                text += f", not judged (fewer than {self.min_known_terms} names in a group)"
            text += "."
        if len(terms):
            top = terms.iloc[0]
            text += (f" Most influential term: {top['term']!r} ({top['source']}, mean absolute "
                     f"effect {top['mean_absolute_effect']:.3f}).")
        return text


def _coverage_table(weat: Mapping[str, dict], known: Mapping[str, bool]) -> pd.DataFrame:
    """How many terms of each group the tokenizer knows, and which it does not."""
    groups = [("Male words", list(dict.fromkeys(a for a, _ in GENDER_PAIRS))),
              ("Female words", list(dict.fromkeys(b for _, b in GENDER_PAIRS)))]
    groups += [(weat[k]["name"], list(weat[k]["words"])) for _, a, b in _NAME_SETS
               for k in (a, b)]
    records = [{"group": group, "n_terms": len(words),
                "n_in_vocabulary": sum(known[w] for w in words),
                "in_vocabulary_coverage": sum(known[w] for w in words) / len(words),
                "unknown_terms": ", ".join(w for w in words if not known[w])}
               for group, words in groups]
    return pd.DataFrame.from_records(records).set_index("group")


def _t_interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    """Student t interval of a mean (NaN with fewer than two values)."""
    if len(values) < 2:
        return float("nan"), float("nan")
    half = (stats.t.ppf((1 + confidence) / 2, len(values) - 1)
            * values.std(ddof=1) / np.sqrt(len(values)))
    # A mean score lies in [0, 1], and so does its interval.
    return float(max(values.mean() - half, 0.0)), float(min(values.mean() + half, 1.0))


def _welch_interval(first: np.ndarray, second: np.ndarray,
                    confidence: float) -> tuple[float, float]:
    """Welch t interval of a difference of means (NaN with fewer than two values a side)."""
    if len(first) < 2 or len(second) < 2:
        return float("nan"), float("nan")
    v1, v2 = first.var(ddof=1) / len(first), second.var(ddof=1) / len(second)
    se = np.sqrt(v1 + v2)
    gap = first.mean() - second.mean()
    if se == 0:
        return float(gap), float(gap)
    df = (v1 + v2) ** 2 / (v1 ** 2 / (len(first) - 1) + v2 ** 2 / (len(second) - 1))
    half = stats.t.ppf((1 + confidence) / 2, df) * se
    return float(gap - half), float(gap + half)


def _absolute(low: float, high: float) -> tuple[float | None, float | None]:
    """The interval of |gap| from that of the gap."""
    if not (np.isfinite(low) and np.isfinite(high)):
        return None, None
    if low <= 0.0 <= high:
        return 0.0, max(-low, high)
    return min(abs(low), abs(high)), max(abs(low), abs(high))
