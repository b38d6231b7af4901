"""Pictures of items: only PNG, JPEG, GIF and WebP, known by their bytes, never by the type an
upload declares (docs/security.md).

A picture is served from the app's own origin, so a "picture" that is HTML or SVG would run
script in the session of whoever opens it (stored XSS). Here a picture is what its first bytes
say (magic numbers), and Pillow must open it as that same format, with at most
:data:`MAX_PICTURE_PIXELS` pixels; its declared media type is ignored and replaced by the
sniffed one. Bounds: :data:`MAX_PICTURE_BYTES` per picture, :data:`MAX_UPLOAD_PICTURE_BYTES`
for all the pictures of one upload.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import replace

from PIL import Image, UnidentifiedImageError

from examengine.errors import Problem
from examengine.exam.items import ItemDraft, ItemImage

#: The only picture types examengine stores and serves, by Pillow format name.
PICTURE_TYPES: dict[str, str] = {"PNG": "image/png", "JPEG": "image/jpeg", "GIF": "image/gif", "WEBP": "image/webp"}
#: One picture, in bytes (a stem's chart or photo is well under this).
MAX_PICTURE_BYTES = 2 * 1024 * 1024
#: All the pictures of one upload together, in bytes.
MAX_UPLOAD_PICTURE_BYTES = 20 * 1024 * 1024
#: Width × height of one picture (a 4000 × 4000 photo; a decompression bomb is far larger).
MAX_PICTURE_PIXELS = 16_000_000


def sniff(data: bytes) -> str | None:
    """The picture's Pillow format name (a key of :data:`PICTURE_TYPES`) from its magic number,
    or None when the bytes begin like no allowed picture type."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "GIF"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def served_type(data: bytes) -> str:
    """The Content-Type to serve stored bytes with: the sniffed picture type, else
    ``application/octet-stream`` (never the type stored with them)."""
    fmt = sniff(data)
    return PICTURE_TYPES[fmt] if fmt else "application/octet-stream"


def picture_problem(data: bytes) -> str | None:
    """Why these bytes are not an acceptable picture (a Chinese message), or None when they are."""
    if len(data) > MAX_PICTURE_BYTES:
        return f"图片为 {len(data) / 1024 / 1024:.1f} MB，超过每张 {MAX_PICTURE_BYTES // (1024 * 1024)} MB 的上限"
    fmt = sniff(data)
    if fmt is None:
        head = data[:64].lstrip().lower()
        kind = ("SVG" if b"<svg" in head or (head.startswith(b"<?xml") and b"svg" in data[:1024].lower())
                else "HTML/文本" if head.startswith(b"<") else "未知格式")
        return f"只接受 PNG、JPEG、GIF、WebP 图片（按文件内容判断），此文件为 {kind}"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=[fmt]) as im:
                width, height = im.size
                if width * height > MAX_PICTURE_PIXELS:
                    return f"图片为 {width}×{height} 像素，超过 {MAX_PICTURE_PIXELS:,} 像素的上限"
                im.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError,
            Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return f"文件开头为 {fmt}，但不是完整有效的 {fmt} 图片（{type(exc).__name__}）"
    return None


def check_pictures(filename: str, items: tuple[ItemDraft, ...]) -> tuple[tuple[ItemDraft, ...], list[Problem]]:
    """Every picture of an upload checked by its bytes: the items with each picture's media type
    replaced by the sniffed one, and a problem (file, item, picture) for each bad picture and for
    an upload whose pictures together exceed :data:`MAX_UPLOAD_PICTURE_BYTES`."""
    problems: list[Problem] = []
    out: list[ItemDraft] = []
    total = 0
    for d in items:
        images: list[ItemImage] = []
        for img in d.images:
            total += len(img.data)
            why = picture_problem(img.data)
            if why:
                problems.append(Problem(filename, d.location or d.external_id, f"图片 {img.name}",
                                        f"{why}（声明的类型为 {img.media_type or '无'}），未导入"))
                continue
            images.append(ItemImage(img.name, PICTURE_TYPES[sniff(img.data)], img.data, img.alt))
        out.append(replace(d, images=tuple(images)) if d.images else d)
    if total > MAX_UPLOAD_PICTURE_BYTES:
        problems.append(Problem(filename, "", "图片", f"本次上传的图片共 {total / 1024 / 1024:.1f} MB，超过每次上传 "
                                                     f"{MAX_UPLOAD_PICTURE_BYTES // (1024 * 1024)} MB 的上限"))
    return tuple(out), problems
