"""Study tools: classical codecs, BD-rate, evaluation, reports and sweeps."""
