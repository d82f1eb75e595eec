"""The gradient and black-box attacks: formulas on fixed models, budgets, and the zoo CNNs.

FGSM and DeepFool are checked against their closed forms on linear models;
APGD against the formulas of Croce & Hein (2020) (DLR loss, checkpoints, the
first step and the momentum step) on a linear model, and against PGD on the
zoo CNNs; PGD and Square against their budgets and the valid box; the robustness checks
against the planted defect of the zoo (mnist-cnn is not robust, its
adversarially trained twin is), and the gradient-masking check against a model
whose gradients are useless by construction.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from auditkit import AuditData, CheckContext, Status, get_check, wrap_model, zoo
from auditkit.attacks import Domain, apgd, deepfool, dlr_loss, fgsm, pgd, square_linf
from auditkit.exceptions import AuditkitError

UNIT = Domain.from_arrays(np.zeros(4), np.ones(4))


def _linear(weight: np.ndarray, bias: np.ndarray) -> nn.Linear:
    layer = nn.Linear(weight.shape[1], weight.shape[0])
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
        layer.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
    return layer.eval()


@pytest.fixture(scope="module")
def linear():
    rng = np.random.default_rng(0)
    return _linear(rng.normal(size=(3, 4)), rng.normal(size=3))


@pytest.fixture(scope="module")
def mnist():
    model, data = zoo.load("mnist-cnn")
    return model, data


@pytest.fixture(scope="module")
def mnist_robust():
    model, data = zoo.load("mnist-cnn-robust")
    return model, data


def _run(name, model, data, **options):
    adapter = wrap_model(model, device="cpu")
    return get_check(name, **options).run(adapter, data, context=CheckContext(random_state=0))


# -- formulas on linear models --------------------------------------------------------------


def test_fgsm_on_a_linear_model_is_the_sign_of_the_cross_entropy_gradient(linear):
    rng = np.random.default_rng(1)
    x = rng.uniform(0.2, 0.8, size=(16, 4))
    y = rng.integers(0, 3, size=16)
    W = linear.weight.detach().numpy().astype(np.float64)
    b = linear.bias.detach().numpy().astype(np.float64)
    logits = x @ W.T + b
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    # d CE / d x = (softmax - onehot) @ W
    gradient = (p - np.eye(3)[y]) @ W
    expected = np.clip(x + 0.1 * np.sign(gradient), 0, 1)
    outcome = fgsm(linear, torch.tensor(x, dtype=torch.float32), torch.tensor(y), 0.1,
                   domain=UNIT)
    np.testing.assert_allclose(outcome.adversarial.numpy(), expected, atol=1e-6)
    predicted = (expected @ W.T + b).argmax(1)
    np.testing.assert_array_equal(outcome.success.numpy(), predicted != y)


def test_fgsm_targeted_descends_the_target_cross_entropy(linear):
    x = torch.full((3, 4), 0.5)
    y = torch.tensor([0, 1, 2])
    target = torch.tensor([1, 2, 0])
    W = linear.weight.detach().double()
    p = torch.softmax(linear(x).double(), 1).detach()
    gradient = (p - torch.eye(3, dtype=torch.float64)[target]) @ W
    outcome = fgsm(linear, x, y, 0.05, domain=UNIT, target=target)
    expected = (x.double() - 0.05 * torch.sign(gradient)).clamp(0, 1)
    np.testing.assert_allclose(outcome.adversarial.numpy(), expected.numpy(), atol=1e-6)


def test_deepfool_on_a_binary_linear_model_finds_the_distance_to_the_hyperplane():
    w = np.array([0.3, -0.2, 0.1, 0.25])
    model = _linear(np.vstack([np.zeros(4), w]), np.array([0.0, -0.05]))
    x = torch.full((5, 4), 0.5) + torch.linspace(-0.05, 0.05, 5)[:, None]
    score = x.double().numpy() @ w - 0.05
    y = torch.from_numpy((score > 0).astype(np.int64))
    outcome = deepfool(model, x, y, domain=UNIT, overshoot=0.0)
    distance = (outcome.adversarial - x).double().flatten(1).norm(dim=1).numpy()
    expected = np.abs(score) / np.linalg.norm(w)
    assert outcome.success.all()
    # one exact step lands on the boundary (plus DeepFool's 1e-4 nudge across it)
    np.testing.assert_allclose(distance, expected + 1e-4 / np.linalg.norm(w), rtol=1e-3)


def test_dlr_loss_is_the_papers_ratio():
    z = torch.tensor([[3.0, 1.0, 0.5, -1.0, 2.0]])  # sorted: 3, 2, 1, 0.5, -1
    y = torch.tensor([4])
    # untargeted: -(z_y - max_{i != y} z_i) / (z_pi1 - z_pi3)
    assert dlr_loss(z, y).item() == pytest.approx(-(2.0 - 3.0) / (3.0 - 1.0))
    # targeted at t: -(z_y - z_t) / (z_pi1 - (z_pi3 + z_pi4) / 2)
    assert dlr_loss(z, y, torch.tensor([1])).item() == pytest.approx(
        -(2.0 - 1.0) / (3.0 - (1.0 + 0.5) / 2))
    # invariant to shifting and scaling the logits
    assert dlr_loss(7 * z + 3, y).item() == pytest.approx(dlr_loss(z, y).item())


def test_apgd_checkpoints_follow_the_papers_schedule():
    from auditkit.checks.robustness._attacks import apgd_checkpoints

    # p_0 = 0, p_1 = 0.22, p_{j+1} = p_j + max(p_j - p_{j-1} - 0.03, 0.06): the iterations of
    # the authors' code for 100 iterations
    assert apgd_checkpoints(100) == [22, 41, 57, 70, 80, 87, 93, 99]


def test_apgd_first_steps_on_a_linear_model_are_the_papers_updates(linear):
    # L2, from a point deep inside its class (no step can break it, the box never binds):
    # the gradient turns between steps, so the momentum step moves the point
    x = torch.full((1, 4), 0.5)
    W = linear.weight.detach().double()
    y = linear(x).argmax(1)
    eps = 0.2

    def grad(point):
        g = (torch.softmax(linear(point.float()).double(), 1)
             - torch.eye(3, dtype=torch.float64)[y]) @ W
        return g / g.norm()

    def project(point):
        delta = point - x.double()
        return x.double() + delta * min(1.0, eps / delta.norm().item())

    with torch.no_grad():
        x0 = x.double()
        x1 = project(x0 + 2 * eps * grad(x0))  # eta_0 = 2 eps, no momentum
        z2 = project(x1 + 2 * eps * grad(x1))
        x2 = project(x1 + 0.75 * (z2 - x1) + 0.25 * (x1 - x0))  # momentum 0.75
        losses = [torch.nn.functional.cross_entropy(linear(p.float()), y).item()
                  for p in (x0, x1, x2)]
    assert losses[0] < losses[1] < losses[2] and (x2 - x1).abs().max() > 1e-3
    # APGD returns the point of highest loss among its iterates: the last one here
    for steps, expected in ((1, x1), (2, x2)):
        outcome = apgd(linear, x, y, eps, domain=UNIT, norm="l2", steps=steps,
                       random_start=False)
        assert not outcome.success.any()
        np.testing.assert_allclose(outcome.adversarial.numpy(), expected.numpy(), atol=1e-5)


def test_apgd_halves_its_step_and_returns_to_the_best_point_when_it_stalls(linear):
    # a linear model under L-inf: after the first step the iterate sits at the corner the
    # gradient's sign points to, so the loss stops rising and every checkpoint halves
    x = torch.full((1, 4), 0.5)
    y = linear(x).argmax(1)
    outcome = apgd(linear, x, y, 0.02, domain=UNIT, steps=30, random_start=False)
    W = linear.weight.detach().double()
    with torch.no_grad():
        g = (torch.softmax(linear(x).double(), 1) - torch.eye(3, dtype=torch.float64)[y]) @ W
    np.testing.assert_allclose(outcome.adversarial.numpy(), (x + 0.02 * g.sign()).numpy(),
                               atol=1e-6)


@pytest.mark.parametrize("norm, eps", [("linf", 0.1), ("l2", 0.5)])
@pytest.mark.parametrize("loss, targets", [("ce", 0), ("dlr", 0), ("dlr", 2)])
def test_apgd_stays_in_the_ball_and_the_box(linear, norm, eps, loss, targets):
    rng = np.random.default_rng(2)
    x = torch.tensor(rng.uniform(0, 1, size=(64, 4)), dtype=torch.float32)
    y = torch.tensor(rng.integers(0, 3, size=64))
    outcome = apgd(linear, x, y, eps, domain=UNIT, norm=norm, steps=15, restarts=2, loss=loss,
                   target_classes=targets)
    delta = outcome.adversarial - x
    size = delta.abs().amax(1) if norm == "linf" else delta.norm(dim=1)
    assert (size <= eps + 1e-5).all()
    assert outcome.adversarial.min() >= 0 and outcome.adversarial.max() <= 1
    predicted = linear(outcome.adversarial).argmax(1)
    np.testing.assert_array_equal(outcome.success.numpy(), (predicted != y).numpy())


def test_apgd_leaves_masked_values_alone(linear):
    domain = Domain.from_arrays(np.zeros(4), np.ones(4), np.array([1.0, 0.0, 1.0, 0.0]))
    x = torch.rand(32, 4, generator=torch.Generator().manual_seed(3))
    y = linear(x).argmax(1)
    outcome = apgd(linear, x, y, 0.3, domain=domain, steps=10, loss="dlr", target_classes=2)
    torch.testing.assert_close(outcome.adversarial[:, [1, 3]], x[:, [1, 3]])


def test_apgd_is_never_weaker_than_pgd_on_the_zoo_cnns(mnist, mnist_robust):
    from auditkit.attacks import frozen_parameters

    for model, data in (mnist, mnist_robust):
        x = torch.from_numpy(np.array(data.X[:40], dtype=np.float32))
        y = torch.from_numpy(np.array(data.y[:40], dtype=np.int64))
        with frozen_parameters(model):
            plain = pgd(model, x, y, 0.3, domain=UNIT, steps=20)
            auto = apgd(model, x, y, 0.3, domain=UNIT, steps=20)
        assert auto.success.sum() >= plain.success.sum()
        assert ((auto.adversarial - x).abs().amax() <= 0.3 + 1e-6)
        with torch.inference_mode():
            np.testing.assert_array_equal(auto.success.numpy(),
                                          (model(auto.adversarial).argmax(1) != y).numpy())


# -- budgets, boxes and masks ---------------------------------------------------------------


@pytest.mark.parametrize("norm, eps", [("linf", 0.1), ("l2", 0.5)])
@pytest.mark.parametrize("loss", ["ce", "margin"])
def test_pgd_stays_in_the_ball_and_the_box(linear, norm, eps, loss):
    rng = np.random.default_rng(2)
    x = torch.tensor(rng.uniform(0, 1, size=(64, 4)), dtype=torch.float32)
    y = torch.tensor(rng.integers(0, 3, size=64))
    outcome = pgd(linear, x, y, eps, domain=UNIT, norm=norm, steps=15, restarts=2, loss=loss)
    delta = outcome.adversarial - x
    size = delta.abs().amax(1) if norm == "linf" else delta.norm(dim=1)
    assert (size <= eps + 1e-5).all()
    assert outcome.adversarial.min() >= 0 and outcome.adversarial.max() <= 1
    predicted = linear(outcome.adversarial).argmax(1)
    np.testing.assert_array_equal(outcome.success.numpy(), (predicted != y).numpy())


def test_pgd_and_square_leave_masked_values_alone(linear):
    mask = np.array([1.0, 0.0, 1.0, 0.0])
    domain = Domain.from_arrays(np.zeros(4), np.ones(4), mask)
    x = torch.rand(32, 4, generator=torch.Generator().manual_seed(3))
    y = linear(x).argmax(1)
    for outcome in (pgd(linear, x, y, 0.3, domain=domain, steps=10),
                    square_linf(lambda u: torch.softmax(linear(u), 1), x, y, 0.3,
                                domain=domain, n_queries=50, sequence=True)):
        torch.testing.assert_close(outcome.adversarial[:, [1, 3]], x[:, [1, 3]])


def test_targeted_pgd_reaches_its_targets(mnist):
    model, data = mnist
    x = torch.from_numpy(data.X[:32].copy())
    y = torch.from_numpy(data.y[:32].astype(np.int64))
    target = (y + 1) % 10
    domain = Domain.from_arrays(0.0, 1.0)
    outcome = pgd(model, x, y, 0.3, domain=domain, steps=40, target=target, loss="margin")
    reached = model(outcome.adversarial).argmax(1) == target
    np.testing.assert_array_equal(reached.numpy(), outcome.success.numpy())
    assert outcome.success.float().mean() > 0.9


def test_normalised_inputs_get_the_same_budget(mnist):
    """A model fed standardised pixels, with the matching input_range, is attacked alike."""
    model, data = mnist
    mean, std = 0.1307, 0.3081

    class Standardised(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = model

        def forward(self, x):
            return self.inner(x * std + mean)

    n = 120
    plain = AuditData(data.X[:n], data.y[:n], modality="image", input_range=(0.0, 1.0))
    scaled = AuditData((data.X[:n] - mean) / std, data.y[:n], modality="image",
                       input_range=(-mean / std, (1 - mean) / std))
    a = _run("robustness_pgd", model, plain, n_samples=None, epsilons=(0.1,), steps=10)
    b = _run("robustness_pgd", Standardised(), scaled, n_samples=None, epsilons=(0.1,),
             steps=10)
    assert abs(a.metrics["robust_accuracy"].value - b.metrics["robust_accuracy"].value) <= 2 / n


def test_sequence_attacks_never_touch_the_mask_channel():
    model, data = zoo.load("vowels-gru")
    result = _run("robustness_pgd", model, data, n_samples=40, epsilons=(0.1, 0.3),
                  epsilon=0.3, steps=5, losses=("ce",))
    assert result.status is Status.INFO
    examples = result.figures["examples"].data
    # displayable sequences are (n, length, channels): the last channel is the mask
    np.testing.assert_array_equal(examples["adversarial"][..., -1], examples["original"][..., -1])


# -- the zoo: the planted defect is found ---------------------------------------------------


def test_pgd_breaks_mnist_cnn_and_not_its_robust_twin(mnist, mnist_robust):
    weak = _run("robustness_pgd", *mnist, n_samples=150, epsilons=(0.1, 0.3), steps=20)
    strong = _run("robustness_pgd", *mnist_robust, n_samples=150, epsilons=(0.1, 0.3),
                  steps=20)
    assert weak.metrics["robust_accuracy_at_0.3"].value < 0.05
    assert weak.metrics["clean_accuracy"].value > 0.95
    assert strong.metrics["robust_accuracy"].value > weak.metrics["robust_accuracy"].value + 0.25
    assert strong.metrics["robust_accuracy"].value > 0.85
    # the headline states numbers; the policy judges them
    for result in (weak, strong):
        robust = result.metrics["robust_accuracy"]
        assert f"robust accuracy is {robust.value:.1%} [{robust.lower:.1%}" in result.headline
        assert "keeps" not in result.headline and "loses" not in result.headline
    curve = weak.tables["curve"]
    # APGD at least as strong as FGSM; each stage of the ensemble at least as strong as the last
    assert (curve["FGSM"] >= curve["APGD (CE)"] - 1e-9).all()
    assert (curve["APGD (CE)"] >= curve["APGD (CE + T)"]).all()
    assert curve["APGD (CE + T + Square)"].isna().sum() == 1  # Square at epsilon only
    assert weak.metrics["robust_accuracy"].value == curve["APGD (CE + T + Square)"].iloc[0]


def test_black_box_square_breaks_the_plain_cnn(mnist):
    model, data = mnist
    result = _run("robustness_square", model, data, n_samples=40, n_queries=150,
                  epsilon=0.3)
    assert result.metrics["attack_success_rate"].value > 0.8
    assert result.metrics["median_queries_to_success"].value <= 150
    # A plain function of numpy arrays is attacked the same way.
    def proba(X):
        with torch.no_grad():
            return torch.softmax(model(torch.as_tensor(X, dtype=torch.float32)), 1).numpy()

    black = get_check("robustness_square", n_samples=40, n_queries=150, epsilon=0.3).run(
        wrap_model(proba), data, context=CheckContext(random_state=0))
    assert black.metrics["attack_success_rate"].value > 0.8


def test_minimal_perturbation_is_larger_for_the_robust_model(mnist, mnist_robust):
    weak = _run("robustness_minimal_perturbation", *mnist, n_samples=40, n_resamples=200)
    strong = _run("robustness_minimal_perturbation", *mnist_robust, n_samples=40,
                  n_resamples=200)
    assert weak.metrics["flipped_share"].value == 1.0
    assert strong.metrics["median_l2_perturbation"].value > \
        1.5 * weak.metrics["median_l2_perturbation"].value
    metric = weak.metrics["median_l2_perturbation"]
    assert metric.lower <= metric.value <= metric.upper


class _Binarised(nn.Module):
    """mnist-cnn behind a rounding step: accurate, but its input gradient is zero."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner

    def forward(self, x):
        return self.inner(torch.round(x))


