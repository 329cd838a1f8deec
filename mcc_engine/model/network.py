"""The MCC network: a timm ViT encoder, classifiers, LargeFOV decoder and DINO-style projectors.

Attribute names follow the authors' checkpoints (`encoder`, `classifier`, `aux_classifier`,
`decoder.conv6/7/8`, `proj_head`, `proj_head_t`) so their files load without renaming.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, field
from typing import Any

import timm
import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class ModelConfig:
    """Which backbone, how many classes, and the sizes of the heads."""

    backbone: str = "deit_small_patch16_224"
    num_classes: int = 20
    # The native input size: position embeddings live at img_size / patch and are resized from
    # there for every input (the authors' ViT; 224 for ImageNet weights).
    img_size: int = 224
    aux_layer: int = -3
    overrides: dict[str, Any] = field(default_factory=dict)
    decoder_dim: int = 512
    proj_hidden: int = 2048
    proj_bottleneck: int = 256
    proj_out: int = 1024
    # The authors' decoder has no biases; checkpoints of MCC Annotate before 0.2 had them.
    decoder_bias: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """The inverse of to_dict; unknown keys are refused."""
        # A config saved before `decoder_bias` existed describes a decoder with biases.
        return cls(**{"decoder_bias": True, **data})


class WeightNormLinear(nn.Module):
    """Linear layer without bias, weight = g * v / |v| per output row, g fixed at 1 (DINO)."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.weight_v = nn.Parameter(torch.empty(out_features, in_features))
        nn.init.trunc_normal_(self.weight_v, std=0.02)
        self.weight_g = nn.Parameter(torch.ones(out_features, 1), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Project with the normalised weight."""
        weight = self.weight_g * self.weight_v / self.weight_v.norm(dim=1, keepdim=True)
        return F.linear(x, weight)


class ProjectionHead(nn.Module):
    """MLP D -> hidden -> hidden -> bottleneck, L2-normalise, weight-normalised linear to out."""

    def __init__(self, dim: int, *, hidden: int, bottleneck: int, out: int) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(dim, hidden),
            nn.GELU(),
            nn.Linear(hidden, hidden),
            nn.GELU(),
            nn.Linear(hidden, bottleneck),
        )
        for layer in self.mlp:
            if isinstance(layer, nn.Linear):
                nn.init.trunc_normal_(layer.weight, std=0.02)
                nn.init.zeros_(layer.bias)
        self.last_layer = WeightNormLinear(bottleneck, out)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Embed CLS tokens (N, D) to (N, out)."""
        return self.last_layer(F.normalize(self.mlp(x), dim=-1))


class LargeFOV(nn.Module):
    """DeepLab's LargeFOV head: two dilated 3x3 convolutions and a 1x1 classifier, no biases."""

    def __init__(
        self, dim: int, *, hidden: int, out: int, dilation: int = 5, bias: bool = False
    ) -> None:
        super().__init__()
        self.conv6 = nn.Conv2d(dim, hidden, 3, padding=dilation, dilation=dilation, bias=bias)
        self.conv7 = nn.Conv2d(hidden, hidden, 3, padding=dilation, dilation=dilation, bias=bias)
        self.conv8 = nn.Conv2d(hidden, out, 1, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Segmentation logits (B, K+1, h, w) from tokens (B, D, h, w)."""
        return self.conv8(F.relu(self.conv7(F.relu(self.conv6(x)))))


@dataclass
class Encoded:
    """What one encoder pass yields: CLS (B, D), final tokens and aux tokens (B, D, h, w)."""

    cls: torch.Tensor
    tokens: torch.Tensor
    aux_tokens: torch.Tensor


class MCCNet(nn.Module):
    """Encoder, classifiers, decoder, student and EMA teacher projectors."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.encoder = timm.create_model(
            cfg.backbone,
            pretrained=False,
            num_classes=0,
            dynamic_img_size=True,
            img_size=cfg.img_size,
            **cfg.overrides,
        )
        # Position embeddings stay as loaded (ImageNet's, or the initial ones): the authors freeze
        # them at the native grid and resize them for every input size.
        self.encoder.pos_embed.requires_grad = False
        dim = self.encoder.embed_dim
        depth = len(self.encoder.blocks)
        self.aux_index = cfg.aux_layer % depth
        k = cfg.num_classes
        self.classifier = nn.Conv2d(dim, k, 1, bias=False)
        self.aux_classifier = nn.Conv2d(dim, k, 1, bias=False)
        self.decoder = LargeFOV(dim, hidden=cfg.decoder_dim, out=k + 1, bias=cfg.decoder_bias)
        self.proj_head = ProjectionHead(
            dim, hidden=cfg.proj_hidden, bottleneck=cfg.proj_bottleneck, out=cfg.proj_out
        )
        self.proj_head_t = copy.deepcopy(self.proj_head)
        for p in self.proj_head_t.parameters():
            p.requires_grad = False
        pretrained = getattr(self.encoder, "pretrained_cfg", {}) or {}
        mean = pretrained.get("mean", (0.485, 0.456, 0.406))
        std = pretrained.get("std", (0.229, 0.224, 0.225))
        # The exact values too: 255 x std in double precision is what the authors' constants are.
        self.mean_std = (tuple(float(v) for v in mean), tuple(float(v) for v in std))
        self.register_buffer(
            "pixel_mean", torch.tensor(mean, dtype=torch.float32), persistent=False
        )
        self.register_buffer("pixel_std", torch.tensor(std, dtype=torch.float32), persistent=False)

    @property
    def patch_size(self) -> int:
        """Side of one patch in pixels."""
        return int(self.encoder.patch_embed.patch_size[0])

    @property
    def num_prefix(self) -> int:
        """Tokens before the patch tokens (CLS, registers)."""
        return int(self.encoder.num_prefix_tokens)

    def position_embeddings(self, h: int, w: int) -> torch.Tensor:
        """(1, h*w, D): the native grid's patch position embeddings resized to h x w.

        Plain bicubic, align_corners False, no antialiasing, as the authors' ViT does at every
        forward (timm's own resampling antialiases when it shrinks).
        """
        enc = self.encoder
        gh, gw = enc.patch_embed.grid_size
        start = 0 if getattr(enc, "no_embed_class", False) else self.num_prefix
        grid = enc.pos_embed[:, start:].reshape(1, gh, gw, -1).permute(0, 3, 1, 2)
        grid = F.interpolate(grid, size=(h, w), mode="bicubic", align_corners=False)
        return grid.flatten(2).transpose(1, 2)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Patch embedding plus position embeddings: (B, prefix + h*w, D).

        Any input size works: as in the authors' ViT, the patch convolution drops the pixels past
        the last whole patch.
        """
        enc = self.encoder
        p = self.patch_size
        h, w = x.shape[-2] // p, x.shape[-1] // p
        patches = enc.patch_embed.proj(x[..., : h * p, : w * p]).flatten(2).transpose(1, 2)
        tokens = enc.patch_embed.norm(patches) + self.position_embeddings(h, w)
        prefix = [
            t.expand(x.shape[0], -1, -1) for t in (enc.cls_token, enc.reg_token) if t is not None
        ]
        if prefix and not getattr(enc, "no_embed_class", False):
            prefix = [torch.cat(prefix, dim=1) + enc.pos_embed[:, : self.num_prefix]]
        tokens = torch.cat([*prefix, tokens], dim=1)
        return enc.norm_pre(enc.patch_drop(enc.pos_drop(tokens)))

    def run_blocks(
        self, tokens: torch.Tensor, *, attn_mask: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """All blocks; returns (final normalised sequence, sequence after the aux block)."""
        aux = tokens
        for i, block in enumerate(self.encoder.blocks):
            tokens = block(tokens, attn_mask=attn_mask)
            if i == self.aux_index:
                aux = tokens
        return self.encoder.norm(tokens), aux

    def encode(self, x: torch.Tensor) -> Encoded:
        """One encoder pass over images (B, 3, H, W); the token grid is (H // patch, W // patch)."""
        b, _, height, width = x.shape
        h, w = height // self.patch_size, width // self.patch_size
        final, aux = self.run_blocks(self.embed(x))
        n = self.num_prefix
        return Encoded(
            cls=final[:, 0],
            tokens=final[:, n:].transpose(1, 2).reshape(b, -1, h, w),
            aux_tokens=aux[:, n:].transpose(1, 2).reshape(b, -1, h, w),
        )

    def classify(self, tokens: torch.Tensor, *, aux: bool = False) -> torch.Tensor:
        """Class logits (B, K) from the global max pool of tokens (B, D, h, w)."""
        head = self.aux_classifier if aux else self.classifier
        return head(F.adaptive_max_pool2d(tokens, 1)).flatten(1)

    def cam_from_tokens(self, tokens: torch.Tensor, *, aux: bool = False) -> torch.Tensor:
        """Raw class activation maps (B, K, h, w): the classifier on every token."""
        return (self.aux_classifier if aux else self.classifier)(tokens)

    def cam(self, x: torch.Tensor, *, aux: bool = False) -> torch.Tensor:
        """Raw CAMs (B, K, h, w) of images (no ReLU, no normalisation)."""
        enc = self.encode(x)
        return self.cam_from_tokens(enc.aux_tokens if aux else enc.tokens, aux=aux)

    def seg_logits(self, x: torch.Tensor) -> torch.Tensor:
        """Segmentation logits (B, K+1, h, w)."""
        return self.decoder(self.encode(x).tokens)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """CLS, tokens, aux tokens, class logits, aux class logits and segmentation logits."""
        enc = self.encode(x)
        return {
            "cls": enc.cls,
            "tokens": enc.tokens,
            "aux_tokens": enc.aux_tokens,
            "logits": self.classify(enc.tokens),
            "aux_logits": self.classify(enc.aux_tokens, aux=True),
            "seg": self.decoder(enc.tokens),
        }

    def param_groups(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """(encoder parameters, head parameters); the teacher projector is in neither."""
        encoder = [p for p in self.encoder.parameters() if p.requires_grad]
        heads = [
            p
            for module in (self.classifier, self.aux_classifier, self.decoder, self.proj_head)
            for p in module.parameters()
            if p.requires_grad
        ]
        return encoder, heads

    @torch.no_grad()
    def update_teacher(self, momentum: float) -> None:
        """EMA of the student projector into the teacher: t = m t + (1 - m) s."""
        for t, s in zip(self.proj_head_t.parameters(), self.proj_head.parameters()):
            t.mul_(momentum).add_(s.detach(), alpha=1.0 - momentum)


def build_model(cfg: ModelConfig) -> MCCNet:
    """A randomly initialised MCC network (weights are loaded separately, never downloaded)."""
    return MCCNet(cfg)
