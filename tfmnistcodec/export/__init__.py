"""Export: the SavedModel with `compress`/`decompress` and the coding tables."""

from tfmnistcodec.export.saved_model import CodecModule
from tfmnistcodec.export.saved_model import export_saved_model
from tfmnistcodec.export.saved_model import fingerprint
from tfmnistcodec.export.saved_model import FINGERPRINT_BYTES
from tfmnistcodec.export.saved_model import SIGNATURES

__all__ = [
    "FINGERPRINT_BYTES",
    "SIGNATURES",
    "CodecModule",
    "export_saved_model",
    "fingerprint",
]
