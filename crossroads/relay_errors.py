"""What the caller is told when attempts fail: the provider's own refusal of a caller's mistake,
or one error that sums up every attempt of the plan (the relay's last word)."""

from __future__ import annotations

from crossroads.errors import (
    ERROR_BY_STATUS,
    ContextLengthExceeded,
    CrossroadsError,
    RateLimited,
    UpstreamFailed,
)
from crossroads.failures import AttemptError, Failure


def caller_error(error: AttemptError, provider_name: str) -> CrossroadsError:
    """A caller's mistake as the provider refused it: final, with the provider's reason."""
    status = error.status if error.status and 400 <= error.status < 500 else 400
    cls = ERROR_BY_STATUS.get(status, ERROR_BY_STATUS[400])
    return cls(error.message, status=status, metadata={
        "provider_name": provider_name,
        "reason": error.failure.value,
    })


def final_error(errors: list[AttemptError], last: AttemptError | None,
                cooling: tuple[str, ...]) -> CrossroadsError:
    """Every attempt failed (or none could be made): the status that says why."""
    metadata: dict[str, object] = {
        "attempts": [{"reason": e.failure.value, "status": e.status} for e in errors],
    }
    if not errors:
        return ERROR_BY_STATUS[503](
            "Every provider that can serve this request is cooling down after recent "
            "failures; retry shortly.", metadata=metadata | {"cooling": list(cooling)},
            headers={"retry-after": "1"})
    if all(e.failure is Failure.CONTEXT_LENGTH for e in errors):
        return ContextLengthExceeded(
            "Every provider that could serve this request refused the prompt as longer "
            f"than its context; the last said: {errors[-1].message}", metadata=metadata)
    statuses = {e.rule.caller_status for e in errors}
    if statuses == {429}:
        waits = [e.retry_after_s for e in errors if e.retry_after_s is not None]
        headers = {"retry-after": str(max(1, round(min(waits))))} if waits else {}
        return RateLimited("Every provider for this request is rate limited; retry later.",
                           metadata=metadata, headers=headers)
    if statuses == {408}:
        return ERROR_BY_STATUS[408]("Every provider timed out.", metadata=metadata)
    message = last.message if last else "no provider answered"
    return UpstreamFailed(f"Every provider failed; the last said: {message}",
                          metadata=metadata)
