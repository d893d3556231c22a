"""The codec's trainable state: analysis and synthesis transforms and prior."""

import tensorflow as tf

from tfmnistcodec import entropy
from tfmnistcodec import transforms

__all__ = ["Codec"]


class Codec(tf.Module):
  """All trainable variables of one codec, under stable names.

  Attributes:
    analysis_transform: `transforms.AnalysisTransform`.
    synthesis_transform: `transforms.SynthesisTransform`.
    prior: `entropy.Prior`.
  """

  def __init__(self, latent_dims=50, seed=0, name="codec"):
    super().__init__(name=name)
    if latent_dims < 1:
      raise ValueError("`latent_dims` must be at least 1.")
    analysis_seed, synthesis_seed = tf.unstack(
        tf.random.experimental.stateless_split([1, seed], num=2))
    with self.name_scope:
      self.analysis_transform = transforms.AnalysisTransform(
          latent_dims, seed=analysis_seed)
      self.synthesis_transform = transforms.SynthesisTransform(
          latent_dims, seed=synthesis_seed)
      self.prior = entropy.Prior(latent_dims)

  @property
  def latent_dims(self):
    return self.prior.latent_dims
