"""The codec's trainable state, and the architectures it can have.

An architecture names everything about a codec that is not a tunable
number: which prior it has, how it is trained and how its encoder chooses
latents. `tutorial` is the TensorFlow Compression tutorial's model, kept
reproducible by name; `improved`, the default for training, is this
project's better one (README, "Rate and distortion").
"""

import dataclasses

import tensorflow as tf

from tfmnistcodec import contract
from tfmnistcodec.core import entropy
from tfmnistcodec.core import transforms

__all__ = ["Architecture", "ARCHITECTURES", "DEFAULT_ARCHITECTURE",
           "get_architecture", "Codec"]


@dataclasses.dataclass(frozen=True)
class Architecture:
  """What a named architecture changes, each a measured step (README).

  Attributes:
    name: Its name (`--architecture`).
    prior: `"logistic"` (the tutorial's `entropy.Prior`) or
      `"deep_factorized"` (`entropy.DeepFactorizedPrior`).
    clip_distortion: Measure the training distortion on reconstructions
      clipped to [0, 1], as the decoder delivers them (uint8), rather than on
      the raw outputs: a background pixel decoded as -0.2 costs nothing.
    learning_rate: Adam's learning rate of the transforms, where the run
      names none (`TrainConfig.learning_rate`). `improved` trains at 2e-3
      (1e-3 until 2026-12-05): with the moving average below, twice the
      tutorial's rate reaches a given test loss epochs sooner (BUILD.md,
      "Training speed").
    decay_learning_rate: After 70% of the steps, decay the learning rate
      exponentially to a tenth of its value at the last step.
    prior_learning_rate_factor: The prior's variables have an Adam of their
      own, with this many times the transforms' learning rate. Adam moves a
      variable by about its learning rate per step, whatever the gradient,
      so at 1e-3 the prior needs thousands of steps to narrow from its initial
      width to the latents'; until it has, the rate term dominates the loss
      and training spends its first epochs on it (README). `improved`'s 10,
      at twice the tutorial's learning rate, gives its prior 2e-2 (runs
      started on 2026-12-04 had 20 at 1e-3, the same rate; before, 10 at
      1e-3); a prior at 3e-2 collapses the latents at λ = 300 (BUILD.md,
      "Training speed"). A run records the factor it trained with
      (`TrainConfig.resolve`).
    ema_steps: Validation and export use an exponential moving average of
      the variables with this time constant, in steps, where the run names
      none (`TrainConfig.ema_steps`); 0: the variables as trained. The
      average smooths out the noise of the steps at a constant learning
      rate: with it, `improved` reaches a given test loss epochs sooner
      (BUILD.md, "Training speed"). `improved`'s 75 steps of 256 digits
      are the 150 of 128 that it had before its batch doubled.
    batch_size: Digits per training step, where the run names none
      (`TrainConfig.batch_size`). `improved` trains on 256 (128 until
      2026-12-05): a step's cost is not all in proportion to its digits, so
      an epoch of half as many steps takes about 12% less time on two CPU
      cores, and its test loss after each epoch is about the same
      (BUILD.md, "Training speed").
    refine_steps: Steps of encoder-side latent refinement when compressing
      (`refinement.refine_latents`): the exported `compress` searches each
      digit's latents for a lower rate + lmbda * distortion than the analysis
      transform's, with the decoder unchanged. 0: no search, the latents are
      the analysis transform's, rounded. Training is not affected.
    flip_rounds: Rounds of the greedy flip search when compressing
      (`refinement.flip_latents`), used instead of `refine_steps`' search:
      each round moves at most one latent of a digit to the other integer
      next to it, where that codes the digit at a lower rate + lmbda *
      distortion. 0: no flip search.
    flip_candidates: Flips that each round of that search codes exactly.
    analysis_hidden_layers: Dense layers of 500 between the analysis
      transform's convolutions and its latents, where the run names none
      (`TrainConfig.analysis_hidden_layers`): the tutorial's 1; `improved`'s
      3 (since 2026-12-05; 1 before): a deeper encoder finds latents that
      code the digits at a lower loss once rounded (2.9% lower at
      lambda = 2000), its epochs 1.07 times the tutorial's
      (docs/experiments.md).
  """
  name: str
  prior: str = "logistic"
  clip_distortion: bool = False
  learning_rate: float = 1e-3
  decay_learning_rate: bool = False
  prior_learning_rate_factor: float = 1.
  ema_steps: float = 0.
  batch_size: int = 128
  refine_steps: int = 0
  flip_rounds: int = 0
  flip_candidates: int = 0
  analysis_hidden_layers: int = 1


ARCHITECTURES = {
    a.name: a for a in (
        Architecture("tutorial"),
        Architecture("improved", prior="deep_factorized",
                     clip_distortion=True, learning_rate=2e-3,
                     decay_learning_rate=True, prior_learning_rate_factor=10.,
                     ema_steps=75., batch_size=256,
                     flip_rounds=6, flip_candidates=8,
                     analysis_hidden_layers=3),
    )
}
# Training's default (`--architecture`): the better one, since it met the
# bars it was held to (README, "Rate and distortion"). `Codec` itself
# defaults to the tutorial's.
DEFAULT_ARCHITECTURE = "improved"


def get_architecture(name):
  """The `Architecture` called `name`, or a `ValueError` listing them."""
  try:
    return ARCHITECTURES[name]
  except KeyError:
    raise contract.UserValueError(
        f"unknown architecture {name!r}; the architectures are "
        f"{', '.join(ARCHITECTURES)}.") from None


class Codec(tf.Module):
  """All trainable variables of one codec, under stable names.

  Attributes:
    analysis_transform: `transforms.AnalysisTransform`.
    synthesis_transform: `transforms.SynthesisTransform`.
    prior: `entropy.Prior` or `entropy.DeepFactorizedPrior`.
    architecture: Its `Architecture`.
  """

  def __init__(self, latent_dims=50, seed=0, architecture="tutorial",
               analysis_hidden_layers=None, name="codec"):
    super().__init__(name=name)
    if latent_dims < 1:
      raise contract.UserValueError("`latent_dims` must be at least 1.")
    self.architecture = get_architecture(architecture)
    if analysis_hidden_layers is None:
      analysis_hidden_layers = self.architecture.analysis_hidden_layers
    analysis_seed, synthesis_seed = tf.unstack(
        tf.random.experimental.stateless_split([1, seed], num=2))
    with self.name_scope:
      self.analysis_transform = transforms.AnalysisTransform(
          latent_dims, seed=analysis_seed,
          hidden_layers=analysis_hidden_layers)
      self.synthesis_transform = transforms.SynthesisTransform(
          latent_dims, seed=synthesis_seed)
      if self.architecture.prior == "logistic":
        self.prior = entropy.Prior(latent_dims)
      else:
        self.prior = entropy.DeepFactorizedPrior(latent_dims, seed=seed)

  @property
  def latent_dims(self):
    return self.prior.latent_dims
