"""tfmnistcodec: a learned lossy codec for MNIST digits in low-level TensorFlow.

The folders follow the data flow, each importing only those above it in this
list (and `contract`, what every layer shares: the image shape, the
signature names):

- `data`: uint8 `[28, 28, 1]` digits from TFDS, prepared offline where needed.
- `core`: `transforms` (analysis and synthesis `tf.Module`s), `entropy` (the
  prior and its tables), `rangecoder` (range coding in TensorFlow's own ops),
  `model`, `loss` (rate and distortion), `refinement` (the encoder's
  per-digit latent search).
- `training`: the tape loop, its configuration, checkpoints, `distribute`.
- `export`: the SavedModel with `compress`/`decompress`.
- `files`: `container` (the file format, no TensorFlow), `codecfile` (files
  through a SavedModel), `imageio` (users' PNG, .npy and idx files, read
  in chunks), `imagewriters` (decoded digits out, written in chunks),
  `fuzzing` (the seeded mutator), `fuzz_targets` and `fuzz_atheris`
  (coverage-guided fuzzing), `atomic` (files written whole or not at all).
- `study`, beside them: `classical` (PNG/WebP/JPEG on the same digits),
  `bdrate` (Bjøntegaard deltas), `evaluation`, `report`, `sweep`.

Importing the package imports nothing else: the names below load their
module on first use, so `tfmnistcodec.files.container`,
`tfmnistcodec.study.bdrate` and `tfmnistcodec.study.classical` work without
TensorFlow; `cli`, `files.atomic`, `files.codecfile` (until a `FileCodec` is
made), `files.imageio` and `files.imagewriters` import without it too, so
`bin/compress.py` and `bin/decompress.py` refuse bad arguments before it
starts. The module paths from before the folders (`tfmnistcodec.codecfile`,
`tfmnistcodec.container`, ...) keep working as aliases of the new ones.
"""

import importlib
import importlib.abc
import importlib.util
import sys

__version__ = "0.1.0"

# Public name -> the module that defines it.
_PUBLIC = {
    "ARCHITECTURES": "core.model",
    "AnalysisTransform": "core.transforms",
    "Architecture": "core.model",
    "Codec": "core.model",
    "CodecFileError": "files.codecfile",
    "CodecModule": "export.saved_model",
    "DatasetError": "data",
    "DeepFactorizedPrior": "core.entropy",
    "FileCodec": "files.codecfile",
    "Prior": "core.entropy",
    "SynthesisTransform": "core.transforms",
    "TrainConfig": "training",
    "bd_rate": "study.bdrate",
    "bd_rate_distortion": "study.bdrate",
    "entropy_model": "core.entropy",
    "export_saved_model": "export.saved_model",
    "load_images": "data",
    "load_numpy": "data",
    "rate_distortion": "core.loss",
    "restore_codec": "training",
    "train_and_evaluate": "training",
}

# Module paths before the folders -> where the module lives now.
_MOVED = {
    "atomic": "files.atomic",
    "bdrate": "study.bdrate",
    "classical": "study.classical",
    "codecfile": "files.codecfile",
    "container": "files.container",
    "distribute": "training.distribute",
    "entropy": "core.entropy",
    "evaluation": "study.evaluation",
    "fuzzing": "files.fuzzing",
    "imageio": "files.imageio",
    "loss": "core.loss",
    "model": "core.model",
    "rangecoder": "core.rangecoder",
    "refinement": "core.refinement",
    "report": "study.report",
    "sweep": "study.sweep",
    "transforms": "core.transforms",
}

_SUBMODULES = ("cli", "contract", "core", "data", "export", "files", "study",
               "training")

__all__ = ["__version__", *sorted(_PUBLIC, key=str.lower)]


def __getattr__(name):
  if name in _PUBLIC:
    return getattr(importlib.import_module(f"{__name__}.{_PUBLIC[name]}"), name)
  if name in _MOVED:
    return importlib.import_module(f"{__name__}.{_MOVED[name]}")
  if name in _SUBMODULES:
    return importlib.import_module(f"{__name__}.{name}")
  raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
  return sorted([*globals(), *_PUBLIC, *_MOVED, *_SUBMODULES])


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
  """`import tfmnistcodec.codecfile` gives the module `files.codecfile` is.

  One module object under both names, so state and patches are shared.
  """

  def find_spec(self, fullname, path=None, target=None):
    del path, target  # Unused.
    package, _, name = fullname.rpartition(".")
    if package != __name__ or name not in _MOVED:
      return None
    return importlib.util.spec_from_loader(fullname, self)

  def create_module(self, spec):
    name = spec.name.rpartition(".")[2]
    module = importlib.import_module(f"{__name__}.{_MOVED[name]}")
    # The import machinery sets `module.__spec__` to `spec` next; keep the
    # module's own on `spec`, to put it back.
    spec.loader_state = module.__spec__
    return module

  def exec_module(self, module):
    module.__spec__ = module.__spec__.loader_state


if not any(isinstance(f, _MovedModules) for f in sys.meta_path):
  sys.meta_path.append(_MovedModules())
