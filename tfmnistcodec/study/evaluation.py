"""Coding digits through an exported SavedModel, its metrics, and a figure."""

import dataclasses
import io
import json
import pathlib

import numpy as np
import tensorflow as tf
import tensorflow_compression  # pylint: disable=unused-import  # Coder ops.

from tfmnistcodec import contract
from tfmnistcodec.files import atomic
from tfmnistcodec.files import codecfile
from tfmnistcodec.files import container

__all__ = [
    "CodingResult", "find_saved_model", "model_settings",
    "code_with_saved_model", "summarize", "evaluate_saved_model",
    "evaluate_run", "figure", "save_figure"
]

SAVED_MODEL_DIR = contract.SAVED_MODEL_DIR


def find_saved_model(path):
  """The SavedModel folder of `path`: a run's model_dir, or the SavedModel.

  Raises:
    FileNotFoundError: `path` is neither, with what was looked for.
  """
  path = pathlib.Path(path)
  for candidate in (path / SAVED_MODEL_DIR, path):
    if candidate.is_dir() and tf.saved_model.contains_saved_model(
        str(candidate)):
      return candidate
  raise FileNotFoundError(
      f"{path} holds no SavedModel (looked for {path / SAVED_MODEL_DIR} and "
      f"{path} itself); train one with bin/train.py.")


def model_settings(saved_model_dir):
  """The training settings of a SavedModel's run, from its config.json.

  Returns:
    The dict in `<model_dir>/config.json` beside the SavedModel, or `{}` when
    there is none (a SavedModel copied out of its run). Runs from before the
    `architecture` setting existed trained the tutorial's.
  """
  path = pathlib.Path(saved_model_dir).parent / "config.json"
  try:
    settings = json.loads(path.read_text())
  except FileNotFoundError:
    return {}
  settings.setdefault("architecture", "tutorial")
  return settings


@dataclasses.dataclass
class CodingResult:
  """Digits coded by a SavedModel.

  Attributes:
    strings: `[N]` numpy object array of bytes, one range-coded string each.
    bits: float32 `[N]`, each digit's information content.
    reconstructions: uint8 `[N, 28, 28, 1]`, the decoded strings.
  """
  strings: np.ndarray
  bits: np.ndarray
  reconstructions: np.ndarray


def code_with_saved_model(saved_model_dir, images, batch_size=1000):
  """Compresses and decompresses `images` with the SavedModel's signatures.

  Args:
    saved_model_dir: Folder of a SavedModel written by `export.export`.
    images: uint8 `[N, 28, 28, 1]`.
    batch_size: Digits per signature call.

  Returns:
    A `CodingResult`.
  """
  loaded = tf.saved_model.load(str(saved_model_dir))
  compress = loaded.signatures["compress"]
  decompress = loaded.signatures["decompress"]
  strings, bits, reconstructions = [], [], []
  for start in range(0, len(images), batch_size):
    batch = tf.convert_to_tensor(images[start:start + batch_size])
    coded = compress(images=batch)
    strings.append(coded["strings"].numpy())
    bits.append(coded["bits"].numpy())
    reconstructions.append(
        decompress(strings=coded["strings"])["images"].numpy())
  return CodingResult(
      np.concatenate(strings), np.concatenate(bits),
      np.concatenate(reconstructions))


def summarize(images, result):
  """Rate and distortion of coded digits.

  Args:
    images: The uint8 originals `[N, 28, 28, 1]`.
    result: Their `CodingResult`.

  Returns:
    A dict: `digits`; `information_bits` (mean information content per digit);
    `string_bits` (mean length of the strings, in bits); `mae`, the mean
    absolute error of the uint8 outputs, divided by 255; `psnr` in dB, from the
    mean squared error over all pixels of all digits; `psnr_per_digit`, the
    mean over digits of each digit's PSNR (digits decoded exactly count as
    100 dB).
  """
  error = result.reconstructions.astype(np.float64) - images
  mse = float(np.mean(error**2))
  mse_per_digit = np.mean(error.reshape(len(images), -1)**2, axis=1)
  psnr_per_digit = 10 * np.log10(255.**2 / np.maximum(mse_per_digit, 1e-10))
  return dict(
      digits=int(len(images)),
      information_bits=float(np.mean(result.bits)),
      string_bits=float(np.mean([8 * len(s) for s in result.strings])),
      mae=float(np.mean(np.abs(error)) / 255.),
      psnr=float(10 * np.log10(255.**2 / mse)) if mse else float("inf"),
      psnr_per_digit=float(np.mean(np.minimum(psnr_per_digit, 100.))),
  )


