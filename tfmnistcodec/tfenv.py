"""TensorFlow's settings that must be made before TensorFlow is imported.

No TensorFlow here, so a binary can call these first.
"""

import os

__all__ = ["ONEDNN", "use_onednn_by_default"]

# The environment variable that turns TensorFlow's oneDNN CPU kernels on/off.
ONEDNN = "TF_ENABLE_ONEDNN_OPTS"


def use_onednn_by_default():
  """Turns TensorFlow's oneDNN kernels on unless the environment says.

  TensorFlow 2.14 turns them on by default only on some Intel CPUs; on the
  2-core AMD EPYC (AVX2) machine we measured, they train this model about 30%
  faster (BUILD.md). An explicit TF_ENABLE_ONEDNN_OPTS=0 wins. Call before
  TensorFlow is imported: it reads the variable once, at import.
  """
  os.environ.setdefault(ONEDNN, "1")
