"""The one shape of an error answer (``ExamEngineError.to_dict``, sent by ``app.py``), for /openapi.json."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ProblemOut(BaseModel):
    file: str
    location: str = Field(description="行号、题目编号或文件内的路径")
    field: str
    message: str


class ErrorOut(BaseModel):
    """The body of every domain error (see examengine/errors.py)."""

    error: str = Field(description="错误类型，如 NotFoundError")
    message: str = Field(description="中文说明")
    kind: str | None = Field(None, description="未找到的对象种类（仅 NotFoundError）")
    code: str | None = Field(None, description="未找到的编号（仅 NotFoundError）")
    retry_after: int | None = Field(None, description="多少秒后可以再试（仅 429）")
    problems: list[ProblemOut] | None = Field(None, description="数据中的每一处问题（仅 DataFileError）")


class DetailOut(BaseModel):
    """FastAPI's own refusal of a request it cannot read (a body that does not parse: 400)."""

    detail: str
