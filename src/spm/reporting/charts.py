"""Inline SVG charts: no script and no internet needed, the same markup in the HTML, the PDF and the
dashboard."""

from __future__ import annotations

from html import escape


def format_number(value: float | int | None, decimals: int = 0, empty: str = "–") -> str:
    """A number the Indonesian way: 12.345,6."""
    if value is None:
        return empty
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def capaian_bars(items: list[tuple[str, float | None]], target: float | None = None, width: int = 800) -> str:
    """Horizontal bars of capaian (%) per label, with the 100 % line and an optional target line."""
    label_w, bar_h, gap, top = 370, 16, 6, 22
    plot_w = width - label_w - 70
    scale = max([100.0, *(v for _, v in items if v is not None)])
    x = lambda v: label_w + plot_w * min(v, scale) / scale  # noqa: E731
    height = top + len(items) * (bar_h + gap) + 10
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="grafik" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" font-family="DejaVu Sans, Arial, sans-serif" font-size="11">']
    for i, (label, value) in enumerate(items):
        y = top + i * (bar_h + gap)
        out.append(f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end">{escape(label[:62])}</text>')
        if value is None:
            out.append(f'<text x="{label_w + 4}" y="{y + 12}" fill="#777">tidak ada data</text>')
            continue
        colour = "#2e7d32" if target is None or value >= target else "#c62828"
        out.append(f'<rect x="{label_w}" y="{y}" width="{x(value) - label_w:.1f}" height="{bar_h}" fill="{colour}"/>')
        out.append(f'<text x="{x(value) + 4:.1f}" y="{y + 12}">{format_number(value, 1)} %</text>')
    bottom = height - 6
    out.append(f'<line x1="{x(100):.1f}" y1="{top - 4}" x2="{x(100):.1f}" y2="{bottom}" stroke="#333" '
               'stroke-dasharray="3,2"/>')
    out.append(f'<text x="{x(100):.1f}" y="{top - 8}" text-anchor="middle">100 %</text>')
    if target is not None:
        out.append(f'<line x1="{x(target):.1f}" y1="{top - 4}" x2="{x(target):.1f}" y2="{bottom}" stroke="#1565c0" '
                   'stroke-width="2"/>')
        out.append(f'<text x="{x(target):.1f}" y="{top - 8}" text-anchor="middle" fill="#1565c0">target '
                   f'{format_number(target)} %</text>')
    out.append("</svg>")
    return "".join(out)


# Ten distinguishable colours (Tableau 10), each also drawn solid, dashed and dotted: 30 series, no
# two alike (a report shows up to 19 jenis layanan).
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#7f7f7f")
DASHES = ("", "7,3", "2,2")


def series_style(i: int) -> tuple[str, str]:
    """(colour, stroke-dasharray) of the i-th series: unique up to len(PALETTE) x len(DASHES)."""
    return PALETTE[i % len(PALETTE)], DASHES[(i // len(PALETTE)) % len(DASHES)]


def trend_chart(series: dict[str, list[tuple[str, float | None]]], width: int = 720, height: int = 260,
                target: dict[str, float] | None = None) -> str:
    """Capaian over quarters: one polyline per series, each its own colour and dash; x labels are the
    quarters. The y axis reaches the highest value (a capaian above 100 % is drawn, not clipped), and
    `target` (quarter label -> %) is drawn as a black dashed line."""
    labels: list[str] = []
    for points in series.values():
        for label, _ in points:
            if label not in labels:
                labels.append(label)
    legend_rows = len(series) + (1 if target else 0)
    left, right, top, bottom = 46, 170, 14, 30
    height = max(height, top + 14 * legend_rows + 10)
    pw, ph = width - left - right, height - top - bottom
    values = [v for pts in series.values() for _, v in pts if v is not None] + list((target or {}).values())
    scale = 25.0 * -(-max([100.0, *values]) // 25)  # up to the next multiple of 25
    xs = {lab: left + (pw * i / max(len(labels) - 1, 1)) for i, lab in enumerate(labels)}
    y = lambda v: top + ph * (1 - v / scale)  # noqa: E731
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="grafik" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" font-family="DejaVu Sans, Arial, sans-serif" font-size="11">']
    step = 25 if scale <= 200 else 50 * -(-scale // 400)
    tick = 0.0
    while tick <= scale:
        stroke = "#999" if tick == 100 else "#ddd"
        out.append(f'<line x1="{left}" y1="{y(tick):.1f}" x2="{left + pw}" y2="{y(tick):.1f}" stroke="{stroke}"/>')
        out.append(f'<text x="{left - 4}" y="{y(tick) + 4:.1f}" text-anchor="end">{format_number(tick)}</text>')
        tick += step
    for lab, xv in xs.items():
        out.append(f'<text x="{xv:.1f}" y="{height - 10}" text-anchor="middle">{escape(lab)}</text>')
    for i, (name, pts) in enumerate(series.items()):
        colour, dash = series_style(i)
        dashed = f' stroke-dasharray="{dash}"' if dash else ""
        coords = [(xs[lab], y(v)) for lab, v in pts if v is not None]
        if coords:
            out.append(f'<polyline class="seri" fill="none" stroke="{colour}" stroke-width="2"{dashed} points="'
                       + " ".join(f"{a:.1f},{b:.1f}" for a, b in coords) + '"/>')
            out.extend(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3" fill="{colour}"/>' for a, b in coords)
        ly = top + 14 * i + 8
        out.append(f'<line x1="{left + pw + 6}" y1="{ly - 3}" x2="{left + pw + 20}" y2="{ly - 3}" stroke="{colour}" '
                   f'stroke-width="3"{dashed}/>')
        out.append(f'<text x="{left + pw + 24}" y="{ly + 1}">{escape(name[:24])}</text>')
    if target:
        coords = [(xs[lab], y(v)) for lab, v in target.items() if lab in xs]
        out.append('<polyline class="target" fill="none" stroke="#000" stroke-width="1.5" stroke-dasharray="5,4" '
                   'points="' + " ".join(f"{a:.1f},{b:.1f}" for a, b in coords) + '"/>')
        ly = top + 14 * len(series) + 8
        out.append(f'<line x1="{left + pw + 6}" y1="{ly - 3}" x2="{left + pw + 20}" y2="{ly - 3}" stroke="#000" '
                   'stroke-dasharray="5,4"/>')
        out.append(f'<text x="{left + pw + 24}" y="{ly + 1}">target garis lurus</text>')
    out.append("</svg>")
    return "".join(out)
