"""How to read each check, and what to do when it warns or fails.

One entry per registered check: a human title, "how to read this" in two
sentences, and the next steps with the checks that help (a disparity points to
the mitigation, a non-robust model to the attack examples, a leak to the
per-record evidence). A check without an entry (a plug-in) gets its name
made readable as its title, and nothing else.

The texts are written for a compliance reader first and a practitioner
second: "how to read this" says what the number measures, which direction is
bad and what its interval or threshold means; the next steps of a diagnostic
(the explanation checks, gradient masking) are about the audit's method, not
the model. Levels are not quoted, since a policy may change them: the report
prints the policy's rule beside each number.
"""

from __future__ import annotations

from dataclasses import dataclass

from ._format import humanize

__all__ = ["GUIDANCE", "Guidance", "guidance_for"]


@dataclass(frozen=True)
class Guidance:
    """What the report says around one check's numbers."""

    #: Human title, e.g. "Accuracy and error rates".
    title: str
    #: "How to read this", two sentences.
    how_to_read: str = ""
    #: Sentences shown when the check warns, fails or raises, most useful first.
    next_steps: tuple[str, ...] = ()
    #: Registered names of the checks that help act on it (linked when they ran).
    see_also: tuple[str, ...] = ()


# -- shared wording --------------------------------------------------------------------------

_INFORMATION = "It is reported as information, without a verdict"

_MEMBERSHIP_JUDGED = (
    "The policy judges the lower end of an exact 95% interval, widened for the several "
    "attacks tried, so a warning or failure means the leak is clearly above what guessing "
    "gets and not an accident of the sample.")


def _explainer(method: str, units: str, *, own_step: str, see_also: tuple[str, ...],
               completeness: bool = False) -> Guidance:
    """The guidance of one explanation method, a diagnostic of the method itself."""
    completes = (", and the completeness check when its attributions do not add up to the "
                 "model's output" if completeness else "")
    how_to_read = (
        f"The faithfulness gain measures how much faster the model's confidence drops when "
        f"the {units} this method ranks highest are removed first (and recovers when they are "
        f"put back first) than in a random order: above 0 the ranking carries real "
        f"information, at or below 0 it is no better than chance. A warning or failure needs "
        f"the gain's whole 95% interval under the level; the sanity check also flags the "
        f"method when its explanations barely change after the model's weights are "
        f"randomised (so they do not reflect what the model learned){completes}.")
    return Guidance(
        title=f"{method} explanations",
        how_to_read=how_to_read,
        next_steps=(
            f"Leave the {method} explanations of this model out of its documentation and out "
            f"of answers to the people affected until a re-run passes.",
            "Use the method with the highest faithfulness gain in the comparison of "
            "explanation methods instead.",
            own_step,
        ),
        see_also=see_also,
    )


# -- the entries, family by family -----------------------------------------------------------

