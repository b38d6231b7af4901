"""Small line charts as inline SVG, drawn by hand on the server.

Why not matplotlib's SVG backend: its text is either turned into glyph outlines (it then
needs a CJK font found by its font manager, and every Chinese label costs kilobytes of
paths) or left as text laid out with the metrics of another font. Here the labels are plain
``<text>`` in the page's own font stack (Noto Sans CJK SC, PingFang, YaHei): crisp,
selectable, readable by screen readers, and a chart is ~5 KB built in well under a
millisecond. Every mark carries a class and its data (``data-x``, ``data-y``,
``data-theta``), so tests and scripts read the numbers back from the page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from markupsafe import Markup, escape

PALETTE = {"model": "#1f6feb", "alt": "#9a6700", "observed": "#c62828", "cut": "#1a7f37", "target": "#616e7c",
           "best": "#8250df"}


@dataclass(frozen=True)
class Curve:
    """A line through (x, y)."""

    label: str
    x: Sequence[float]
    y: Sequence[float]
    kind: str = "model"  # a PALETTE key, also the CSS class
    dashed: bool = False


@dataclass(frozen=True)
class Points:
    """Marks at (x, y), each with a tooltip; optional vertical whiskers [low, high]."""

    label: str
    x: Sequence[float]
    y: Sequence[float]
    notes: Sequence[str] = ()
    low: Sequence[float] | None = None
    high: Sequence[float] | None = None
    kind: str = "observed"
    size: Sequence[float] | None = None  # radius per point (default 4)


@dataclass(frozen=True)
class VLine:
    """A vertical rule at x, labelled at the top (a cut score)."""

    x: float
    label: str
    kind: str = "cut"


@dataclass(frozen=True)
class HLine:
    y: float
    label: str
    kind: str = "target"


@dataclass(frozen=True)
class Chart:
    title: str
    x_label: str
    y_label: str
    x_range: tuple[float, float]
    y_range: tuple[float, float] | None = None  # default: 0 .. a round number above the data
    curves: Sequence[Curve] = ()
    points: Sequence[Points] = ()
    vlines: Sequence[VLine] = ()
    hlines: Sequence[HLine] = ()
    width: int = 640
    height: int = 320
    css_id: str = ""
    legend_at: str = "right"  # top "left" or top "right" corner of the plot
    extra_classes: tuple[str, ...] = field(default_factory=tuple)


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering [lo, hi] (steps of 1, 2 or 5 x 10^k)."""
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step - 1e-9) * step
    out = []
    t = start
    while t <= hi + 1e-9 * step:
        out.append(round(t, 10))
        t += step
    return out


def _fmt(v: float) -> str:
    return f"{v:.1f}"


def _num(v: float) -> str:
    return f"{v:.4f}".rstrip("0").rstrip(".") if math.isfinite(v) else "nan"


def curve_table(ch: Chart, digits: int = 3) -> Markup:
    """The chart's curves read at its x-axis ticks, as a table inside a closed ``<details>`` (the
    numbers of the picture for a screen reader or a keyboard; points have tables of their own)."""
    if not ch.curves:
        return Markup("")
    x0, x1 = ch.x_range
    head = "".join(f'<th scope="col">{escape(c.label)}</th>' for c in ch.curves)
    rows = []
    for t in nice_ticks(x0, x1, 8):
        cells = []
        for c in ch.curves:
            if not len(c.x):
                cells.append("<td>—</td>")
                continue
            k = min(range(len(c.x)), key=lambda i: abs(c.x[i] - t))
            y = c.y[k]
            cells.append(f"<td>{y:.{digits}f}</td>" if math.isfinite(y) else "<td>—</td>")
        rows.append(f'<tr><th scope="row">{_num(t)}</th>{"".join(cells)}</tr>')
    ident = f' id="{escape(ch.css_id)}-data"' if ch.css_id else ""
    return Markup(f'<details class="chart-data"{ident}><summary>{escape(ch.title)}：数据表</summary>'
                  f'<table><caption>{escape(ch.title)}（{escape(ch.x_label)} 取刻度处的值）</caption>'
                  f'<thead><tr><th scope="col">{escape(ch.x_label)}</th>{head}</tr></thead>'
                  f'<tbody>{"".join(rows)}</tbody></table></details>')


