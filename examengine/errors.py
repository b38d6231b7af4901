"""Domain errors. Services raise these; the API maps them to status codes in one table
(app.py) and the CLI prints their message. Messages shown to people are Chinese."""

from __future__ import annotations

from dataclasses import dataclass


class ExamEngineError(Exception):
    """Base of every error examengine raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict:
        return {"error": type(self).__name__, "message": self.message}


class NotFoundError(ExamEngineError):
    """A thing named by code or id does not exist."""

    def __init__(self, kind: str, code: str) -> None:
        super().__init__(f"未找到{kind}：{code}")
        self.kind = kind
        self.code = code

    def to_dict(self) -> dict:
        return {**super().to_dict(), "kind": self.kind, "code": self.code}


@dataclass(frozen=True)
class Problem:
    """One problem found in input data, located as precisely as the input allows."""

    file: str
    location: str  # row number, item id or a dotted path inside the file
    field: str
    message: str

    def __str__(self) -> str:
        where = ", ".join(p for p in (self.file, self.location, self.field) if p)
        return f"{where}: {self.message}"


class DataFileError(ExamEngineError):
    """Input data (a file or an upload) is invalid; nothing was written."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        head = "; ".join(str(p) for p in self.problems[:5])
        more = f"（另有 {len(self.problems) - 5} 处）" if len(self.problems) > 5 else ""
        super().__init__(f"数据有误，未写入任何内容：{head}{more}")

    def to_dict(self) -> dict:
        return {
            **super().to_dict(),
            "problems": [
                {"file": p.file, "location": p.location, "field": p.field, "message": p.message}
                for p in self.problems
            ],
        }


class TooManyAttemptsError(ExamEngineError):
    """Too many failed attempts from one ticket or address (429, with Retry-After)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))  # seconds

    def to_dict(self) -> dict:
        return {**super().to_dict(), "retry_after": self.retry_after}


class ConflictError(ExamEngineError):
    """The request contradicts the current state (a refused transition, a duplicate)."""


class DatabaseNotReadyError(ExamEngineError):
    """The database is missing or not migrated to the current schema."""