_PERFORMANCE = {
    "performance_metrics": Guidance(
        title="Accuracy and error rates",
        how_to_read=(
            "Accuracy is the share of audited samples the model classifies correctly, "
            "balanced accuracy is that share averaged over the classes so that a rare class "
            "counts as much as a common one, and ROC AUC measures how well the scores rank "
            "each class above the others (0.5 is chance, 1 is perfect); lower is worse for "
            "all three. The policy judges the point values, and the confidence intervals show "
            "how far each could move with another sample of the same size, so a value whose "
            "interval straddles a level is borderline."),
        next_steps=(
            "Find the classes the model fails on (per-class recall, the confusion matrix) and "
            "collect more or better-labelled training data for them, or weight them more in "
            "training.",
            "Retrain or tune the model and re-audit; until it meets the required level, do "
            "not use it for decisions that rely on this accuracy.",
            "State the measured accuracy and its interval in the instructions for use.",
        ),
        see_also=("performance_confusion_matrix", "performance_calibration",
                  "fairness_group_metrics"),
    ),
    "performance_confusion_matrix": Guidance(
        title="Which classes are confused",
        how_to_read=(
            "Each row is a true class and each column the class the model predicted, so "
            "counts off the diagonal are mistakes, and the table of top confusions names the "
            "most frequent ones with their share of the true class. "
            f"{_INFORMATION}; the error rate's 95% Wilson interval is the range the true error "
            "rate plausibly lies in, given the number of samples."),
        next_steps=(
            "Collect more training examples, or features that tell them apart, for the pairs "
            "of classes most often confused.",
            "If one kind of mistake costs more than another, weight it in training or move "
            "the decision threshold against it.",
        ),
        see_also=("performance_metrics", "ood_selective_prediction"),
    ),
    "performance_calibration": Guidance(
        title="Calibration of confidence",
        how_to_read=(
            "Expected calibration error is the average gap between the confidence the model "
            "states and how often it is actually right (0 is perfect; 0.05 means stated "
            "confidences are off by 5 percentage points on average), so higher is worse. The "
            "policy judges the point value, and its interval is corrected for this estimate's "
            "upward bias; in the reliability diagram, confidence levels where accuracy falls "
            "below the diagonal are those at which the model is over-confident."),
        next_steps=(
            "Recalibrate on held-out data (temperature scaling, or scikit-learn's "
            "CalibratedClassifierCV with isotonic regression) and re-audit.",
            "Until then, do not present the model's probabilities to users or to the people "
            "affected as risks or likelihoods.",
        ),
        see_also=("performance_metrics", "ood_selective_prediction", "fairness_group_metrics"),
    ),
    "performance_generalisation": Guidance(
        title="Overfitting: training against test accuracy",
        how_to_read=(
            "The gap is the accuracy on the training rows minus the accuracy on the test rows: "
            "a large gap means the model memorised its training records, so its training "
            "accuracy overstates what to expect in use and those records are easier to single "
            "out. The policy judges the lower end of the gap's 95% interval, so a warning or "
            "failure means the gap is real and not sampling noise from a small split; the "
            "point gap is shown beside it."),
        next_steps=(
            "Reduce overfitting: regularise (weight decay, dropout), stop training earlier, "
            "augment the data or train on more of it, then re-audit.",
            "Quote the test accuracy, never the training accuracy, in the model's "
            "documentation.",
            "Run membership inference on the model: overfitting is what those attacks exploit.",
        ),
        see_also=("performance_metrics", "privacy_membership_inference"),
    ),
}

_ANY_INPUT = "input parts (features, image patches, words or time steps)"

_EXPLANATIONS = {
    "explanations_integrated_gradients": _explainer(
        "Integrated Gradients", _ANY_INPUT, completeness=True,
        own_step=("If the completeness error flagged it, raise n_steps (the integration steps) "
                  "or choose a baseline that truly means 'no information', and re-run."),
        see_also=("explanations_agreement", "explanations_occlusion")),
    "explanations_saliency": _explainer(
        "Saliency", _ANY_INPUT,
        own_step=("Prefer Integrated Gradients, GradientShap or occlusion: plain gradients are "
                  "noisy and often survive weight randomisation."),
        see_also=("explanations_agreement", "explanations_integrated_gradients")),
    "explanations_gradient_shap": _explainer(
        "GradientShap", "input parts (features, image patches or time steps)",
        own_step=("Raise n_draws (the random baselines per sample) so that the attributions "
                  "settle, and re-run."),
        see_also=("explanations_agreement", "explanations_integrated_gradients")),
    "explanations_occlusion": _explainer(
        "Occlusion", _ANY_INPUT,
        own_step=("Check that the value a removed part takes (the reference mean, a black "
                  "patch, padding) really means 'no information' for this data."),
        see_also=("explanations_agreement", "explanations_shap")),
    "explanations_gradcam": _explainer(
        "Grad-CAM", "image regions",
        own_step=("Grad-CAM maps are coarse: try an earlier convolutional layer with the layer "
                  "option, or use Integrated Gradients for pixel-level attributions."),
        see_also=("explanations_agreement", "explanations_integrated_gradients")),
    "explanations_shap": _explainer(
        "SHAP", "features",
        own_step=("Raise background_size (the summary of the reference data the values are "
                  "measured against) so that it represents the data, and re-run."),
        see_also=("explanations_agreement", "explanations_occlusion")),
    "explanations_lime": _explainer(
        "LIME", "input parts (features, image patches or words)",
        own_step=("Raise num_samples (the perturbations per explained sample) so that the "
                  "local surrogate is stable, and re-run."),
        see_also=("explanations_agreement", "explanations_occlusion")),
    "explanations_agreement": Guidance(
        title="Agreement between explanation methods",
        how_to_read=(
            "Rank agreement is the correlation between the orders of importance that two "
            "methods give the same inputs (1: the same order, 0: unrelated), shown for each "
            "pair beside each method's faithfulness gain and its correlation with a "
            f"weight-randomised model. {_INFORMATION}: low agreement means the methods tell "
            "different stories, and only the faithful ones (gain above 0, low correlation with "
            "the randomised model) should then be used."),
        next_steps=(
            "Do not present any single method's ranking of features as the model's reasoning "
            "where the methods disagree.",
            "Base the explanations you publish on the method with the highest faithfulness "
            "gain here, and name it in the documentation.",
        ),
        see_also=("explanations_occlusion", "explanations_integrated_gradients",
                  "explanations_shap"),
    ),
}