def render_chart(ch: Chart) -> Markup:
    """The chart as an ``<svg>`` element (safe to insert into a page as is)."""
    left, right, top, bottom = 56, 16, (46 if ch.vlines else 30), 44
    w, h = ch.width, ch.height
    pw, ph = w - left - right, h - top - bottom
    x0, x1 = ch.x_range
    if ch.y_range is not None:
        y0, y1 = ch.y_range
    else:
        values = [v for c in ch.curves for v in c.y] + [v for p in ch.points for v in (p.high or p.y)]
        values += [hl.y for hl in ch.hlines]
        top_v = max([v for v in values if math.isfinite(v)] or [1.0])
        y0, y1 = 0.0, nice_ticks(0.0, top_v * 1.08 or 1.0, 5)[-1]
        if y1 < top_v:
            y1 = top_v * 1.08

    def sx(x: float) -> float:
        return left + (min(max(x, x0), x1) - x0) / (x1 - x0) * pw

    def sy(y: float) -> float:
        return top + ph - (min(max(y, y0), y1) - y0) / (y1 - y0) * ph

    ident = f' id="{escape(ch.css_id)}"' if ch.css_id else ""
    classes = " ".join(("chart", *ch.extra_classes))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg"{ident} class="{classes}" viewBox="0 0 {w} {h}" '
             f'width="100%" style="max-width:{w}px" role="img" font-size="12" '
             f'font-family="Noto Sans CJK SC, PingFang SC, Microsoft YaHei, sans-serif">',
             f"<title>{escape(ch.title)}</title>",
             f'<text x="{left}" y="18" font-size="14" font-weight="600" fill="#1f2933">{escape(ch.title)}</text>',
             f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fff" stroke="#d9e2ec"/>']
    for t in nice_ticks(x0, x1, 8):
        parts.append(f'<line class="grid" x1="{_fmt(sx(t))}" y1="{top}" x2="{_fmt(sx(t))}" y2="{top + ph}" '
                     f'stroke="#eef2f7"/>')
        parts.append(f'<text x="{_fmt(sx(t))}" y="{top + ph + 16}" text-anchor="middle" fill="#616e7c">'
                     f'{_num(t)}</text>')
    for t in nice_ticks(y0, y1, 5):
        parts.append(f'<line class="grid" x1="{left}" y1="{_fmt(sy(t))}" x2="{left + pw}" y2="{_fmt(sy(t))}" '
                     f'stroke="#eef2f7"/>')
        parts.append(f'<text x="{left - 6}" y="{_fmt(sy(t) + 4)}" text-anchor="end" fill="#616e7c">{_num(t)}</text>')
    parts.append(f'<text x="{left + pw / 2:.1f}" y="{h - 8}" text-anchor="middle" fill="#1f2933">'
                 f'{escape(ch.x_label)}</text>')
    parts.append(f'<text transform="translate(14 {top + ph / 2:.1f}) rotate(-90)" text-anchor="middle" '
                 f'fill="#1f2933">{escape(ch.y_label)}</text>')
    for hl in ch.hlines:
        color = PALETTE.get(hl.kind, "#616e7c")
        parts.append(f'<line class="{escape(hl.kind)}" data-y="{_num(hl.y)}" x1="{left}" y1="{_fmt(sy(hl.y))}" '
                     f'x2="{left + pw}" y2="{_fmt(sy(hl.y))}" stroke="{color}" stroke-dasharray="2 3"/>')
        parts.append(f'<text x="{left + 4}" y="{_fmt(sy(hl.y) - 4)}" fill="{color}">{escape(hl.label)}</text>')
    for c in ch.curves:
        color = PALETTE.get(c.kind, "#1f2933")
        pts = " ".join(f"{_fmt(sx(x))},{_fmt(sy(y))}" for x, y in zip(c.x, c.y, strict=True) if math.isfinite(y))
        dash = ' stroke-dasharray="6 4"' if c.dashed else ""
        parts.append(f'<polyline class="curve {escape(c.kind)}" fill="none" stroke="{color}" stroke-width="2"{dash} '
                     f'points="{pts}"><title>{escape(c.label)}</title></polyline>')
    for vl in ch.vlines:
        color = PALETTE.get(vl.kind, "#1a7f37")
        x = _fmt(sx(vl.x))
        parts.append(f'<g class="{escape(vl.kind)}" data-theta="{_num(vl.x)}"><line x1="{x}" y1="{top}" x2="{x}" '
                     f'y2="{top + ph}" stroke="{color}" stroke-width="1.5" stroke-dasharray="5 3"/>'
                     f'<text x="{x}" y="{top - 4}" text-anchor="middle" fill="{color}">{escape(vl.label)}</text>'
                     f"<title>{escape(vl.label)}：θ = {vl.x:.3f}</title></g>")
    for p in ch.points:
        color = PALETTE.get(p.kind, "#c62828")
        for k, (x, y) in enumerate(zip(p.x, p.y, strict=True)):
            note = p.notes[k] if k < len(p.notes) else ""
            r = 4.0 if p.size is None else p.size[k]
            whisker = ""
            if p.low is not None and p.high is not None:
                whisker = (f'<line x1="{_fmt(sx(x))}" y1="{_fmt(sy(p.low[k]))}" x2="{_fmt(sx(x))}" '
                           f'y2="{_fmt(sy(p.high[k]))}" stroke="{color}" stroke-width="1"/>')
            parts.append(f'<g class="point {escape(p.kind)}" data-x="{_num(x)}" data-y="{_num(y)}">{whisker}'
                         f'<circle cx="{_fmt(sx(x))}" cy="{_fmt(sy(y))}" r="{r:.1f}" fill="{color}" '
                         f'fill-opacity="0.85"/><title>{escape(note)}</title></g>')
    # legend, top right inside the plot
    entries = ([(c.label, c.kind, "dash" if c.dashed else "line") for c in ch.curves]
               + [(p.label, p.kind, "dot") for p in ch.points])
    ly = top + 14
    for label, kind, style in entries:
        color = PALETTE.get(kind, "#1f2933")
        lx = left + 10 if ch.legend_at == "left" else left + pw - 170
        if style == "dot":
            parts.append(f'<circle cx="{lx + 12}" cy="{ly - 4}" r="4" fill="{color}"/>')
        else:
            dash = ' stroke-dasharray="6 4"' if style == "dash" else ""
            parts.append(f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 24}" y2="{ly - 4}" stroke="{color}" '
                         f'stroke-width="2"{dash}/>')
        parts.append(f'<text x="{lx + 30}" y="{ly}" fill="#1f2933">{escape(label)}</text>')
        ly += 16
    parts.append("</svg>")
    return Markup("".join(parts))