def test_gradient_masking_is_flagged_for_a_model_with_useless_gradients(mnist):
    model, data = mnist
    options = dict(n_samples=60, square_samples=60, n_queries=200, steps=10,
                   epsilons=(0.1, 0.3), epsilon=0.3)
    masked = _run("robustness_gradient_masking", _Binarised(model), data, **options)
    honest = _run("robustness_gradient_masking", model, data, **options)
    flagged = set(masked.tables["tests"].loc[~masked.tables["tests"]["passed"], "test"])
    assert masked.metrics["gradient_masking_flags"].value >= 2
    assert {"black-box no stronger than white-box", "accuracy falls as epsilon grows"} <= flagged
    assert any(t.startswith("accuracy near zero") for t in flagged)
    assert honest.metrics["gradient_masking_flags"].value <= 1


def test_pgd_stays_a_named_option(mnist):
    model, data = mnist
    result = _run("robustness_pgd", model, data, n_samples=30, epsilons=(0.1,), attack="pgd",
                  steps=5)
    assert result.headline.startswith("Under PGD (L-inf, eps 0.1, CE + margin, 5 steps)")
    assert list(result.tables["curve"].columns) == ["epsilon", "PGD (CE)", "PGD (CE + margin)",
                                                    "FGSM"]


def test_robustness_checks_are_deterministic(mnist):
    model, data = mnist
    a = _run("robustness_pgd", model, data, n_samples=30, epsilons=(0.1,), steps=5)
    b = _run("robustness_pgd", model, data, n_samples=30, epsilons=(0.1,), steps=5)
    assert a.metrics == b.metrics