_FAIRNESS = {
    "fairness_group_metrics": Guidance(
        title="Outcomes and error rates by group",
        how_to_read=(
            "Each row is one group of a sensitive feature (or an intersection, such as women "
            "of one race) with its selection rate (the share predicted positive), accuracy and "
            "error rates, so differences between rows show whom the model treats differently. "
            f"{_INFORMATION}; the 95% bootstrap intervals show how precisely each rate is "
            "known, and groups flagged as too small are too uncertain to compare."),
        next_steps=(
            "Collect more data for the groups flagged as too small before drawing conclusions "
            "about them.",
            "For the group with the worst error rates, check whether it is under-represented "
            "or labelled differently in the training data.",
        ),
        see_also=("fairness_disparities", "fairness_thresholds"),
    ),
    "fairness_disparities": Guidance(
        title="Group fairness gaps",
        how_to_read=(
            "The difference in selection rates (demographic parity) is the gap between the "
            "groups most and least often predicted positive, the difference in error rates "
            "(equalized odds) is the larger gap in true or false positive rates, and the "
            "selection-rate ratio divides the lowest group's rate by the highest; larger gaps "
            "and smaller ratios are worse. The policy judges the bound that holds with 95% "
            "confidence over every feature and intersection at once, so a flag means the gap "
            "is both large and statistically supported, and the four-fifths rule fails when "
            "even the ratio's upper bound is under 0.8."),
        next_steps=(
            "In the group table, check whether the flagged group's base rate differs (a "
            "difference in the data) or its error rates do (a difference the model makes).",
            "See what group-specific thresholds would achieve and cost; if that cost is too "
            "high, retrain with a fairness constraint (fairlearn's ExponentiatedGradient) or "
            "more representative data.",
            "Document the remaining gap, its cause and why it is acceptable, or do not deploy.",
        ),
        see_also=("fairness_mitigation", "fairness_thresholds", "fairness_group_metrics"),
    ),
    "fairness_thresholds": Guidance(
        title="Fairness across decision thresholds",
        how_to_read=(
            "The curves show each group's selection rate and true and false positive rates, "
            "and the gaps between groups, as the threshold on the positive-class probability "
            "moves from 0 to 1; the marked point is the threshold the model uses now. "
            f"{_INFORMATION}: it shows whether another threshold would narrow the gaps, and a "
            "group whose ROC AUC is clearly lower (0.5 is chance) has cases the scores rank "
            "worse, which no threshold fixes."),
        next_steps=(
            "Pick from these curves a threshold that keeps the gaps within your policy, and "
            "record the accuracy it costs.",
            "If one group's ROC AUC is clearly lower, collect better data or features for that "
            "group: moving the threshold will not help.",
        ),
        see_also=("fairness_mitigation", "fairness_disparities"),
    ),
    "fairness_mitigation": Guidance(
        title="Fairness correction and its accuracy cost",
        how_to_read=(
            "The table compares accuracy and the gaps in selection and error rates before and "
            "after a separate decision threshold is set for each group (fairlearn's "
            "ThresholdOptimizer), so a large fall in the gaps for a small loss of accuracy "
            "shows the disparity is cheap to reduce. The thresholds are fitted on one half of "
            "the audited data and measured on the other, so the numbers estimate what the "
            "correction would do on new data; it is reported as information, without a verdict."),
        next_steps=(
            "If the cost is acceptable, apply the group-specific thresholds, after checking "
            "that using the sensitive feature at decision time is lawful for this use.",
            "If it is not, retrain with a fairness constraint or more representative data, "
            "and re-audit.",
        ),
        see_also=("fairness_disparities", "fairness_thresholds"),
    ),
    "fairness_counterfactual_text": Guidance(
        title="Text: effect of swapping identity terms",
        how_to_read=(
            "The flip rate is the share of sentences whose prediction changes when gender "
            "words or first names are swapped (he for she, one group's names for another's), "
            "and the score shift and the gap between name groups measure how far the score "
            "moves; anything above zero means identity terms sway the model. Each is judged on "
            "its 95% interval, so a warning or failure means the effect is past the level "
            "even at the interval's lower end."),
        next_steps=(
            "Read the most influential terms and the example pairs to see which words move "
            "the score.",
            "Retrain with counterfactual copies of the training sentences (identity terms "
            "swapped, same label), or mask identity terms before the model sees them.",
        ),
        see_also=("robustness_text", "explanations_integrated_gradients"),
    ),
    "fairness_recourse": Guidance(
        title="Recourse: decisions people can change",
        how_to_read=(
            "The recourse rate is the share of decisions that a few realistic changes to "
            "features a person controls (working hours, occupation) would reverse, per group; "
            "a group with a lower rate has fewer ways to change its outcome. "
            f"{_INFORMATION}; the gap between the groups with most and least recourse has a "
            "95% interval, and the chi-square test says whether the rates differ beyond "
            "chance."),
        next_steps=(
            "If one group has clearly less recourse, check whether its decisions rest on "
            "features people cannot change, and whether the model should use them.",
            "Tell the people affected which changes could alter the decision.",
        ),
        see_also=("fairness_disparities", "robustness_tabular"),
    ),
}

