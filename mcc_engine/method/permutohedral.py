"""A permutohedral-lattice Gaussian filter in pure PyTorch, as the authors' compiled one computes it.

The authors' regulariser (rloss's bilateral filter, used through ToCo's DenseEnergyLoss) filters
with Krähenbühl's 2011 `Permutohedral` class (after Adams et al. 2010). That filter is not the
exact Gaussian: its impulse response is roughly 0.5-0.65 of exp(-d^2 / 2) (total mass about 0.55
of it). To give the authors' numbers, this module follows the same steps, in float32:

1. Elevate each d-dimensional feature onto the plane sum = 0 in d+1 dimensions, with the scale
   factors sqrt(2/3) (d+1) / sqrt((i+1)(i+2)).
2. Find the enclosing simplex: round to the nearest multiple of d+1 (ties to even, as the SSE
   conversion does), rank the remainders (a stable descending order), and bring the point back
   onto the plane.
3. Barycentric weights of the d+1 vertices, with the wrap-around of weight d+1 into weight 0.
4. Splat: every point adds its value times its weight into each of its vertices.
5. Blur along each of the d+1 lattice axes in turn: new = old + (n1 + n2) / 2, where n1 and n2 are
   the vertices at key -1 (key +d on the axis) and key +1 (key -d on the axis); a vertex that no
   point touched counts as 0.
6. Slice: each point reads its vertices back with its weights times alpha = 1 / (1 + 2^-d).

The hash table becomes a sort: a vertex's key (d integers) is packed into one int64 code, with the
image's index as the leading digit so a batch shares one lattice without mixing images. One
stable sort of the codes numbers the vertices and gives the splat as a CSR matrix (slicing is its
transpose, also CSR); a blur neighbour is found by `searchsorted` of the code plus a constant (the
packing is linear and padded so that the +-d steps never carry). The lattice depends on the image
only; the regulariser's backward needs no second filtering.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Lattice:
    """The lattice of one batch of points: built once per image, used for every filtering."""

    splat: torch.Tensor  # (M, P) CSR: vertex m gets weight w of point p
    slice: torch.Tensor  # (P, M) CSR: point p reads its d+1 vertices with weights w * alpha
    neighbours: torch.Tensor  # (d+1, 2, M): per axis, the two blur neighbours; M means none
    dim: int  # d, the dimension of the features

    @property
    def size(self) -> int:
        """M, the number of lattice vertices."""
        return self.neighbours.shape[2]

    def filter(self, values: torch.Tensor) -> torch.Tensor:
        """(P, C) float32 values splatted, blurred and sliced back: the filtered (P, C)."""
        with torch.autocast(values.device.type, enabled=False):  # sparse products: float32 only
            return self._filter(values.float())

    def _filter(self, values: torch.Tensor) -> torch.Tensor:
        m = self.size
        grid = values.new_zeros(m + 1, values.shape[1])
        # Row m stays 0: the missing neighbour of every blur (the C code's row 0).
        grid[:m] = self.splat @ values
        spare = torch.zeros_like(grid)
        for n1, n2 in self.neighbours:
            # index_select: several times faster on CPU than grid[n1]'s advanced indexing.
            torch.add(grid.index_select(0, n1), grid.index_select(0, n2), out=spare[:m])
            spare[:m].mul_(0.5).add_(grid[:m])
            grid, spare = spare, grid
        return self.slice @ grid[:m]


def _scale_factors(d: int, device: torch.device) -> torch.Tensor:
    """E's diagonal as the C code rounds it: a float inv_std_dev, the product in double."""
    inv_std = float(torch.tensor(math.sqrt(2.0 / 3.0) * (d + 1), dtype=torch.float32))
    scale = [1.0 / math.sqrt((i + 2) * (i + 1)) * inv_std for i in range(d)]
    return torch.tensor(scale, dtype=torch.float32, device=device)


