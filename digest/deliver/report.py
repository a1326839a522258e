"""What a delivery run did: counts, reasons for what it skipped, why it stopped."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    bounced: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)
    not_due: int = 0
    done_before: int = 0
    planned: list[tuple[str, str, int]] = field(default_factory=list)
    stopped: str | None = None

    def summary(self) -> str:
        return (
            f"sent {self.sent}, skipped {len(self.skipped)}, retried {self.retried}, "
            f"failed {self.failed}, bounced {self.bounced}"
        )

    def as_json(self) -> dict[str, object]:
        return {
            "sent": self.sent,
            "skipped": len(self.skipped),
            "retried": self.retried,
            "failed": self.failed,
            "bounced": self.bounced,
            "not_due": self.not_due,
            "already_sent": self.done_before,
            "stopped": self.stopped,
            "skipped_reasons": [{"email": e, "reason": r} for e, r in self.skipped],
        }