def test_gradient_checks_skip_tabular_text_and_black_boxes(mnist):
    model, data = zoo.load("adult-mlp")
    result = _run("robustness_pgd", model, data)
    assert result.status is Status.SKIP and "robustness_tabular" in result.headline
    _, images = mnist
    black = get_check("robustness_pgd").run(wrap_model(lambda X: np.full((len(X), 10), 0.1)),
                                            images, context=CheckContext())
    assert black.status is Status.SKIP and "gradients" in black.headline


@pytest.mark.parametrize("name, options, param", [
    ("robustness_pgd", {"epsilons": (0.2, 0.1)}, "epsilons"),
    ("robustness_pgd", {"epsilon": 0.7}, "epsilon"),
    ("robustness_pgd", {"losses": ("hinge",)}, "losses"),
    ("robustness_pgd", {"attack": "fab"}, "attack"),
    ("robustness_pgd", {"target_classes": -1}, "target_classes"),
    ("robustness_pgd", {"steps": 0}, "steps"),
    ("robustness_pgd_l2", {"epsilons": (-1.0,)}, "epsilons"),
    ("robustness_square", {"n_queries": 0}, "n_queries"),
    ("robustness_square", {"epsilon": 1.5}, "epsilon"),
    ("robustness_minimal_perturbation", {"overshoot": -0.1}, "overshoot"),
    ("robustness_gradient_masking", {"large_epsilon": 0.0}, "large_epsilon"),
    ("robustness_fgsm", {"n_samples": 0}, "n_samples"),
])
def test_bad_options_name_the_parameter(name, options, param):
    with pytest.raises(AuditkitError, match=f"'{param}' option of check '{name}'"):
        get_check(name, **options)


