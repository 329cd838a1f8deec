"""Masked Collaborative Contrast: CAMs, PAR, local-view masks, losses and the training step."""