def evaluate_saved_model(saved_model_dir, images, batch_size=1000):
  """Codes `images` with a SavedModel; its rate, distortion and file sizes.

  Args:
    saved_model_dir: Folder of a SavedModel written by `export.export`.
    images: uint8 `[N, 28, 28, 1]`.
    batch_size: Digits per signature call.

  Returns:
    `(summary, result)`: the dict of `summarize` plus `streams_file_bytes`
    and `strings_file_bytes`, the bytes per digit of a file of all `images`
    in each mode (`codecfile`), and `streams_information_bits`, the mean
    information content of the latents the streams file codes (when the
    model refines latents, it refines them for the file's batches, which
    can choose slightly other latents than `compress`'s batches); and the
    `CodingResult`.
  """
  result = code_with_saved_model(saved_model_dir, images, batch_size)
  summary = summarize(images, result)
  file_codec = codecfile.FileCodec(saved_model_dir)
  data, bits = file_codec.compress(images, mode=codecfile.STREAMS)
  summary["streams_file_bytes"] = len(data) / max(1, len(images))
  summary["streams_information_bits"] = float(np.mean(bits)) if len(
      bits) else 0.
  # The strings mode file holds exactly the strings coded above.
  data = container.pack(file_codec.fingerprint, result.strings)
  summary["strings_file_bytes"] = len(data) / max(1, len(images))
  return summary, result


def evaluate_run(saved_model_dir, images, figure_path, results_path,
                 **settings):
  """The main job's evaluation of a trained run's SavedModel.

  Codes `images` through the SavedModel's signatures, draws `figure` to
  `figure_path` and writes `summarize`'s dict, with `settings` (e.g.
  dataset, split, lmbda) and the SavedModel's path added, to `results_path`
  as JSON.

  Returns:
    That dict.
  """
  result = code_with_saved_model(saved_model_dir, images)
  summary = summarize(images, result)
  summary.update(settings, saved_model=str(saved_model_dir))
  figure(images, result, figure_path)
  atomic.write_json(results_path, summary)
  return summary


def figure(images, result, path, num=16, skip=0):
  """Writes a PNG of `num` digits: original, string in hex, reconstruction.

  Args:
    images: The uint8 originals `[N, 28, 28, 1]`.
    result: Their `CodingResult`.
    path: Where to write the PNG (atomically).
    num: How many digits to show.
    skip: Index of the first digit shown.
  """
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top

  indices = range(skip, min(skip + num, len(images)))
  columns = 4
  rows = -(-len(indices) // columns)
  fig, axes = plt.subplots(
      rows, 2 * columns, figsize=(2.4 * columns * 2, 2.2 * rows),
      squeeze=False)
  for axis in axes.flat:
    axis.axis("off")
  for n, i in enumerate(indices):
    row, column = divmod(n, columns)
    original, decoded = axes[row, 2 * column], axes[row, 2 * column + 1]
    original.imshow(images[i, ..., 0], cmap="gray", vmin=0, vmax=255)
    original.set_title(f"#{i} original", fontsize=8)
    decoded.imshow(result.reconstructions[i, ..., 0], cmap="gray", vmin=0,
                   vmax=255)
    string = result.strings[i]
    decoded.set_title(
        f"{string.hex()}\n{8 * len(string)} bits "
        f"({result.bits[i]:.1f} info)", fontsize=6, family="monospace")
  fig.suptitle("Test digits (left) and their reconstructions (right), "
               "with each range-coded string in hex")
  fig.tight_layout()
  save_figure(fig, path)


def save_figure(fig, path, dpi=100):
  """Writes a matplotlib figure as PNG to `path`, atomically, and closes it."""
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  buffer = io.BytesIO()
  try:
    fig.savefig(buffer, format="png", dpi=dpi)
  finally:
    plt.close(fig)
  atomic.write_bytes(path, buffer.getvalue())
