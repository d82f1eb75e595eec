"""Generative: mode coverage and collapse, as a domain classifier labels the samples.

A classifier trained on the same domain (the data's ``feature_extractor``)
labels each generated sample; the class histogram is compared with the real
class distribution of the held-out data: each class's generated share with
its Wilson interval, missing and under-represented classes (:mod:`._coverage`),
the KL divergence, and the share of samples the classifier recognises
confidently. The same is computed for real training samples labelled by the
same classifier (the floor: what a generator that reproduced the data would
get, classifier errors included). Diversity within each class is the mean
pairwise feature distance and the Vendi score (Friedman & Dieng 2023),
generated against real.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import pandas as pd

from ...inputs import AuditData
from ...results import CheckResult, Figure, Metric, Status
from .._base import CheckContext, register_check
from .._params import CONFIDENCE, Interval
from ._common import (
    GenerativeCheck,
    draw_rows,
    embedded,
    feature_space,
    generated,
    label_index,
    report_images,
)
from ._coverage import class_coverage, intra_class_diversity, vendi_score
from .fidelity import check_sample_shape

__all__ = ["GenerativeCoverage"]

NO_CLASSIFIER = ("This check labels generated samples with a classifier of the same domain: pass "
                 "AuditData(..., feature_extractor=<a classifier module or ModelAdapter>); the "
                 "audited data has {what}.")


@register_check
@dataclass(frozen=True)
class GenerativeCoverage(GenerativeCheck):
    """Class histogram of generated samples against the real one: missing modes, KL, diversity.

    Parameters
    ----------
    n_samples : int, default=2000
        Generated samples to label.
    confident : float, default=0.9
        A sample is recognised when its top class probability is at least this.
    missing_fraction : float, default=0.25
        A class is missing when the upper end of its generated share's interval
        is below this fraction of its real share.
    underrepresented_fraction : float, default=0.5
        ... under-represented when below this fraction.
    max_per_class : int, default=500
        Samples per class for the pairwise diversity (a seeded subsample beyond).
    confidence : float, default=0.95

    Examples
    --------
    >>> from auditkit.checks import GenerativeCoverage
    >>> GenerativeCoverage(n_samples=500).missing_fraction
    0.25
    """

    name = "generative_coverage"
    order = 2
    description = ("Whether the model generates every class of the data in its real "
                   "proportion: the class histogram of its samples as a classifier of the domain "
                   "labels them, missing and under-represented classes, and diversity within "
                   "each class.")
    shares = ("generative.samples", "generative.features")
    verdict_metrics = ("missing_modes", "underrepresented_modes")
    needs_train = False
    parameter_constraints = {
        "n_samples": [Interval(Integral, 2, None)],
        "confident": [Interval(Real, 0, 1, closed="right")],
        "missing_fraction": [Interval(Real, 0, 1, closed="neither")],
        "underrepresented_fraction": [Interval(Real, 0, 1, closed="neither")],
        "max_per_class": [Interval(Integral, 2, None)],
        "confidence": CONFIDENCE,
    }

    n_samples: int = 2000
    confident: float = 0.9
    missing_fraction: float = 0.25
    underrepresented_fraction: float = 0.5
    max_per_class: int = 500
    confidence: float = 0.95

    def validate_options(self) -> None:
        """A missing class is also under-represented: ``missing_fraction`` <= the other."""
        from ...exceptions import CheckError
        from .._params import BAD_OPTION

        if self.missing_fraction > self.underrepresented_fraction:
            raise CheckError(BAD_OPTION.format(
                option="missing_fraction", check=self.name,
                expected=f"at most underrepresented_fraction ({self.underrepresented_fraction})",
                got=self.missing_fraction))

    def skip_reason(self, model, data: AuditData) -> str | None:
        """SKIP without a classifier to label samples."""
        reason = super().skip_reason(model, data)
        if reason is None and (data.feature_extractor is None
                               or not data.feature_extractor.can_label):
            what = ("no feature_extractor" if data.feature_extractor is None else
                    f"the feature extractor {data.feature_extractor.name!r}, which cannot label "
                    "samples")
            return NO_CLASSIFIER.format(what=what)
        return reason

    def compute(self, model, data: AuditData, *, context: CheckContext) -> CheckResult:
        """Label the samples and compare; see the class docstring."""
        rng = context.rng(self.name)
        extractor = data.feature_extractor
        samples = generated(model, context, self.n_samples)
        check_sample_shape(samples, data)
        proba = extractor.predict_proba(samples)
        n_classes = proba.shape[1]
        real_labels = label_index(extractor, data.y)
        options = dict(n_classes=n_classes, confident=self.confident,
                       missing_fraction=self.missing_fraction,
                       underrepresented_fraction=self.underrepresented_fraction,
                       confidence=self.confidence)
        found = class_coverage(proba, real_labels, **options)
        floor = None
        if data.train is not None:
            rows = draw_rows(len(data.train.X), self.n_samples, rng)
            floor = class_coverage(extractor.predict_proba(data.train.X[rows]), real_labels,
                                   **options)
        space = feature_space(data)
        fake = embedded(context, space, f"samples-{self.n_samples}", samples)
        real = embedded(context, space, "held-out", data.X)
        fake_labels = proba.argmax(axis=1)
        diversity = self._diversity(fake, fake_labels, real, real_labels, data, rng)
        vendi_fake = vendi_score(fake, rng=rng)
        vendi_real = vendi_score(real, rng=rng)
        return self._result(found, floor, diversity, vendi_fake, vendi_real, proba, samples,
                            data, space)

    def _diversity(self, fake, fake_labels, real, real_labels, data, rng) -> pd.DataFrame:
        generated_rows = intra_class_diversity(fake, fake_labels, max_per_class=self.max_per_class,
                                               rng=rng)
        real_rows = intra_class_diversity(real, real_labels, max_per_class=self.max_per_class,
                                          rng=rng)
        table = generated_rows.merge(real_rows, on="class", how="outer",
                                     suffixes=("_generated", "_real"))
        names = data.class_names
        if names is not None:
            table.insert(1, "class_name", [names[int(c)] if 0 <= int(c) < len(names) else str(c)
                                           for c in table["class"]])
        return table

    @staticmethod
    def _class_rows(samples: np.ndarray, proba: np.ndarray, classes: pd.DataFrame,
                    data: AuditData) -> Figure:
        """One row per class, real left and generated right.

        A class short of samples is padded with grey squares, so that the rows stay aligned.
        """
        per_row = max(1, min(8, 100 // len(classes)))
        labels = label_index(data.feature_extractor, data.y)
        generated_labels = proba.argmax(axis=1)

        def rows(images: np.ndarray, of: np.ndarray) -> np.ndarray:
            filler = np.full((1, *images.shape[1:]), np.uint8(128))
            out = []
            for c in classes["class"]:
                chosen = images[of == int(c)][:per_row]
                out.append(np.concatenate([chosen] + [filler] * (per_row - len(chosen))))
            return np.concatenate(out)

        return Figure("generative_samples", {
            "real": rows(report_images(data.X, data), labels),
            "generated": rows(report_images(samples, data), generated_labels),
            "columns": per_row, "real_label": "real (held-out): one row per class",
            "generated_label": "generated, by the class the classifier gives (grey: none "
                               "left)"},
            "Real samples next to generated ones, class by class")

    def _result(self, found: dict, floor: dict | None, diversity: pd.DataFrame, vendi_fake: float,
                vendi_real: float, proba: np.ndarray, samples: np.ndarray, data: AuditData,
                space) -> CheckResult:
        classes = found["classes"].copy()
        names = data.class_names
        labels = [names[int(c)] if names is not None and int(c) < len(names) else str(c)
                  for c in classes["class"]]
        classes.insert(1, "class_name", labels)
        n = len(proba)
        missing = classes.loc[classes["status"] == "missing", "class_name"].tolist()
        under = classes.loc[classes["status"] == "under-represented", "class_name"].tolist()
        metrics = {
            "missing_modes": Metric(float(found["n_missing"]), n=n,
                                    method=f"classes whose generated share's "
                                    f"{self.confidence:.0%} upper bound is under "
                                    f"{self.missing_fraction:g} x the real share",
                                    higher_is_better=False),
            "underrepresented_modes": Metric(float(found["n_missing"] +
                                                   found["n_underrepresented"]), n=n,
                                             method=f"classes whose generated share's upper bound"
                                             f" is under {self.underrepresented_fraction:g} x "
                                             "the real share (missing ones included)",
                                             higher_is_better=False),
            "class_kl_divergence": Metric(found["kl_real_to_generated"], n=n,
                                          method="KL(real || generated) in nats",
                                          higher_is_better=False),
            "confident_share": Metric(found["confident_share"], found["confident_lower"],
                                      found["confident_upper"], self.confidence, n,
                                      f"Wilson; top probability >= {self.confident:g}", True),
            "vendi_score": Metric(vendi_fake, n=n, method=f"cosine kernel on {space.name} "
                                  "features", higher_is_better=True),
            "vendi_score_real": Metric(vendi_real, n=len(data.X),
                                       method="the same, held-out real samples"),
        }
        if floor is not None:
            metrics["class_kl_divergence_floor"] = Metric(
                floor["kl_real_to_generated"], n=n,
                method="real training samples labelled by the same classifier")
        notes = [("classifier", data.feature_extractor.describe()),
                 ("real class distribution", f"the true labels of the {len(data.X):,} held-out "
                  "samples"),
                 ("rule", f"missing: the upper end of the generated share's {self.confidence:.0%}"
                  f" Wilson interval under {self.missing_fraction:g} x the real share; "
                  f"under-represented: under {self.underrepresented_fraction:g} x"),
                 ("Vendi score", "the effective number of distinct samples (Friedman & Dieng "
                  f"2023): {vendi_fake:.1f} generated, {vendi_real:.1f} real")]
        if floor is not None:
            notes.append(("floor", f"real training samples labelled by the same classifier: KL "
                          f"{floor['kl_real_to_generated']:.4f} nats, "
                          f"{floor['n_missing']} missing, {floor['n_underrepresented']} "
                          f"under-represented, confident share {floor['confident_share']:.1%}"))
        figures = {"classes": Figure("generative_class_histogram", {
            "classes": labels, "real_share": classes["real_share"].tolist(),
            "generated_share": classes["generated_share"].tolist(),
            "generated_lower": classes["generated_lower"].tolist(),
            "generated_upper": classes["generated_upper"].tolist(),
            "status": classes["status"].tolist()},
            "Share of each class: generated against real")}
        if data.modality == "image":
            figures["samples"] = self._class_rows(samples, proba, classes, data)
        if missing:
            headline = (f"{len(missing)} of {len(classes)} classes are missing from the samples "
                        f"({', '.join(missing)})")
        elif under:
            headline = (f"No class is missing; {len(under)} of {len(classes)} are "
                        f"under-represented ({', '.join(under)})")
        else:
            headline = f"Every one of the {len(classes)} classes appears in its real proportion"
        headline += (f": KL(real || generated) {found['kl_real_to_generated']:.3f} nats"
                     + (f" (real vs real {floor['kl_real_to_generated']:.3f})" if floor else "")
                     + f"; {found['confident_share']:.0%} of {n:,} samples recognised "
                     f"confidently; Vendi score {vendi_fake:.1f} (real {vendi_real:.1f}).")
        return self.result(Status.INFO, headline, metrics=metrics,
                           tables={"classes": classes, "diversity": diversity,
                                   "notes": pd.DataFrame(notes, columns=["item", "value"])},
                           figures=figures)
