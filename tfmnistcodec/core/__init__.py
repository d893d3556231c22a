"""The codec's core: transforms, prior and entropy coding, loss, latent search."""
