"""GET /v1/events — the change feed: scorings published, champions promoted, plans saved (engine.events)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from api.deps import StateDep, require_scope
from api.routes.common import AUTHENTICATED, problem_responses
from api.schemas import EventPage, EventQuery, FeedEvent, FeedLinks

router = APIRouter(prefix="/v1", tags=["events"])


@router.get(
    "/events",
    response_model=EventPage,
    dependencies=[Depends(require_scope("read:events"))],
    responses=problem_responses(*AUTHENTICATED),
    summary="Events after a cursor, in the order they happened (poll with after = the last id seen)",
)
def read_events(*, request: Request, state: StateDep, query: Annotated[EventQuery, Query()]) -> EventPage:
    # One more than asked for says whether another page follows, without a second query.
    found = state.events.after(query.after, query.limit + 1)
    page = found[: query.limit]
    last_id = page[-1].id if page else query.after
    path = request.url.path
    return EventPage(
        after=query.after,
        limit=query.limit,
        last_id=last_id,
        newest_id=state.events.last_id(),
        has_more=len(found) > query.limit,
        links=FeedLinks.model_validate(
            {
                "self": f"{path}?after={query.after}&limit={query.limit}",
                "next": f"{path}?after={last_id}&limit={query.limit}",
            }
        ),
        items=[
            FeedEvent(id=event.id, type=event.type, occurred_at=event.occurred_at, subject=event.subject)
            for event in page
        ],
    )
