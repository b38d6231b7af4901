"""What an answer sheet's QR code says, signed: exam, candidate (id and 准考证号), form (id and
code), and an HMAC-SHA256 of all that with the exam's sheet key, so that a sheet cannot be
made to name another candidate by editing or copying its code.

    EE2;exam=3;cand=17;ticket=2026001;form=5;code=A;sig=<16 hex>

``sig`` is the first 16 hex digits (64 bits) of HMAC-SHA256(key, everything before ";sig=").
A blank sheet has no ``cand``/``ticket``; a blank sheet printed without an exam has no ``exam``
and no signature (it names nobody, so there is nothing to forge). Sheets printed before codes
were signed (``EE1``) are read as unsigned. Pure: no database, no images.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

VERSION = "EE2"
OLD_VERSION = "EE1"
SIG_HEX = 16


class SheetStatus(str, Enum):
    """Where a scanned page stands."""

    UNREADABLE = "unreadable"  # no sheet found on the page, or its QR code could not be decoded
    REFUSED = "refused"  # not a sheet of this exam, a forged code, or already read with other marks
    REVIEW = "review"  # read; some positions wait for a person
    READY = "ready"  # read and reviewed, not scored (a blank sheet: no candidate)
    SCORED = "scored"  # read, reviewed, scored into the candidate's paper result


STATUS_NAMES = {SheetStatus.UNREADABLE: "无法识别", SheetStatus.REFUSED: "已拒收", SheetStatus.REVIEW: "待复核",
                SheetStatus.READY: "已识别（未评分）", SheetStatus.SCORED: "已评分"}


@dataclass(frozen=True)
class SheetCode:
    """A decoded (not yet verified) sheet code."""

    version: str
    exam_id: int | None
    candidate_id: int | None
    ticket: str
    form_id: int
    form_code: str
    signature: str  # "" when unsigned
    signed_text: str  # what the signature covers

    @property
    def blank(self) -> bool:
        return self.candidate_id is None

    @property
    def signed(self) -> bool:
        return bool(self.signature)


class SheetCodeError(ValueError):
    """The QR code is not one of our answer sheets' (message in Chinese)."""


def new_sheet_key() -> str:
    """A random per-exam secret (64 hex digits)."""
    return secrets.token_hex(32)


def signature(text: str, key: str) -> str:
    return hmac.new(key.encode("ascii"), text.encode("utf-8"), hashlib.sha256).hexdigest()[:SIG_HEX]


def sheet_code(*, exam_id: int | None, candidate_id: int | None, ticket: str, form_id: int, form_code: str,
               key: str | None) -> str:
    """The QR payload of a sheet; signed when the exam has a key (every exam printed for has)."""
    fields = [VERSION, f"exam={exam_id if exam_id is not None else ''}"]
    if candidate_id is not None:
        fields += [f"cand={candidate_id}", f"ticket={ticket}"]
    fields += [f"form={form_id}", f"code={form_code}"]
    text = ";".join(fields)
    return f"{text};sig={signature(text, key)}" if key and exam_id is not None else text


def parse_sheet_code(text: str) -> SheetCode:
    """Decode a QR payload; raises :class:`SheetCodeError` when it is not ours or malformed."""
    raw = (text or "").strip()
    head, _, rest = raw.partition(";")
    if head not in (VERSION, OLD_VERSION):
        raise SheetCodeError("二维码不是本系统答题卡的二维码")
    signed_text, sig = raw, ""
    if head == VERSION and ";sig=" in raw:
        signed_text, _, sig = raw.rpartition(";sig=")
        if len(sig) != SIG_HEX or any(ch not in "0123456789abcdef" for ch in sig):
            raise SheetCodeError("答题卡二维码的签名格式不对")
    fields: dict[str, str] = {}
    for part in signed_text.split(";")[1:]:
        name, eq, value = part.partition("=")
        if not eq or name in fields:
            raise SheetCodeError(f"答题卡二维码的内容无法解析（“{part}”）")
        fields[name] = value
    try:
        exam = int(fields["exam"]) if fields.get("exam") else None
        cand = int(fields["cand"]) if fields.get("cand") else None
        form = int(fields["form"])
        code = fields["code"]
    except (KeyError, ValueError):
        raise SheetCodeError("答题卡二维码缺少考试、试卷编号或试卷代码") from None
    ticket = fields.get("ticket", "")
    if cand is not None and not ticket:
        raise SheetCodeError("答题卡二维码有考生编号却没有准考证号")
    return SheetCode(head, exam, cand, ticket, form, code, sig, signed_text)


def verify(code: SheetCode, key: str | None) -> bool:
    """True when the code is signed with ``key`` (constant-time comparison)."""
    return bool(key) and code.signed and hmac.compare_digest(signature(code.signed_text, key), code.signature)


def marks_digest(letters: Mapping[int, str] | Sequence[str]) -> str:
    """A digest of the letters read per position (not of the darkness: a sheet scanned again
    on another scanner reads the same letters with slightly different darkness)."""
    items = letters.items() if isinstance(letters, Mapping) else enumerate(letters, start=1)
    text = ";".join(f"{int(p)}:{v}" for p, v in sorted(items, key=lambda kv: int(kv[0])))
    return hashlib.sha256(text.encode("ascii")).hexdigest()[:32]