_ATTACK_HELP = ("robustness_minimal_perturbation", "robustness_gradient_masking")

_ROBUSTNESS = {
    "robustness_fgsm": Guidance(
        title="Attack: fast gradient sign (one step)",
        how_to_read=(
            "Robust accuracy is the share of attacked samples still classified correctly "
            "after one step that moves every input value by at most epsilon (a fraction of its "
            "valid range) in the direction that most increases the error; a steep fall as "
            "epsilon grows means small deliberate changes fool the model. This one-step attack "
            "is weak and reported as information only: the projected gradient descent attack "
            "gives the verdict, and an FGSM that beats it is a sign of gradient masking."),
        next_steps=(
            "Read the robustness verdict from the projected gradient descent attack, which is "
            "stronger.",
            "If even this attack breaks many predictions, train with adversarial examples "
            "(adversarial training) and re-audit.",
        ),
        see_also=("robustness_pgd", *_ATTACK_HELP),
    ),
    "robustness_pgd": Guidance(
        title="Attack: projected gradient descent (L-inf)",
        how_to_read=(
            "The judged number is the share of the model's correct predictions that survive a "
            "strong gradient attack (an APGD ensemble, as in AutoAttack) moving each input "
            "value by at most epsilon, a fraction of its valid range; lower is worse. The "
            "policy reads it at the headline budget (0.1 of the range by default) and also "
            "judges the gap in robust accuracy between sensitive groups, which shows whose "
            "cases are easier to attack; the Wilson intervals reflect how many were attacked."),
        next_steps=(
            "Train with adversarial examples at the budget the model must resist (adversarial "
            "training, e.g. PGD or TRADES), then re-audit.",
            "Look at the attack examples and the smallest flipping changes to see how little "
            "it takes, and check that gradient masking is not distorting these numbers.",
            "Where attackers could exploit this, limit who can submit inputs and monitor what "
            "they submit.",
        ),
        see_also=(*_ATTACK_HELP, "robustness_square"),
    ),
    "robustness_pgd_l2": Guidance(
        title="Attack: projected gradient descent (L2)",
        how_to_read=(
            "The judged number is the share of the model's correct predictions that survive a "
            "strong gradient attack (an APGD ensemble, as in AutoAttack) whose change has "
            "Euclidean length at most epsilon, in units of the valid range (1 is one value "
            "moved across its whole range); lower is worse. The policy reads it at the "
            "headline budget (1.5 by default) and also judges the gap in robust accuracy "
            "between sensitive groups, which shows whose cases are easier to attack; the "
            "Wilson intervals reflect how many were attacked."),
        next_steps=(
            "Train with adversarial examples under an L2 budget (adversarial training), then "
            "re-audit.",
            "Look at the smallest flipping changes to see how little it takes, and check that "
            "gradient masking is not distorting these numbers.",
        ),
        see_also=_ATTACK_HELP + ("robustness_pgd",),
    ),
    "robustness_minimal_perturbation": Guidance(
        title="Smallest change that flips a prediction",
        how_to_read=(
            "For each correctly classified sample, DeepFool finds a small change that flips "
            "its prediction, measured as Euclidean length in units of the valid range, and the "
            "median over samples is the headline: smaller means the model sits closer to its "
            "decision boundaries and is easier to fool. Each length is an upper bound on the "
            f"true distance, so the model may be even more fragile; {_INFORMATION.lower()}, "
            "with a bootstrap interval for the median."),
        next_steps=(
            "Compare the median with changes that are plausible or invisible in your setting: "
            "if those are larger, train with adversarial examples.",
            "Look at the examples to see what a flipping change looks like.",
        ),
        see_also=("robustness_pgd_l2", "robustness_pgd", "robustness_gradient_masking"),
    ),
    "robustness_square": Guidance(
        title="Attack: black-box queries (Square, L-inf)",
        how_to_read=(
            "The attack success rate is the share of correct predictions broken by an attacker "
            "who sees only the output probabilities, within a fixed number of queries and "
            "moving each input value by at most epsilon; higher is worse. It is the realistic "
            "threat to a model behind an interface, judged on the point value with a 95% "
            "Wilson interval, and a black-box attack that beats the gradient attacks is a sign "
            "of gradient masking."),
        next_steps=(
            "Limit and monitor the queries each user can make, and return labels or rounded "
            "scores instead of full probabilities.",
            "Train with adversarial examples, then re-audit with this and the gradient "
            "attacks.",
        ),
        see_also=("robustness_pgd", *_ATTACK_HELP),
    ),
    "robustness_gradient_masking": Guidance(
        title="Attack reliability: gradient masking",
        how_to_read=(
            "The number counts the symptoms of gradient masking found among five (such as "
            "accuracy rising as the attack budget grows, or a one-step or black-box attack "
            "beating the strong gradient attack); any symptom means the gradients mislead the "
            "attacks, so the robustness numbers may be too high. It tests the audit's attacks, "
            "not the model: a warning says to distrust the attack results, not that the model "
            "is weak."),
        next_steps=(
            "Do not cite the gradient attacks' robustness numbers for this model until the "
            "symptoms are resolved.",
            "Re-run the attacks with more steps and restarts, and rely on the black-box Square "
            "attack, which masked gradients cannot stop.",
            "If the model has non-differentiable or randomised parts, attack it with BPDA or "
            "expectation over transformation.",
        ),
        see_also=("robustness_pgd", "robustness_square", "robustness_fgsm"),
    ),
    "robustness_tabular": Guidance(
        title="Stability under harmless data changes",
        how_to_read=(
            "The number is how many more predictions flip than for a simple logistic "
            "regression on the same data, under changes that should not matter (noise within "
            "measurement precision, or features marked irrelevant); above zero, the model is "
            "more fragile than that baseline. The policy judges the lower end of a 95% "
            "interval that also allows for how much the baseline varies when refitted, so a "
            "model only as fragile as the baseline passes."),
        next_steps=(
            "Look at which features the flipping changes touched, and reduce the model's "
            "reliance on them (monotonic constraints, noise on those features in training).",
            "Drop or coarsen features that should not matter to the decision, then re-audit.",
        ),
        see_also=("explanations_shap", "robustness_corruptions"),
    ),
    "robustness_corruptions": Guidance(
        title="Accuracy on noisy or degraded inputs",
        how_to_read=(
            "The number is the model's mean accuracy over natural corruptions (noise, blur, "
            "contrast, typos, miscoded features, dropped frames) at severities 1 to 5, "
            "relative to its clean accuracy: 1 means nothing is lost, and lower is worse. The "
            "policy judges the point value; each corruption's accuracy has a Wilson interval, "
            "so the worst corruption and the groups it hurts most can be seen."),
        next_steps=(
            "Train with data augmentation that uses the corruptions that hurt most.",
            "Check input quality in operation and reject or repair degraded inputs, since "
            "the model's confidence may not reveal them.",
        ),
        see_also=("ood_covariate_shift", "ood_selective_prediction"),
    ),
    "robustness_text": Guidance(
        title="Attack: synonym and typo swaps in text",
        how_to_read=(
            "The attack success rate is the share of correctly classified sentences an "
            "attacker flips by changing a few words (three at most by default) to synonyms or "
            "typos; higher is worse. The policy judges the point value, with a 95% Wilson "
            "interval, and the examples mark the changed words so a reader can see whether "
            "the meaning was kept."),
        next_steps=(
            "Retrain with adversarial examples (synonym and typo augmentation) and re-audit.",
            "Correct spelling before the model sees the text, and monitor inputs for unusual "
            "misspellings.",
        ),
        see_also=("fairness_counterfactual_text", "robustness_corruptions"),
    ),
}

