"""The states of an online attempt and the rules that decide whether it can be scored.

The run-out-of-time rule (anchor: NCLEX, where a candidate who does not reach the minimum number
of items fails): an attempt that ends with fewer scored answers than the blueprint's minimum
length is *incomplete*: not passed, no band, no score. Above the minimum, an item that was shown
but not answered when the attempt ended counts as wrong.
"""

from __future__ import annotations

from enum import Enum


class AttemptStatus(str, Enum):
    NOT_STARTED = "not_started"  # signed in, instructions not yet confirmed: the clock has not started
    IN_PROGRESS = "in_progress"  # the clock runs; past the deadline it stays here until a write closes it
    FINISHED = "finished"  # closed with enough evidence: scored
    INCOMPLETE = "incomplete"  # closed short of the minimum length: not passed, no band, no score
    VOIDED = "voided"  # voided by a proctor

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]

    @property
    def closed(self) -> bool:
        return self in (AttemptStatus.FINISHED, AttemptStatus.INCOMPLETE, AttemptStatus.VOIDED)

    @property
    def scored(self) -> bool:
        """Closed with a result stored (complete or not)."""
        return self in (AttemptStatus.FINISHED, AttemptStatus.INCOMPLETE)


STATUS_LABELS = {
    AttemptStatus.NOT_STARTED: "已登录未开考",
    AttemptStatus.IN_PROGRESS: "作答中",
    AttemptStatus.FINISHED: "已完成",
    AttemptStatus.INCOMPLETE: "未完成",
    AttemptStatus.VOIDED: "已作废",
}


class ExamMode(str, Enum):
    """How an exam is delivered online."""

    ADAPTIVE = "adaptive"  # CAT: the engine chooses each next item; answers are final
    LINEAR = "linear"  # a fixed assembled form, in form order; answers may change until submitted
    LOFT = "loft"  # linear-on-the-fly: a form assembled for each attempt, delivered as linear

    @property
    def label(self) -> str:
        return {ExamMode.ADAPTIVE: "自适应", ExamMode.LINEAR: "固定试卷", ExamMode.LOFT: "随机组卷"}[self]

    @property
    def linear(self) -> bool:
        """Delivered position by position with changeable answers (linear and loft)."""
        return self is not ExamMode.ADAPTIVE


class FinishReason(str, Enum):
    """Why an attempt closed: the engine's own stopping rules, the clock, or (linear exams) the
    candidate's submission."""

    CLASSIFIED = "classified"
    SPRT = "sprt"
    SE_TARGET = "se_target"
    MAX_LENGTH = "max_length"
    POOL_EXHAUSTED = "pool_exhausted"
    TIME = "time"
    SUBMITTED = "submitted"

    @property
    def label(self) -> str:
        return {
            FinishReason.CLASSIFIED: "已可判定", FinishReason.SPRT: "已可判定", FinishReason.SE_TARGET: "达到测量精度",
            FinishReason.MAX_LENGTH: "达到最大题量", FinishReason.POOL_EXHAUSTED: "题库可用题目已用完",
            FinishReason.TIME: "考试时间已到", FinishReason.SUBMITTED: "考生交卷",
        }[self]


def is_complete(n_scored_answers: int, min_length: int) -> bool:
    """Enough evidence to score: at least the blueprint's minimum number of scored answers
    (pretest items do not count; an item shown but not answered does not count)."""
    return n_scored_answers >= min_length


class SignInOutcome(str, Enum):
    """What became of one candidate sign-in (services.attempts.sign_in)."""

    OK = "ok"  # signed in (a new token; any older one stops working)
    BAD_CODE = "bad_code"  # unknown ticket or wrong access code (a failure)
    BAD_ID = "bad_id"  # the exam asks for 身份证号后四位 and it did not match (a failure)
    LOCKED = "locked"  # the ticket is locked after too many failures (refused even with the right code)
    PENDING = "pending"  # a second device waits for a proctor's approval
    APPROVED = "approved"  # a proctor let the second device continue (the first one's token stops working)
    REJECTED = "rejected"  # a proctor refused the second device

    @property
    def failure(self) -> bool:
        return self in (SignInOutcome.BAD_CODE, SignInOutcome.BAD_ID)

    @property
    def label(self) -> str:
        return {
            SignInOutcome.OK: "登录成功", SignInOutcome.BAD_CODE: "准考证号或访问码错误",
            SignInOutcome.BAD_ID: "身份证号后四位不符", SignInOutcome.LOCKED: "已锁定，拒绝登录",
            SignInOutcome.PENDING: "新设备，等待批准", SignInOutcome.APPROVED: "新设备，已批准",
            SignInOutcome.REJECTED: "新设备，已拒绝",
        }[self]
