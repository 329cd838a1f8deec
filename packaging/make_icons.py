"""Draw the application icon and write it as PNG, ICO (Windows) and ICNS (macOS) resources."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

OUT = Path(__file__).resolve().parents[1] / "resources" / "icons"


def draw(size: int = 1024) -> Image.Image:
    """A photo-like tile with a class-coloured mask over one shape: what the app makes."""
    s = size / 256
    tile = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    back = Image.new("RGBA", (size, size))
    pixels = ImageDraw.Draw(back)
    for y in range(size):  # a sky-to-sea gradient stands for "an image"
        t = y / size
        pixels.line(
            [(0, y), (size, y)], fill=(int(70 + 60 * t), int(120 + 40 * t), int(190 - 50 * t), 255)
        )
    rounded = Image.new("L", (size, size), 0)
    ImageDraw.Draw(rounded).rounded_rectangle(
        [8 * s, 8 * s, 248 * s, 248 * s], radius=44 * s, fill=255
    )
    tile.paste(back, (0, 0), rounded)
    draw = ImageDraw.Draw(tile)
    draw.ellipse([150 * s, 40 * s, 214 * s, 104 * s], fill=(250, 205, 70, 255))  # the sun
    mask = Image.new("L", (size, size), 0)  # a leaf-like shape, the "object"
    ImageDraw.Draw(mask).polygon([(48 * s, 200 * s), (78 * s, 110 * s), (150 * s, 90 * s),
                                  (140 * s, 170 * s), (70 * s, 214 * s)], fill=255)  # fmt: skip
    mask = mask.filter(ImageFilter.GaussianBlur(6 * s)).point(lambda v: 255 if v > 127 else 0)
    colour = Image.new("RGBA", (size, size), (40, 170, 80, 210))
    tile.paste(colour, (0, 0), mask)
    edge = mask.filter(ImageFilter.FIND_EDGES).filter(ImageFilter.MaxFilter(int(5 * s) | 1))
    tile.paste(Image.new("RGBA", (size, size), (255, 255, 255, 255)), (0, 0), edge)
    return tile


def main() -> None:
    """Write mcc-annotate.png (256 px), .ico and .icns beside the other resources."""
    OUT.mkdir(parents=True, exist_ok=True)
    big = draw()
    big.resize((256, 256), Image.LANCZOS).save(OUT / "mcc-annotate.png", optimize=True)
    big.save(
        OUT / "mcc-annotate.ico",
        sizes=[(16, 16), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)],
    )
    big.resize((512, 512), Image.LANCZOS).save(OUT / "mcc-annotate.icns")


if __name__ == "__main__":
    main()
