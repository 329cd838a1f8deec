"""The MCC network on a timm ViT, and loading weights into it."""