_OOD = {
    "ood_detection": Guidance(
        title="Detecting unfamiliar inputs (OOD)",
        how_to_read=(
            "AUROC measures how well the best detector scores unfamiliar (out-of-distribution) "
            "inputs above normal ones (0.5 is chance, 1 is perfect), and the false positive "
            "rate at 95% TPR is the share of unfamiliar inputs still let through when 95% of "
            "normal inputs are kept; a low AUROC and a high share let through are bad. Each is "
            "judged on its 95% bootstrap interval, so a warning or failure means the whole "
            "interval is past the level."),
        next_steps=(
            "Put the detector this check ranks best in front of the model, and send the inputs "
            "it flags to a person.",
            "If no detector works, restrict inputs to the domain the model was built for, or "
            "retrain with outlier exposure (examples of unrelated data labelled as unsure).",
        ),
        see_also=("ood_selective_prediction", "ood_covariate_shift", "ood_drift"),
    ),
    "ood_covariate_shift": Guidance(
        title="Silent failures under data shift",
        how_to_read=(
            "The number is the share of corruption and severity settings where accuracy drops "
            "clearly (by more than 10 points by default) while no detector can reliably see "
            "the shift; higher is worse, as these are failures nobody would notice in use. "
            "Both conditions rest on 95% intervals, so sampling noise alone does not make a "
            "setting count, and with no shift the rate is 0."),
        next_steps=(
            "Monitor the input quality that the silent settings degrade (blur, noise, "
            "miscoded fields) directly, since the model's outputs will not reveal it.",
            "Train with augmentation for those corruptions so that accuracy holds up, then "
            "re-audit.",
        ),
        see_also=("robustness_corruptions", "ood_detection", "ood_selective_prediction"),
    ),
    "ood_drift": Guidance(
        title="Data drift from the reference data",
        how_to_read=(
            "The population stability index (PSI) measures how far one feature's distribution "
            "has moved from the reference data (under 0.1 is usually read as minor, above 0.25 "
            "as major), and the classifier test's AUROC how well a model tells audited rows "
            "from reference rows (0.5: indistinguishable); higher is worse for both. Only "
            "features whose drift stays significant after correcting for the many tests "
            "count, and the AUROC is judged on its lower 95% bound, so a trivial shift in a "
            "huge sample passes."),
        next_steps=(
            "Find the cause of the drift in the features the table lists first (a new "
            "population, a changed data pipeline or coding).",
            "Re-validate the model on recent data, and retrain it if accuracy there has "
            "dropped.",
            "Keep running this check on production data as part of post-market monitoring.",
        ),
        see_also=("ood_covariate_shift", "performance_metrics"),
    ),
    "ood_selective_prediction": Guidance(
        title="Abstaining on uncertain inputs",
        how_to_read=(
            "The risk-coverage curve shows the error rate among the inputs the model is most "
            "confident on as it answers fewer of them, and the table gives, for each share "
            "answered, the confidence threshold and the accuracy it keeps (with a Wilson "
            f"interval). {_INFORMATION}, since the right trade-off depends on the cost of a "
            "human review; the figures under shift show whether a threshold set on clean data "
            "still holds on degraded inputs."),
        next_steps=(
            "Choose the threshold in the table whose accuracy meets your requirement, and "
            "send the inputs below it to a person.",
            "If calibration degrades under shift, recalibrate before relying on a threshold.",
        ),
        see_also=("performance_calibration", "ood_detection", "ood_covariate_shift"),
    ),
}

