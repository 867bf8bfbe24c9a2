"""Wiring of saved searches that notify: the operations the APIs share and the workers'
webhook configuration, both from the settings."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from catalog.access import FetchPolicy
from catalog.operations import SavedSearchOperations
from catalog.saved import RetryPolicy
from stacql.settings import Settings
from workers.context import NotifyConfig


def webhook_policy(settings: Settings) -> FetchPolicy:
    """Which webhook URLs are allowed: the fetch settings' hosts and private addresses
    (never server files)."""
    return FetchPolicy(
        allowed_hosts=tuple(settings.fetch.allowed_hosts),
        allow_private=settings.fetch.allow_private,
    )


def notify_config(settings: Settings) -> NotifyConfig:
    """What a worker needs to post webhook notices."""
    notify = settings.notify
    return NotifyConfig(
        fetch_policy=webhook_policy(settings),
        retry=RetryPolicy(tuple(notify.retry_intervals), notify.max_attempts),
        timeout=notify.timeout_seconds,
        poll_seconds=notify.poll_seconds,
    )


def saved_search_operations(
    settings: Settings,
    sessions: async_sessionmaker[AsyncSession],
    read_sessions: async_sessionmaker[AsyncSession] | None = None,
) -> SavedSearchOperations:
    """Saved searches as both APIs serve them."""
    return SavedSearchOperations(sessions, webhook_policy(settings), read_sessions)
