"""Draw the integration's original brand icons (a chat bubble with a robot face)."""

from __future__ import annotations

from pathlib import Path
import sys

from PIL import Image, ImageDraw

REPO = Path(__file__).resolve().parent.parent
BRAND = REPO / "custom_components" / "dingtalk" / "brand"
SCALE = 4  # draw large, then downsample for smooth edges


def draw(size: int) -> Image.Image:
    """Draw the icon at one size."""
    s = size * SCALE
    img = Image.new("RGBA", (s, s), (0, 0, 0, 0))
    d = ImageDraw.Draw(img)
    # Bubble: a rounded square with a tail at the bottom left, in teal-blue.
    pad = s * 0.08
    body = (pad, pad, s - pad, s * 0.80)
    blue = (22, 119, 255, 255)
    d.rounded_rectangle(body, radius=s * 0.18, fill=blue)
    d.polygon(
        [(s * 0.22, s * 0.74), (s * 0.18, s * 0.94), (s * 0.42, s * 0.78)], fill=blue
    )
    # Robot face: white visor with two eyes and an antenna.
    white = (255, 255, 255, 255)
    d.rounded_rectangle(
        (s * 0.24, s * 0.30, s * 0.76, s * 0.64), radius=s * 0.10, fill=white
    )
    for cx in (0.38, 0.62):
        r = s * 0.055
        d.ellipse((s * cx - r, s * 0.47 - r, s * cx + r, s * 0.47 + r), fill=blue)
    d.line((s * 0.5, s * 0.30, s * 0.5, s * 0.19), fill=white, width=int(s * 0.035))
    r = s * 0.045
    d.ellipse((s * 0.5 - r, s * 0.17 - r, s * 0.5 + r, s * 0.17 + r), fill=white)
    return img.resize((size, size), Image.Resampling.LANCZOS)


def main() -> int:
    """Write icon.png (256 px) and icon@2x.png (512 px)."""
    BRAND.mkdir(parents=True, exist_ok=True)
    draw(256).save(BRAND / "icon.png", optimize=True)
    draw(512).save(BRAND / "icon@2x.png", optimize=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
