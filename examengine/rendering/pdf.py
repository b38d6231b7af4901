"""Paper forms as PDF: jinja2 print templates -> HTML -> WeasyPrint, A4.

Chinese is set in a CJK font found by fontconfig: WenQuanYi Micro Hei (Debian
``fonts-wqy-microhei``, TrueType) when installed, otherwise Noto Sans CJK SC
(``fonts-noto-cjk``). Measured by ``benchmarks/print_forms.py`` (WeasyPrint 70, fontTools 4.68,
a 60-item booklet, 50 sheets and the key, warm): 3.7 s in WenQuanYi against 4.5 s in Noto
(the booklet 0.45 s against 0.86 s), and PDFs a third of the size (booklet 141 KB against
433 KB, key 43 KB against 266 KB), because subsetting the CFF outlines of the Noto
collections costs more and embeds more. Page margin boxes (header, footer) name the font
explicitly: they do not inherit the body's.

QR codes come from ``segno`` (PNG data URIs); the bubble grid is one PNG per form (Pillow, a WeasyPrint dependency), shared by
every sheet, so a room of 50 sheets costs little more than one. Answer sheets put every part a
machine reads (corner marks, QR code, bubbles) where ``exam.sheet_layout`` says, on a page
without margins, so the reader (``scanning``) finds them there.
"""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
from functools import lru_cache

from examengine.exam.items import LETTERS
from examengine.exam.sheet_layout import SheetLayout, sheet_layout
from examengine.rendering.env import render
from examengine.rendering.qr import qr_png_uri

FAST_CJK = "WenQuanYi Micro Hei"
NOTO_CJK = "Noto Sans CJK SC"
#: the bubbles' printed outline (inside the layout's box)
BUBBLE_OUTLINE_MM = 0.25


@lru_cache(maxsize=1)
def default_font_family() -> str:
    """The CJK font stack: the fast TrueType font first when fontconfig knows it."""
    fc = shutil.which("fc-list")
    names = ""
    if fc:
        names = subprocess.run([fc, ":lang=zh", "family"], capture_output=True, text=True, timeout=30).stdout
    stack = [f for f in (FAST_CJK, NOTO_CJK) if f in names] or [NOTO_CJK]
    return ", ".join(f'"{f}"' for f in stack) + ", sans-serif"


@lru_cache(maxsize=4)
def _latin_font(size: int):
    from PIL import ImageFont

    fc = shutil.which("fc-match")
    path = subprocess.run([fc, "-f", "%{file}", "DejaVu Sans:bold"], capture_output=True, text=True,
                          timeout=30).stdout.strip() if fc else ""
    try:
        return ImageFont.truetype(path or "DejaVuSans-Bold.ttf", size)
    except OSError:
        return ImageFont.load_default(size)


def bubble_grid_uri(layout: SheetLayout, *, dpi: int = 300) -> str:
    """The answer grid of a form (item numbers, one bubble per option, A-F inside) as one PNG
    data URI at ``dpi``, drawn from ``layout`` (every box where the reader will look for it),
    covering exactly ``layout.grid``; drawn once per form and shared by every sheet: WeasyPrint
    draws a vector grid anew on each page (about 0.2 s a sheet), a raster image once."""
    from PIL import Image, ImageDraw

    grid = layout.grid
    px = dpi / 25.4
    img = Image.new("L", (round(grid.w * px), round(grid.h * px)), 255)
    draw = ImageDraw.Draw(img)
    number, letter = _latin_font(round(3.2 * px)), _latin_font(round(2.6 * px))
    outline = max(1, round(BUBBLE_OUTLINE_MM * px))
    for row in layout.rows:
        n = row.number
        draw.text(((n.right - grid.x - 0.5) * px, (n.y - grid.y + n.h / 2) * px), str(row.position), font=number,
                  fill=0, anchor="rm")
        for j, b in enumerate(row.bubbles):
            x0, y0 = (b.x - grid.x) * px, (b.y - grid.y) * px
            draw.rounded_rectangle([round(x0), round(y0), round(x0 + b.w * px) - 1, round(y0 + b.h * px) - 1],
                                   radius=b.h / 2 * px, outline=0, width=outline)
            draw.text((x0 + b.w / 2 * px, y0 + b.h / 2 * px), LETTERS[j], font=letter, fill=0, anchor="mm")
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True, dpi=(dpi, dpi))
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def html_to_pdf(html: str) -> bytes:
    from weasyprint import HTML

    return HTML(string=html, base_url=".").write_pdf(presentational_hints=True)


def _with_picture_uris(sections: list[dict]) -> list[dict]:
    """Each item's pictures (``pictures``: name -> media_type, data, alt) as data URIs, which the
    booklet prints in place of the stem's or an option's ``[图片:name]``."""
    return [s | {"items": [it | {"pictures": {name: {"uri": f"data:{p['media_type']};base64,"
                                                            + base64.b64encode(p["data"]).decode("ascii"),
                                                     "alt": p.get("alt", "")}
                                              for name, p in it.get("pictures", {}).items()}}
                           for it in s["items"]]} for s in sections]


def booklet_html(ctx: dict, *, font_family: str | None = None) -> str:
    return render("print/booklet.html", font=font_family or default_font_family(),
                  **(ctx | {"sections": _with_picture_uris(ctx["sections"])}))


def sheets_html(ctx: dict, *, font_family: str | None = None) -> str:
    """One A4 page a sheet, printed without page margins, every part where
    ``exam.sheet_layout`` puts it (corner marks, QR code, grid). Raises
    ``SheetLayoutError`` when the form does not fit on a sheet."""
    layout = sheet_layout([len(it["options"]) for it in ctx["form"]["items"]])
    sheets = [s | {"qr_uri": qr_png_uri(s["qr"])} for s in ctx["sheets"]]
    return render("print/sheets.html", font=font_family or default_font_family(), grid=bubble_grid_uri(layout),
                  layout=layout, **(ctx | {"sheets": sheets}))


def key_html(ctx: dict, *, font_family: str | None = None) -> str:
    return render("print/key.html", font=font_family or default_font_family(), **ctx)


def render_booklet(ctx: dict, *, font_family: str | None = None) -> bytes:
    return html_to_pdf(booklet_html(ctx, font_family=font_family))


def render_sheets(ctx: dict, *, font_family: str | None = None) -> bytes:
    return html_to_pdf(sheets_html(ctx, font_family=font_family))


def render_key(ctx: dict, *, font_family: str | None = None) -> bytes:
    return html_to_pdf(key_html(ctx, font_family=font_family))
