"""What every layer shares: the digits' shape, the SavedModel's names, errors.

Plain constants and exception classes, no TensorFlow, so the file format and
the study tools can import them without it.
"""

# One digit: height, width, channels, as uint8.
IMAGE_SHAPE = (28, 28, 1)

# The SavedModel's signatures, as `export` writes them and readers call them.
SIGNATURES = ("compress", "decompress", "fingerprint", "compress_stream",
              "decompress_stream", "decompress_unchecked", "compress_fast",
              "compress_refined", "compress_stream_fast",
              "compress_stream_refined")

# Which latents a file's digits are coded from, and the SavedModel signatures
# (one string per digit, one stream) that code them so: `default` as the
# architecture chooses; `fast`, the analysis transform's, rounded; `refined`,
# searched per digit where the architecture has a search.
ENCODERS = {
    "default": ("compress", "compress_stream"),
    "fast": ("compress_fast", "compress_stream_fast"),
    "refined": ("compress_refined", "compress_stream_refined"),
}

# Bytes of the model fingerprint that files carry and SavedModels return.
FINGERPRINT_BYTES = 16

# A run folder's exported SavedModel.
SAVED_MODEL_DIR = "saved_model"


class UserError(Exception):
  """Base of the errors that say what is wrong with what a caller asked for.

  Bad arguments, settings, datasets, input and output files: the binaries
  print these as one `error:` line. Any other exception is a bug (or, for an
  `OSError`, the machine's) and keeps its traceback. Each concrete class is
  also a `ValueError`, `TypeError` or `OSError`, so `except ValueError` and
  the like keep working.
  """


class UserValueError(UserError, ValueError):
  """A value (an argument, a setting, a file's content) that cannot be used."""


class UserTypeError(UserError, TypeError):
  """An argument of the wrong type."""
