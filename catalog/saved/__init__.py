"""Saved searches that notify: stored searches private to their owner, matched in bulk
against written items, with signed webhook notices, a delivery log and an Atom feed."""

from catalog.saved.body import SAVED_FIELDS, check_search_body, search_request
from catalog.saved.delivery import (
    DueNotice,
    RetryPolicy,
    delivery_lock,
    next_notice,
    notice_payload,
    record_delivered,
    record_failure,
)
from catalog.saved.feed import ATOM_MEDIA_TYPE, atom_feed, latest_matches
from catalog.saved.matching import (
    CHANGED,
    DELETED,
    MatchReport,
    match_changes,
    pending_changes,
)
from catalog.saved.records import (
    NoticeRecord,
    SavedSearchChanges,
    SavedSearchInput,
    SavedSearchRecord,
    owner_of,
)
from catalog.saved.signature import SIGNATURE_HEADER, new_secret, signature

__all__ = [
    "ATOM_MEDIA_TYPE",
    "CHANGED",
    "DELETED",
    "SAVED_FIELDS",
    "SIGNATURE_HEADER",
    "DueNotice",
    "MatchReport",
    "NoticeRecord",
    "RetryPolicy",
    "SavedSearchChanges",
    "SavedSearchInput",
    "SavedSearchRecord",
    "atom_feed",
    "check_search_body",
    "delivery_lock",
    "latest_matches",
    "match_changes",
    "new_secret",
    "next_notice",
    "notice_payload",
    "owner_of",
    "pending_changes",
    "record_delivered",
    "record_failure",
    "search_request",
    "signature",
]
