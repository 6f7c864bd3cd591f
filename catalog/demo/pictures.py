"""Product pictures for the demo catalog, drawn with Pillow: a tinted backdrop, a simple silhouette of
the product in its colour, and the product type's initials.

One picture per (product type, colour) is drawn and shared by every demo product of that type and
colour, so a 10,000-product catalog needs about a hundred files, not tens of thousands.
"""
from __future__ import annotations

import io

from PIL import Image, ImageDraw, ImageFont

# Square. 640 is twice the smallest rendition width, so both renditions (320 and 640; never
# upscaled to 1024) come from a scaled JPEG decode without a resampling pass: quick to seed.
SIZE = 640


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    value = hex_colour.lstrip("#")
    return tuple(int(value[i:i + 2], 16) for i in (0, 2, 4))  # type: ignore[return-value]


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))  # type: ignore[return-value]


def _luminance(rgb: tuple[int, int, int]) -> float:
    r, g, b = (c / 255 for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


WHITE = (255, 255, 255)
INK = (38, 40, 44)


def _points(shape: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return [(x * SIZE, y * SIZE) for x, y in shape]


def _box(x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
    return (x0 * SIZE, y0 * SIZE, x1 * SIZE, y1 * SIZE)


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, fill, line) -> tuple[float, float]:
    """Draw the silhouette; returns where (as fractions) the initials go."""
    w = max(4, SIZE // 100)
    r = SIZE * 0.06
    if shape == "tent":
        draw.polygon(_points([(0.18, 0.74), (0.5, 0.24), (0.82, 0.74)]), fill=fill, outline=line, width=w)
        draw.polygon(_points([(0.42, 0.74), (0.5, 0.5), (0.58, 0.74)]), fill=line)
        return 0.5, 0.62
    if shape == "bag":
        draw.rounded_rectangle(_box(0.34, 0.22, 0.66, 0.8), radius=SIZE * 0.14, fill=fill, outline=line, width=w)
        draw.ellipse(_box(0.4, 0.26, 0.6, 0.4), outline=line, width=w)
        return 0.5, 0.6
    if shape == "circle":
        draw.ellipse(_box(0.25, 0.22, 0.75, 0.72), fill=fill, outline=line, width=w)
        draw.ellipse(_box(0.38, 0.35, 0.62, 0.59), outline=line, width=w)
        return 0.5, 0.47
    if shape in ("pot", "mug"):
        draw.rounded_rectangle(_box(0.28, 0.36, 0.72, 0.74), radius=r, fill=fill, outline=line, width=w)
        if shape == "pot":
            draw.ellipse(_box(0.26, 0.3, 0.74, 0.4), fill=fill, outline=line, width=w)
            draw.rounded_rectangle(_box(0.18, 0.44, 0.28, 0.5), radius=r / 3, fill=line)
            draw.rounded_rectangle(_box(0.72, 0.44, 0.82, 0.5), radius=r / 3, fill=line)
        else:
            draw.ellipse(_box(0.66, 0.44, 0.84, 0.64), outline=line, width=w * 3)
        return 0.5, 0.56
    if shape == "pack":
        draw.rounded_rectangle(_box(0.3, 0.22, 0.7, 0.78), radius=SIZE * 0.1, fill=fill, outline=line, width=w)
        draw.rounded_rectangle(_box(0.3, 0.22, 0.7, 0.4), radius=SIZE * 0.1, outline=line, width=w)
        draw.rounded_rectangle(_box(0.38, 0.56, 0.62, 0.72), radius=r / 2, outline=line, width=w)
        return 0.5, 0.48
    if shape == "poles":
        draw.line(_points([(0.36, 0.18), (0.46, 0.82)]), fill=fill, width=SIZE // 25)
        draw.line(_points([(0.64, 0.18), (0.54, 0.82)]), fill=fill, width=SIZE // 25)
        draw.rounded_rectangle(_box(0.31, 0.16, 0.41, 0.3), radius=r / 3, fill=line)
        draw.rounded_rectangle(_box(0.59, 0.16, 0.69, 0.3), radius=r / 3, fill=line)
        return 0.5, 0.5
    if shape in ("jacket", "vest", "shirt"):
        sleeves = shape != "vest"
        body = [(0.36, 0.22), (0.44, 0.26), (0.5, 0.3), (0.56, 0.26), (0.64, 0.22)]
        if sleeves:
            long = shape == "jacket"
            body += [(0.84, 0.36), (0.82, 0.62 if long else 0.44), (0.72, 0.6 if long else 0.46), (0.7, 0.78),
                     (0.3, 0.78), (0.28, 0.6 if long else 0.46), (0.18, 0.62 if long else 0.44), (0.16, 0.36)]
        else:
            body += [(0.7, 0.32), (0.68, 0.42), (0.7, 0.78), (0.3, 0.78), (0.32, 0.42), (0.3, 0.32)]
        draw.polygon(_points(body), fill=fill, outline=line, width=w)
        if shape != "shirt":
            draw.line(_points([(0.5, 0.3), (0.5, 0.78)]), fill=line, width=w)
        return 0.5, 0.55
    if shape == "trousers":
        draw.polygon(_points([(0.32, 0.2), (0.68, 0.2), (0.72, 0.8), (0.56, 0.8), (0.5, 0.4), (0.44, 0.8),
                              (0.28, 0.8)]), fill=fill, outline=line, width=w)
        draw.line(_points([(0.32, 0.27), (0.68, 0.27)]), fill=line, width=w)
        return 0.5, 0.34
    if shape == "boot":
        draw.polygon(_points([(0.3, 0.24), (0.52, 0.24), (0.54, 0.52), (0.8, 0.6), (0.82, 0.74), (0.24, 0.74),
                              (0.26, 0.5)]), fill=fill, outline=line, width=w)
        draw.rectangle(_box(0.24, 0.7, 0.82, 0.76), fill=line)
        return 0.42, 0.5
    if shape == "beanie":
        draw.chord(_box(0.24, 0.24, 0.76, 0.86), 180, 360, fill=fill, outline=line, width=w)
        draw.rounded_rectangle(_box(0.22, 0.52, 0.78, 0.66), radius=r / 2, fill=fill, outline=line, width=w)
        draw.ellipse(_box(0.45, 0.17, 0.55, 0.27), fill=line)
        return 0.5, 0.42
    if shape == "glove":
        for i, x in enumerate((0.36, 0.44, 0.52, 0.6)):
            draw.rounded_rectangle(_box(x, 0.2 + abs(1.5 - i) * 0.03, x + 0.07, 0.5), radius=SIZE * 0.035,
                                   fill=fill, outline=line, width=w)
        draw.rounded_rectangle(_box(0.22, 0.42, 0.34, 0.52), radius=SIZE * 0.05, fill=fill, outline=line, width=w)
        draw.rounded_rectangle(_box(0.34, 0.4, 0.68, 0.78), radius=r, fill=fill, outline=line, width=w)
        return 0.51, 0.6
    if shape == "sock":
        draw.polygon(_points([(0.36, 0.18), (0.58, 0.18), (0.58, 0.56), (0.76, 0.66), (0.72, 0.8), (0.4, 0.72),
                              (0.36, 0.6)]), fill=fill, outline=line, width=w)
        draw.rectangle(_box(0.36, 0.18, 0.58, 0.26), fill=line)
        return 0.47, 0.42
    if shape == "pan":
        draw.ellipse(_box(0.18, 0.3, 0.64, 0.76), fill=fill, outline=line, width=w)
        draw.rounded_rectangle(_box(0.62, 0.49, 0.86, 0.57), radius=r / 2, fill=line)
        return 0.41, 0.53
    if shape in ("blanket", "cushion"):
        box = _box(0.22, 0.26, 0.78, 0.74) if shape == "blanket" else _box(0.26, 0.26, 0.74, 0.74)
        draw.rounded_rectangle(box, radius=r, fill=fill, outline=line, width=w)
        if shape == "blanket":
            for y in (0.34, 0.66):
                draw.line(_points([(0.22, y), (0.78, y)]), fill=line, width=w * 2)
        else:
            draw.rounded_rectangle(_box(0.32, 0.32, 0.68, 0.68), radius=r, outline=line, width=max(1, w // 2))
        return 0.5, 0.5
    if shape == "lantern":
        draw.arc(_box(0.38, 0.14, 0.62, 0.34), 180, 360, fill=line, width=w * 2)
        draw.rounded_rectangle(_box(0.34, 0.24, 0.66, 0.32), radius=r / 3, fill=line)
        draw.rounded_rectangle(_box(0.36, 0.32, 0.64, 0.72), radius=r / 2, fill=fill, outline=line, width=w)
        draw.rounded_rectangle(_box(0.32, 0.72, 0.68, 0.78), radius=r / 3, fill=line)
        return 0.5, 0.52
    if shape == "lamp":
        draw.polygon(_points([(0.36, 0.2), (0.64, 0.2), (0.74, 0.46), (0.26, 0.46)]), fill=fill, outline=line, width=w)
        draw.line(_points([(0.5, 0.46), (0.5, 0.7)]), fill=line, width=w * 2)
        draw.rounded_rectangle(_box(0.36, 0.7, 0.64, 0.78), radius=r / 3, fill=line)
        return 0.5, 0.35
    raise ValueError(f"no drawing for shape {shape!r}")


def draw_picture(*, shape: str, swatch: str, initials: str) -> bytes:
    """A JPEG of one product type in one colour."""
    colour = _rgb(swatch)
    light = _luminance(colour) > 0.72
    background = _mix(colour, WHITE, 0.82 if not light else 0.45)
    if light:
        background = _mix(background, (200, 200, 196), 0.35)
    image = Image.new("RGB", (SIZE, SIZE), background)
    draw = ImageDraw.Draw(image)
    # A soft floor under the product.
    draw.ellipse(_box(0.16, 0.78, 0.84, 0.88), fill=_mix(background, INK, 0.12))
    outline = _mix(colour, INK, 0.55)
    x, y = _draw_shape(draw, shape, fill=colour, line=outline)
    font = ImageFont.load_default(size=SIZE // 9)
    text = WHITE if _luminance(colour) < 0.55 else INK
    draw.text((x * SIZE, y * SIZE), initials, font=font, fill=text, anchor="mm")
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=86)
    return buffer.getvalue()
