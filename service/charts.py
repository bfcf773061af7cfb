"""A training run's loss curves as an inline SVG (train, validation, the kept iteration): no plotting library or
script in the page."""

from __future__ import annotations

from html import escape
from typing import Any

WIDTH, HEIGHT, PAD = 640, 260, 40
COLOURS = {"train": "#2f6fdf", "valid": "#e07b00"}


def loss_chart(losses: list[dict[str, Any]], best_iteration: int | None) -> str:
    """`losses`: rows with split ('train'/'valid'), iteration and loss."""
    if not losses:
        return '<p class="muted">no losses recorded yet</p>'
    xs = [r["iteration"] for r in losses]
    ys = [r["loss"] for r in losses]
    x0, x1 = min(xs), max(max(xs), min(xs) + 1)
    y0, y1 = min(ys), max(max(ys), min(ys) + 1e-6)

    def point(x: float, y: float) -> str:
        px = PAD + (x - x0) / (x1 - x0) * (WIDTH - 2 * PAD)
        py = HEIGHT - PAD - (y - y0) / (y1 - y0) * (HEIGHT - 2 * PAD)
        return f"{px:.1f},{py:.1f}"

    parts = [f'<svg id="loss-chart" width="{WIDTH}" height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" '
             'xmlns="http://www.w3.org/2000/svg" role="img" aria-label="loss curves" style="background:#fff">',
             f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#999"/>',
             f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="#999"/>',
             f'<text x="{PAD}" y="{HEIGHT - 12}" font-size="11">{x0}</text>',
             f'<text x="{WIDTH - PAD}" y="{HEIGHT - 12}" font-size="11" text-anchor="end">{x1} iterations</text>',
             f'<text x="4" y="{PAD}" font-size="11">{y1:.3f}</text>',
             f'<text x="4" y="{HEIGHT - PAD}" font-size="11">{y0:.3f}</text>']
    for split, colour in COLOURS.items():
        points = [point(r["iteration"], r["loss"]) for r in losses if r["split"] == split]
        if points:
            parts.append(f'<polyline class="{split}" fill="none" stroke="{colour}" stroke-width="2" '
                         f'points="{" ".join(points)}"/>')
            parts += [f'<circle cx="{p.split(",")[0]}" cy="{p.split(",")[1]}" r="2.5" fill="{colour}"/>'
                      for p in points if split == "valid"]
    if best_iteration is not None and x0 <= best_iteration <= x1:
        x = point(best_iteration, y0).split(",")[0]
        parts.append(f'<line class="kept" x1="{x}" y1="{PAD}" x2="{x}" y2="{HEIGHT - PAD}" stroke="#17803d" '
                     f'stroke-dasharray="4 3"/><text x="{x}" y="{PAD - 6}" font-size="11" text-anchor="middle">'
                     f'kept: {escape(str(best_iteration))}</text>')
    parts.append("</svg>")
    return "".join(parts)
