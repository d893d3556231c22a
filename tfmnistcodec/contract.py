"""What every layer shares: the digits' shape and the SavedModel's names.

Plain constants, no TensorFlow, so the file format and the study tools can
import them without it.
"""

# One digit: height, width, channels, as uint8.
IMAGE_SHAPE = (28, 28, 1)

# The SavedModel's signatures, as `export` writes them and readers call them.
SIGNATURES = ("compress", "decompress", "fingerprint", "compress_stream",
              "decompress_stream", "decompress_unchecked", "compress_fast")

# Bytes of the model fingerprint that files carry and SavedModels return.
FINGERPRINT_BYTES = 16

# A run folder's exported SavedModel.
SAVED_MODEL_DIR = "saved_model"
