"""Codec files: the container format, files through a SavedModel, image I/O."""