_PRIVACY = {
    "privacy_membership_inference": Guidance(
        title="Membership inference",
        how_to_read=(
            "TPR at 1% FPR is the share of training records the strongest attack identifies "
            "while wrongly accusing 1% of other records: guessing gets 1%, and more means the "
            f"model reveals who was in its training data. {_MEMBERSHIP_JUDGED}"),
        next_steps=(
            "Check the per-record evidence (the records most exposed) and the rates per class "
            "and group to see whose data is at risk.",
            "Reduce overfitting (regularisation, early stopping, more data), or train with "
            "differential privacy (DP-SGD) for a guarantee, then re-audit.",
            "Return labels or rounded scores instead of full probabilities where the use "
            "allows.",
        ),
        see_also=("privacy_canary_audit", "performance_generalisation",
                  "privacy_attribute_inference"),
    ),
    "privacy_canary_audit": Guidance(
        title="Privacy loss measured with canaries",
        how_to_read=(
            "Epsilon is the privacy-loss parameter of differential privacy, where larger means "
            "one training record can change the model more, and this check gives the smallest "
            "epsilon consistent with how well planted test records (canaries) that were "
            "trained on can be told from those held out. It is a 95% lower bound, so any value "
            "above 0 is demonstrated leakage, and a bound above 1 means the training protects "
            "its records less than what is usually called strong differential privacy."),
        next_steps=(
            "Train with differential privacy (DP-SGD) at a target epsilon below this bound, "
            "and re-run the canary audit to confirm it.",
            "Reduce memorisation: fewer epochs, more regularisation, training data without "
            "duplicates.",
        ),
        see_also=("privacy_membership_inference", "performance_generalisation"),
    ),
    "privacy_attribute_inference": Guidance(
        title="Sensitive attribute inference",
        how_to_read=(
            "The gain is how much the model's output probabilities raise the balanced accuracy "
            "of guessing a training record's sensitive feature from its other features; above "
            "zero, the model reveals that feature beyond what the other features already "
            f"tell. {_INFORMATION}, with a paired 95% bootstrap interval: an interval wholly "
            "above zero shows a real leak."),
        next_steps=(
            "Return labels or rounded scores instead of full probabilities.",
            "Train with differential privacy, or remove the features that stand in for the "
            "sensitive one, and re-audit.",
        ),
        see_also=("privacy_membership_inference", "fairness_group_metrics"),
    ),
}

