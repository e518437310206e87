#!/usr/bin/env python3
"""Draws the training curve (train_log.jsonl from train.py) as a standalone SVG: per-step
training loss (faint), its moving average, and the periodic held-out loss."""
import argparse
import json
import math
from pathlib import Path

W, H = 720, 420
LEFT, RIGHT, TOP, BOTTOM = 64, 20, 36, 52


def nice_ticks(lo: float, hi: float, count: int = 6) -> list[float]:
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step) + 1)]


def polyline(points, sx, sy, style: str) -> str:
    coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in points)
    return f'<polyline fill="none" {style} points="{coords}"/>'


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    here = Path(__file__).parent
    p.add_argument("--log", type=Path, default=here / "work" / "train_log.jsonl")
    p.add_argument("--out", type=Path, default=here.parent.parent / "models" / "loss.svg")
    p.add_argument("--title", default="baton demo model: training loss")
    args = p.parse_args()

    records = [json.loads(line) for line in args.log.read_text().splitlines() if line.strip()]
    train = [(r["tokens"] / 1e6, r["loss"]) for r in records]
    val = [(r["tokens"] / 1e6, r["val_loss"]) for r in records if "val_loss" in r]
    smooth, avg = [], None
    for x, y in train:
        avg = y if avg is None else 0.9 * avg + 0.1 * y
        smooth.append((x, avg))

    x_hi = max(x for x, _ in train)
    y_lo = math.floor(min(y for _, y in train + val) * 2) / 2
    y_hi = math.ceil(min(max(y for _, y in train), y_lo + 6) * 2) / 2
    sx = lambda x: LEFT + (W - LEFT - RIGHT) * x / x_hi
    sy = lambda y: TOP + (H - TOP - BOTTOM) * (y_hi - min(max(y, y_lo), y_hi)) / (y_hi - y_lo)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" '
           f'viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2}" y="20" text-anchor="middle" font-size="14">{args.title}</text>']
    for t in nice_ticks(y_lo, y_hi):
        out.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{sy(t):.1f}" y2="{sy(t):.1f}" stroke="#e4e4e4"/>')
        out.append(f'<text x="{LEFT - 6}" y="{sy(t) + 4:.1f}" text-anchor="end">{t:g}</text>')
    for t in nice_ticks(0, x_hi):
        out.append(f'<line x1="{sx(t):.1f}" x2="{sx(t):.1f}" y1="{TOP}" y2="{H - BOTTOM}" stroke="#e4e4e4"/>')
        out.append(f'<text x="{sx(t):.1f}" y="{H - BOTTOM + 16}" text-anchor="middle">{t:g}</text>')
    out.append(f'<rect x="{LEFT}" y="{TOP}" width="{W - LEFT - RIGHT}" height="{H - TOP - BOTTOM}" '
               f'fill="none" stroke="#888"/>')
    out.append(f'<text x="{(LEFT + W - RIGHT) / 2}" y="{H - 14}" text-anchor="middle">'
               f'training tokens (millions)</text>')
    out.append(f'<text transform="translate(16,{(TOP + H - BOTTOM) / 2}) rotate(-90)" '
               f'text-anchor="middle">cross-entropy (nats per token)</text>')
    out.append(polyline(train, sx, sy, 'stroke="#9ecae1" stroke-width="1"'))
    out.append(polyline(smooth, sx, sy, 'stroke="#2171b5" stroke-width="2"'))
    if val:
        out.append(polyline(val, sx, sy, 'stroke="#d94801" stroke-width="2" stroke-dasharray="5,3"'))
        out += [f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="#d94801"/>' for x, y in val]
    legend = [("#9ecae1", "train loss per step"), ("#2171b5", "train loss, moving average"),
              ("#d94801", "held-out loss")]
    for i, (colour, label) in enumerate(legend):
        y = TOP + 16 + i * 18
        out.append(f'<line x1="{W - RIGHT - 200}" x2="{W - RIGHT - 176}" y1="{y - 4}" y2="{y - 4}" '
                   f'stroke="{colour}" stroke-width="2"/>')
        out.append(f'<text x="{W - RIGHT - 170}" y="{y}">{label}</text>')
    out.append("</svg>")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(out) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
