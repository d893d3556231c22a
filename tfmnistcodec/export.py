"""Export: a SavedModel with `compress` and `decompress` signatures.

The exported module holds only what coding needs: the two transforms and an
entropy model whose range-coding tables (CDFs) were computed once, eagerly, from
the trained prior, and are stored as variables in the SavedModel. A consumer
needs `tensorflow` and `import tensorflow_compression` (which registers the
range-coding ops), not this package:

    import tensorflow as tf
    import tensorflow_compression  # noqa: F401, registers the coder's ops.
    codec = tf.saved_model.load("model_dir/saved_model")
    out = codec.signatures["compress"](images=images)   # uint8 [N, 28, 28, 1]
    strings, bits = out["strings"], out["bits"]          # string [N], float [N]
    images = codec.signatures["decompress"](strings=strings)["images"]
"""

import os
import pathlib
import shutil
import tempfile

import tensorflow as tf

from tfmnistcodec import entropy
from tfmnistcodec import loss as loss_lib

__all__ = ["CodecModule", "export_saved_model"]


class CodecModule(tf.Module):
  """The exported codec: transforms plus a range coder with fixed tables."""

  def __init__(self, codec, name="tfmnistcodec"):
    super().__init__(name=name)
    if not tf.executing_eagerly():
      raise RuntimeError("Build CodecModule eagerly: its range-coding tables "
                         "are computed once, here, not in a graph.")
    self.analysis_transform = codec.analysis_transform
    self.synthesis_transform = codec.synthesis_transform
    self.entropy_model = entropy.entropy_model(codec.prior, compression=True)
    self.latent_dims = tf.constant(codec.latent_dims, tf.int32)

  @tf.function(input_signature=[
      tf.TensorSpec([None, *loss_lib.IMAGE_SHAPE], tf.uint8, name="images")
  ])
  def compress(self, images):
    """uint8 images `[N, 28, 28, 1]` -> one string per digit, and its bits.

    Returns:
      A dict: `strings`, string `[N]`, the range-coded digits, and `bits`,
      float32 `[N]`, each digit's information content under the prior (the
      ideal length of its string, which the coder exceeds by a few bits).
    """
    y = self.analysis_transform(loss_lib.images_to_float(images))
    _, bits = self.entropy_model(y, training=False)
    return dict(strings=self.entropy_model.compress(y), bits=bits)

  @tf.function(input_signature=[
      tf.TensorSpec([None], tf.string, name="strings")
  ])
  def decompress(self, strings):
    """Strings `[N]` from `compress` -> uint8 images `[N, 28, 28, 1]`.

    Fails with "Sanity check failed" if a string does not decode completely,
    as corrupt strings usually do not.
    """
    y_hat = self.entropy_model.decompress(strings, [])
    x_hat = self.synthesis_transform(y_hat)
    return dict(images=loss_lib.float_to_images(x_hat))


def export_saved_model(codec, path):
  """Writes the SavedModel of `codec` to `path`, replacing what is there.

  The SavedModel is written to a temporary folder beside `path` and renamed
  into place, so `path` never holds a half-written model.

  Args:
    codec: A trained `model.Codec`.
    path: Folder of the SavedModel.

  Returns:
    The `CodecModule` that was saved.
  """
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  module = CodecModule(codec)
  tmp = pathlib.Path(
      tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
  try:
    tf.saved_model.save(
        module, str(tmp / "model"),
        signatures=dict(compress=module.compress,
                        decompress=module.decompress))
    if path.exists():
      path.rename(tmp / "old")
    os.rename(tmp / "model", path)
  finally:
    shutil.rmtree(tmp, ignore_errors=True)
  return module
