"""What `range_encoder` and `range_decoder` share: the coder's 32-bit state."""

# The coder's state (`base`, `size - 1`, `value`) lives in the low 32 bits of
# int64 lanes; sums and shifts are masked back to them.
_MASK32 = 0xFFFFFFFF