_GENERATIVE = {
    "generative_fidelity": Guidance(
        title="Realism and variety of generated samples",
        how_to_read=(
            "Fréchet distance and KID measure how far generated samples are from real data in "
            "a feature space (lower is better), precision and density how many samples look "
            "real, and recall and coverage how much of the real data's variety they reach "
            "(higher is better). Each is shown next to a floor (real training data against "
            "held-out data, the best a generator can do at this sample size) and ceilings "
            "(real data corrupted at rising severity), and the model is read by where it falls "
            "between them, without a verdict."),
        next_steps=(
            "If precision is low the samples look unrealistic: train longer or use a larger "
            "model; if recall or coverage is low the generator misses part of the data.",
            "Compare models only with the same feature extractor.",
        ),
        see_also=("generative_coverage", "generative_memorisation"),
    ),
    "generative_coverage": Guidance(
        title="Coverage of every class (mode collapse)",
        how_to_read=(
            "Each class's share of the generated samples, as a classifier of the domain labels "
            "them, is compared with its share of real data: a class generated far less often "
            "than it occurs is under-represented or missing (mode collapse). By default a "
            "class is missing when even the upper end of its 95% Wilson interval is under a "
            "quarter of its real share, and under-represented under half, so chance shortfalls "
            "in a small sample are not flagged."),
        next_steps=(
            "Retrain with a remedy for mode collapse (minibatch discrimination, a Wasserstein "
            "or spectrally normalised GAN), or rebalance the training data toward the missing "
            "classes.",
            "Check whether the missing classes were rare or mislabelled in the training data.",
        ),
        see_also=("generative_fidelity",),
    ),
    "generative_memorisation": Guidance(
        title="Copies of training data in the samples",
        how_to_read=(
            "The near-copy share is the share of generated samples closer to a training sample "
            "than 99% of unseen real samples are (a generator of fresh data makes about 1%), "
            "and the data-copying test statistic (C_T) falls far below 0 when samples sit "
            "closer to the training data than fresh data does; more near-copies and a lower "
            "statistic are worse. The share is judged on the lower end of its 95% interval and "
            "the statistic against levels far outside its range when nothing is copied, so a "
            "flag means copying beyond chance."),
        next_steps=(
            "Inspect the closest generated and training pairs shown, and remove duplicated or "
            "rare training records that are being copied.",
            "Stop training earlier, regularise, or train with differential privacy, then "
            "re-audit.",
        ),
        see_also=("generative_membership", "generative_fidelity"),
    ),
    "generative_membership": Guidance(
        title="Membership inference on a generator",
        how_to_read=(
            "TPR at 1% FPR is the share of the generator's training samples the strongest "
            "attack identifies while wrongly accusing 1% of other real samples: guessing gets "
            "1%, and more means the model reveals who was in its training data. "
            f"{_MEMBERSHIP_JUDGED}"),
        next_steps=(
            "Look at the near-copies in the memorisation check: rare or duplicated training "
            "samples leak first.",
            "Train with differential privacy (DP-SGD), stop earlier or train on more data, "
            "then re-audit.",
            "Publish generated samples rather than the model where possible, and never its "
            "discriminator.",
        ),
        see_also=("generative_memorisation", "generative_autoencoder"),
    ),
    "generative_autoencoder": Guidance(
        title="VAE latent space and overfitting",
        how_to_read=(
            "Active units count the latent dimensions the VAE actually uses (a unit is active "
            "when its encoding varies over the data): none or very few means posterior "
            "collapse, where the decoder ignores the latent code. The gaps in ELBO and "
            "reconstruction error between training and held-out samples are shown beside it "
            "with 95% intervals, and a gap whose interval excludes 0 means overfitting."),
        next_steps=(
            "Against posterior collapse, anneal the KL term (KL warm-up), use free bits or "
            "weaken the decoder, then retrain.",
            "Against a training-versus-held-out gap, regularise or stop earlier, and check "
            "membership inference.",
        ),
        see_also=("generative_membership", "generative_fidelity"),
    ),
}

#: Guidance by registered check name.
GUIDANCE: dict[str, Guidance] = {**_PERFORMANCE, **_EXPLANATIONS, **_FAIRNESS, **_ROBUSTNESS,
                                 **_OOD, **_PRIVACY, **_GENERATIVE}


def guidance_for(name: str) -> Guidance:
    """The guidance of check ``name``; a readable title alone for an unknown check.

    Parameters
    ----------
    name : str
        A check's registered name.

    Returns
    -------
    Guidance
        Its entry in :data:`GUIDANCE`, or for a check without one (a plug-in)
        its name made readable as the title, with nothing else.

    Examples
    --------
    >>> guidance_for("performance_calibration").title
    'Calibration of confidence'
    >>> guidance_for("my_plugin_check").title
    'My plugin check'
    """
    found = GUIDANCE.get(name)
    return found if found is not None else Guidance(title=humanize(name))