def _elevate(features: torch.Tensor) -> torch.Tensor:
    """(d, P) features to (d+1, P) points on the plane sum = 0 (the C code's order of sums)."""
    d, p = features.shape
    scale = _scale_factors(d, features.device)
    elevated = features.new_empty(d + 1, p)
    running = features.new_zeros(p)
    for j in range(d, 0, -1):
        cf = features[j - 1] * scale[j - 1]
        elevated[j] = running - float(j) * cf  # no fused multiply-add: the C code rounds j * cf
        running = running + cf
    elevated[0] = running
    return elevated


def _simplex(elevated: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The enclosing simplex, all (d+1, P): remainder-0 point (long), rank (long), weights."""
    d = elevated.shape[0] - 1
    down = float(torch.tensor(1.0 / (d + 1), dtype=torch.float32))
    rounded = torch.round(elevated * down)  # ties to even, like _mm_cvtps_epi32
    rem0 = rounded * float(d + 1)
    diff = elevated - rem0
    # The C code's pair loop: of i < j, the smaller remainder's rank goes up (ties: j's).
    rank = rounded.sum(dim=0, keepdim=True).long().repeat(d + 1, 1)
    for i in range(d):
        for j in range(i + 1, d + 1):
            smaller = diff[i] < diff[j]
            rank[i] += smaller
            rank[j] += ~smaller
    shift = (rank < 0).long() - (rank > d).long()
    rank += (d + 1) * shift
    rem0 += float(d + 1) * shift
    v = (elevated - rem0) * down
    bary = elevated.new_zeros(d + 2, elevated.shape[1])
    # Each slot receives one + and one - term, so 0 + a - b here is the C code's sum exactly.
    bary.scatter_(0, d - rank, v)
    bary.scatter_add_(0, d - rank + 1, -v)
    bary[0] += 1.0 + bary[d + 1]
    return rem0.long(), rank, bary[: d + 1]


def _vertex_codes(rem0: torch.Tensor, rank: torch.Tensor, batch: torch.Tensor):
    """(P, d+1) int64 codes of each point's simplex vertices, and the packing's strides."""
    d, p = rank.shape[0] - 1, rank.shape[1]
    # Vertex r: key_i = rem0_i + r, less d+1 where rank_i > d - r (i < d: the last coordinate is
    # implied by the plane, as in the C code's keys of size d). Keys lie within d+1 of rem0; the
    # extra d+1 of margin keeps every blur neighbour (+-1, -+d) inside its digit.
    low = rem0[:d].amin(dim=1) - 2 * (d + 1)
    span = rem0[:d].amax(dim=1) + 2 * (d + 1) - low + 1
    strides = torch.ones(d + 1, dtype=torch.long, device=rank.device)
    strides[1:] = torch.cumprod(span, dim=0)
    if float(strides[d]) * (float(batch[-1]) + 1.0) >= 2.0**62:
        raise ValueError("features span too wide a lattice to pack its keys into int64")
    codes = torch.empty(p, d + 1, dtype=torch.long, device=rank.device)
    codes[:, 0] = ((rem0[:d] - low[:, None]) * strides[:d, None]).sum(dim=0) + batch * strides[d]
    # From vertex r-1 to r every key goes up by 1, except the coordinate of rank d-r+1 (if it is
    # one of the first d), which goes down by d.
    stride_of_rank = torch.zeros(d + 1, p, dtype=torch.long, device=rank.device)
    stride_of_rank.scatter_(0, rank[:d], strides[:d, None].expand(d, p))
    ones = int(strides[:d].sum())
    for r in range(1, d + 1):
        torch.sub(codes[:, r - 1] + ones, stride_of_rank[d - r + 1], alpha=d + 1, out=codes[:, r])
    return codes, strides


def build_lattice(features: torch.Tensor) -> Lattice:
    """The lattice of (B, N, d) float32 features; point b*N + n is image b's point n."""
    b, n, d = features.shape
    p, device = b * n, features.device
    flat = features.reshape(p, d).T.float()
    rem0, rank, bary = _simplex(_elevate(flat))
    batch = torch.arange(b, device=device).repeat_interleave(n)
    codes, strides = _vertex_codes(rem0, rank, batch)
    # One stable sort numbers the vertices and orders the splat matrix point by point, the order
    # in which the C code accumulates.
    ordered, perm = torch.sort(codes.flatten(), stable=True)
    first = torch.ones_like(ordered, dtype=torch.bool)
    torch.ne(ordered[1:], ordered[:-1], out=first[1:])
    starts = first.nonzero()[:, 0]
    table = ordered.index_select(0, starts)
    m = table.numel()
    rows = torch.empty(m + 1, dtype=torch.long, device=device)
    rows[:m] = starts
    rows[m] = ordered.numel()
    vertex = torch.empty_like(perm)
    vertex.scatter_(0, perm, first.long().cumsum(0) - 1)
    weights = bary.T.flatten()
    splat = _csr(rows, perm // (d + 1), weights.index_select(0, perm), (m, p))
    alpha = 1.0 / (1.0 + 2.0 ** (-d))
    steps = torch.arange(0, p * (d + 1) + 1, d + 1, device=device)
    slice_ = _csr(steps, vertex, weights * alpha, (p, m))
    return Lattice(splat=splat, slice=slice_, neighbours=_neighbours(table, strides), dim=d)


def _csr(rows, cols, values, size) -> torch.Tensor:
    """A CSR matrix (torch flags sparse CSR as beta; the warning says nothing to users)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(rows, cols, values, size=size)


def _neighbours(table: torch.Tensor, strides: torch.Tensor) -> torch.Tensor:
    """(d+1, 2, M) blur neighbours of the sorted vertex codes; M where the vertex is absent."""
    d, m = strides.numel() - 1, table.numel()
    # Axis j < d: n1 = key - 1 except key_j + d; axis d: key - 1 everywhere. n2 is the opposite,
    # so n2 is n1 read backwards: if n1(u) = v then n2(v) = u.
    minus_one = -int(strides[:d].sum())
    steps = [minus_one + (d + 1) * int(strides[j]) for j in range(d)] + [minus_one]
    # One spare column (m + 1) takes the scatter of the vertices whose n1 is absent.
    out = torch.full((d + 1, 2, m + 1), m, dtype=torch.long, device=table.device)
    own = torch.arange(m, device=table.device)
    for axis, step in enumerate(steps):
        wanted = table + step
        pos = torch.searchsorted(table, wanted).clamp_(max=m - 1)
        n1 = torch.where(table.index_select(0, pos) == wanted, pos, m)
        out[axis, 0, :m] = n1
        out[axis, 1].scatter_(0, n1, own)
    return out[:, :, :m]


def bilateral_features(image: torch.Tensor, *, sigma_rgb: float, sigma_xy: float) -> torch.Tensor:
    """(B, H*W, 5) features (x / sigma_xy, y / sigma_xy, R, G, B / sigma_rgb), x the column."""
    b, _, h, w = image.shape
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=torch.float32, device=image.device),
        torch.arange(w, dtype=torch.float32, device=image.device),
        indexing="ij",
    )
    pos = torch.stack([xs, ys]).div_(float(sigma_xy)).expand(b, -1, -1, -1)
    feats = torch.cat([pos, image.float() / float(sigma_rgb)], dim=1)
    return feats.flatten(2).transpose(1, 2).contiguous()


def bilateral_filter(
    image: torch.Tensor, values: torch.Tensor, *, sigma_rgb: float, sigma_xy: float
) -> torch.Tensor:
    """rloss's bilateralfilter_batch: (B, C, H, W) values filtered on (B, 3, H, W) 0-255 images."""
    b, c, h, w = values.shape
    lattice = build_lattice(bilateral_features(image, sigma_rgb=sigma_rgb, sigma_xy=sigma_xy))
    flat = values.float().permute(0, 2, 3, 1).reshape(b * h * w, c)
    return lattice.filter(flat).reshape(b, h, w, c).permute(0, 3, 1, 2)
