"""What a training run does: `TrainConfig`, and the settings a resume keeps."""

import dataclasses
from typing import Optional

from tfmnistcodec import contract
from tfmnistcodec.core import model

__all__ = ["TrainConfig", "FIXED_SETTINGS", "check_same_settings"]

# Settings that a run resumed in the same model_dir may not change.
FIXED_SETTINGS = ("architecture", "lmbda", "latent_dims", "batch_size",
                  "learning_rate", "seed", "prior_learning_rate_factor",
                  "ema_steps", "analysis_hidden_layers")
# Settings that default to the architecture's (`TrainConfig.resolve`).
_ARCHITECTURE_SETTINGS = ("learning_rate", "prior_learning_rate_factor",
                          "ema_steps", "batch_size", "analysis_hidden_layers")


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """What a training run does.

  Attributes:
    architecture: Name of a `model.Architecture` (prior, training and
      encoder changes); `"tutorial"` is the TensorFlow Compression tutorial's
      model, the default (`model.DEFAULT_ARCHITECTURE`) is `"improved"`.
    lmbda: Weight of the distortion in the loss, rate + lmbda * distortion.
    latent_dims: Number of latent dimensions.
    epochs: Passes over the training digits.
    batch_size: Digits per step. `None` until `resolve` fills it in: a
      resumed run's own, else the architecture's
      (`model.Architecture.batch_size`: 128 for `tutorial`, 256 for
      `improved`).
    learning_rate: Adam's learning rate (of the transforms, where the prior
      has its own). `None` until `resolve` fills it in: a resumed run's own,
      else the architecture's (`model.Architecture.learning_rate`: 1e-3 for
      `tutorial`, 2e-3 for `improved`).
    seed: Seed of the initial variables, the digits' order and the noise.
    steps_per_loop: Steps per compiled call; checkpoints and logs happen only
      between calls.
    checkpoint_secs: Besides after every epoch, a checkpoint is written when
      this many seconds have passed since the last one.
    eval_batch_size: Digits per step of validation.
    prior_learning_rate_factor: The prior's own Adam runs at this many times
      `learning_rate` (1: one Adam for all variables). `None` until `resolve`
      fills it in: a resumed run's own, else the architecture's
      (`model.Architecture.prior_learning_rate_factor`).
    ema_steps: Time constant, in steps, of the exponential moving average of
      the variables that validation and export use (0: none, the variables
      as trained). `None` until `resolve` fills it in, as the factor above
      (`model.Architecture.ema_steps`).
    analysis_hidden_layers: Dense layers of 500 in the analysis transform
      before its latents. `None` until `resolve` fills it in, as the factor
      above (`model.Architecture.analysis_hidden_layers`: 1 for `tutorial`,
      3 for `improved`; runs from before it was recorded had 1).
  """
  architecture: str = model.DEFAULT_ARCHITECTURE
  lmbda: float = 2000.
  latent_dims: int = 50
  epochs: int = 15
  batch_size: Optional[int] = None
  learning_rate: Optional[float] = None
  seed: int = 0
  steps_per_loop: int = 100
  checkpoint_secs: float = 60.
  eval_batch_size: int = 1000
  prior_learning_rate_factor: Optional[float] = None
  ema_steps: Optional[float] = None
  analysis_hidden_layers: Optional[int] = None

  def __post_init__(self):
    model.get_architecture(self.architecture)  # Raises for unknown names.
    if not self.lmbda > 0:
      raise contract.UserValueError(
          f"lmbda must be positive, got {self.lmbda}.")
    if self.learning_rate is not None and not self.learning_rate > 0:
      raise contract.UserValueError(
          f"learning_rate must be positive, got {self.learning_rate}.")
    if self.ema_steps is not None and not self.ema_steps >= 0:
      raise contract.UserValueError(
          f"ema_steps must be 0 or more, got {self.ema_steps}.")
    factor = self.prior_learning_rate_factor
    if factor is not None and not factor > 0:
      raise contract.UserValueError(
          f"prior_learning_rate_factor must be positive, got {factor}.")
    for name in ("latent_dims", "epochs", "batch_size", "steps_per_loop",
                 "eval_batch_size", "analysis_hidden_layers"):
      if getattr(self, name) is not None and getattr(self, name) < 1:
        raise contract.UserValueError(f"{name} must be at least 1, got "
                                      f"{getattr(self, name)}.")

  def resolve(self, saved=None):
    """This config with the settings it left to the architecture filled in.

    `learning_rate`, `prior_learning_rate_factor`, `ema_steps`,
    `batch_size` and `analysis_hidden_layers`, where
    `None`, become `saved`'s, so that a resumed run goes on as it started
    (if it is of the same architecture; else the settings check names the
    architecture), or else the architecture's.

    Args:
      saved: The `TrainConfig` of the run this one resumes, or `None`.

    Returns:
      This config if it leaves nothing open, else a copy with those settings.
    """
    architecture = model.get_architecture(self.architecture)
    same = saved is not None and saved.architecture == self.architecture
    filled = {}
    for name in _ARCHITECTURE_SETTINGS:
      if getattr(self, name) is not None:
        continue
      if same and getattr(saved, name) is not None:
        filled[name] = getattr(saved, name)
      else:
        filled[name] = getattr(architecture, name)
    return dataclasses.replace(self, **filled) if filled else self


def check_same_settings(saved, config, model_dir):
  """Raises `ValueError` unless `config` keeps `saved`'s `FIXED_SETTINGS`.

  Args:
    saved: The `TrainConfig` that `model_dir` was trained with.
    config: The `TrainConfig` of the run that would resume it.
    model_dir: The run folder, named in the message.
  """
  changed = [
      f"{name}={getattr(saved, name)!r} (now {getattr(config, name)!r})"
      for name in FIXED_SETTINGS
      if getattr(saved, name) != getattr(config, name)
  ]
  if changed:
    raise contract.UserValueError(
        f"{model_dir} holds a run with other settings: "
        f"{', '.join(changed)}. Use another model_dir or the same settings.")
