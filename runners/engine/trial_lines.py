"""The lines a search prints (and logs in trials.log): one per finished trial, one per epoch of a running trial."""

from __future__ import annotations

from typing import Any

from nas.store import TrialRecord


def trial_line(record: TrialRecord, done: int, total: int, best: TrialRecord | None) -> str:
    """One line about a finished trial (the log's and the progress display's format)."""
    width = len(str(total))
    head = f"[{done:>{width}}/{total}] trial {record.proposal_id:>4} {record.state:<8}"
    if record.state == "complete":
        body = f"score {record.score:.4f} value {record.value:.4f}"
    elif record.state == "stopped":
        epochs = f"{record.metrics.get('epochs_trained', '?')}/{record.metrics.get('max_epochs', '?')}"
        body = f"score {record.score:.4f} value {record.value:.4f} at epoch {epochs}"
    else:
        error = (record.error or "").strip().splitlines()
        body = f"error: {error[-1] if error else 'unknown'}"
    extra = f" gflops {record.gflops:.4g}" if record.gflops is not None else ""
    took = f" {record.finished - record.started:.1f}s" if record.finished and record.started else ""
    tail = f" | best {best.value:.4f} (trial {best.proposal_id})" if best is not None else ""
    return f"{head} {body}{extra}{took} attempts {record.attempts} key {record.key}{tail}"


def epoch_line(record: TrialRecord, row: dict[str, Any], best: TrialRecord | None) -> str:
    """A progress line about one epoch of a running trial."""
    numbers = " ".join(f"{name} {row[name]:.4f}" for name in ("val_top1", "val_loss") if isinstance(row.get(name), float))
    head = f"      trial {record.proposal_id:>4} epoch {row['epoch']}/{row.get('max_epochs', '?')} value {row['value']:.4f}"
    tail = f" | best {best.value:.4f} (trial {best.proposal_id})" if best is not None else ""
    return f"{head}{' ' + numbers if numbers else ''}{tail}"
