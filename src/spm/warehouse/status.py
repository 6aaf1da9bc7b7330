"""The statuses of an `etl_batch` row (and of the outcome a batch step hands to the next), in one place.

A StrEnum: members compare equal to the strings stored in the warehouse and carried in XCom, so the
column, the JSON hand-over and the code agree without conversion."""

from __future__ import annotations

from enum import StrEnum


class BatchStatus(StrEnum):
    RUNNING = "running"  # started, not settled (stored)
    STAGED = "staged"  # in staging, not validated yet (hand-over only)
    VALIDATED = "validated"  # passed its suites, not published yet (hand-over only)
    PUBLISHED = "published"
    UNCHANGED = "unchanged"  # source checksum equal to the published one: nothing to publish
    FAILED = "failed"  # could not be fetched or read, or a critical expectation failed
    REJECTED = "rejected"  # too many rows quarantined, or refused whole (a broken workbook, a miscount)
    MISSING = "missing"  # the source has no data for the partition yet
    DUPLICATE = "duplicate"  # an inbox file whose content was loaded before (inbox_file only)


# Settled in the warehouse with the source's data current: the partition's published rows hold.
SETTLED = (BatchStatus.PUBLISHED, BatchStatus.UNCHANGED)
# Settled without publishing, needing someone's attention.
REFUSED = (BatchStatus.FAILED, BatchStatus.REJECTED)
# Values the etl_batch.status column holds.
STORED = (BatchStatus.RUNNING, BatchStatus.PUBLISHED, BatchStatus.UNCHANGED, BatchStatus.FAILED,
          BatchStatus.REJECTED, BatchStatus.MISSING)