@pytest.mark.parametrize("name", ["robustness_pgd", "robustness_pgd_l2", "robustness_fgsm",
                                  "robustness_square", "robustness_minimal_perturbation",
                                  "robustness_gradient_masking"])
def test_sample_sizes_and_levels_are_validated_at_construction(name):
    with pytest.raises(AuditkitError, match=r"'n_samples' option .* Got -5 instead"):
        get_check(name, n_samples=-5)
    if "confidence" in get_check(name).params():
        with pytest.raises(AuditkitError, match=r"'confidence' option .* Got 'x' instead"):
            get_check(name, confidence="x")
    with pytest.raises(AuditkitError, match="'n_samples' option"):
        get_check(name, n_samples=True)  # a boolean is no count


def test_help_lists_every_option():
    import dataclasses

    from auditkit.checks import RobustnessPGD, RobustnessPGDL2

    for cls in (RobustnessPGD, RobustnessPGDL2):
        for option in dataclasses.fields(cls):
            assert f"{option.name} :" in cls.__doc__, (cls.__name__, option.name)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_gives_the_cpu_verdicts(mnist):
    from auditkit import audit, list_checks

    model, data = mnist
    checks = [get_check(n, **({"n_samples": 60} if "n_samples" in get_check(n).params()
                              else {})) for n in list_checks("robustness")]
    on_cpu = audit(model, data, checks=checks, device="cpu", progress=False)
    on_cuda = audit(model, data, checks=checks, device="cuda", progress=False)
    assert [r.status for r in on_cuda] == [r.status for r in on_cpu]
    for cpu_result, cuda_result in zip(on_cpu, on_cuda, strict=True):
        for name, metric in cpu_result.metrics.items():
            # the same random starts; float differences may move a sample or two
            assert cuda_result.metrics[name].value == pytest.approx(metric.value, abs=0.05), name


def test_the_thread_executor_gives_the_same_numbers(mnist):
    from auditkit.checks import LocalExecutor

    model, data = mnist
    check = get_check("robustness_pgd", n_samples=40, epsilons=(0.1,), steps=5)
    adapter = wrap_model(model, device="cpu", batch_size=16)
    one = check.run(adapter, data, context=CheckContext(executor=LocalExecutor(1)))
    two = check.run(adapter, data, context=CheckContext(executor=LocalExecutor(2)))
    assert one.metrics == two.metrics
