"""tfmnistcodec: a learned lossy codec for MNIST digits in low-level TensorFlow.

The layout follows the data flow: `data` (TFDS digits) -> `transforms`
(analysis and synthesis `tf.Module`s) -> `entropy` (prior and range coder) ->
`loss` (rate and distortion) -> `training` (the tape loop, checkpoints) ->
`refinement` (the encoder's per-digit latent search) -> `export` (SavedModel
with `compress`/`decompress`) -> `evaluation`; the
codec file layer: `container` (the format) -> `codecfile` (files through a
SavedModel) -> `imageio` (users' PNG, .npy and idx files); and the study
layer: `classical` (PNG/WebP/JPEG on the same digits), `bdrate` (Bjøntegaard
deltas), `report` (tables and plots) and `sweep` (one model per λ).
"""

__version__ = "0.1.0"

from tfmnistcodec.bdrate import bd_rate
from tfmnistcodec.bdrate import bd_rate_distortion
from tfmnistcodec.codecfile import CodecFileError
from tfmnistcodec.codecfile import FileCodec
from tfmnistcodec.data import DatasetError
from tfmnistcodec.data import load_images
from tfmnistcodec.data import load_numpy
from tfmnistcodec.entropy import DeepFactorizedPrior
from tfmnistcodec.entropy import entropy_model
from tfmnistcodec.entropy import Prior
from tfmnistcodec.export import CodecModule
from tfmnistcodec.export import export_saved_model
from tfmnistcodec.loss import rate_distortion
from tfmnistcodec.model import ARCHITECTURES
from tfmnistcodec.model import Architecture
from tfmnistcodec.model import Codec
from tfmnistcodec.training import restore_codec
from tfmnistcodec.training import train_and_evaluate
from tfmnistcodec.training import TrainConfig
from tfmnistcodec.transforms import AnalysisTransform
from tfmnistcodec.transforms import SynthesisTransform

__all__ = [
    "__version__",
    "ARCHITECTURES",
    "AnalysisTransform",
    "Architecture",
    "Codec",
    "CodecFileError",
    "CodecModule",
    "DatasetError",
    "DeepFactorizedPrior",
    "FileCodec",
    "Prior",
    "SynthesisTransform",
    "TrainConfig",
    "bd_rate",
    "bd_rate_distortion",
    "entropy_model",
    "export_saved_model",
    "load_images",
    "load_numpy",
    "rate_distortion",
    "restore_codec",
    "train_and_evaluate",
]
