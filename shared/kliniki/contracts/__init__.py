"""The events services exchange, each a payload model with its routing key beside it.

One module per publisher (``kliniki.contracts.triage`` ...): the publisher builds the model, and
every consumer names the same model in its ``Subscription`` (``subscribe``) and receives the
parsed object. A renamed field then fails a type check and the tests on both sides, not a
consumer at run time. docs/events.md's field tables and docs/asyncapi.yaml are generated from
these (tools/asyncapi.py); a test checks that each event type has exactly one model.
"""

from __future__ import annotations

import functools
import inspect
import types
import typing
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError

if TYPE_CHECKING:  # the contracts themselves stay plain pydantic, importable by any domain
    from kliniki.consumer import Subscription
    from kliniki.events import CloudEvent
    from kliniki.uow import UnitOfWork

Payload = TypeVar("Payload", bound=BaseModel)


@dataclass(frozen=True)
class Contract(Generic[Payload]):
    """An event type: who publishes it, its routing key, its data's model; ``summary`` is the
    line docs/events.md adds to the fields."""

    publisher: str
    routing_key: str
    model: type[Payload]
    summary: str = ""


ParsedHandler = Callable[["UnitOfWork", "CloudEvent", Payload], Awaitable[None]]


def subscribe(contract: Contract[Payload], *handlers: ParsedHandler[Payload]) -> Subscription:
    """A subscription whose handlers get the event's data parsed into the contract's model,
    one after the other in the same transaction. Data that does not fit the model goes to
    the dead-letter queue with the reason at once: retrying would not change it."""
    from kliniki.consumer import RefuseEvent, Subscription

    for handler in handlers:
        check_takes(handler, contract)

    async def parsed(uow: UnitOfWork, event: CloudEvent) -> None:
        try:
            data = contract.model.model_validate(event.data)
        except ValidationError as exc:
            raise RefuseEvent(
                f"{event.type} {event.id}: data is not a {contract.model.__name__}: {exc}"
            ) from exc
        for handler in handlers:
            await handler(uow, event, data)

    return Subscription(contract.publisher, contract.routing_key, parsed, contract.model)


def check_takes(handler: ParsedHandler[Any], contract: Contract[Any]) -> None:
    """Refuse, when the subscriptions are built, a handler whose data parameter is annotated
    with models the contract's is none of (a handler put on the wrong routing key). The
    checker cannot see it: the contract is looked up by its key. A parameter typed as a
    protocol, ``Any`` or not at all is taken at its word."""
    function = handler.func if isinstance(handler, functools.partial) else handler
    try:
        hints = typing.get_type_hints(function)
        data = list(inspect.signature(function).parameters)[2]
    except (NameError, TypeError, ValueError, IndexError):  # nothing to read it by
        return
    annotated = hints.get(data)
    union = typing.get_origin(annotated) in (typing.Union, types.UnionType)
    accepted = typing.get_args(annotated) if union else (annotated,)
    models = [t for t in accepted if isinstance(t, type) and issubclass(t, BaseModel)]
    if len(models) == len(accepted) and not issubclass(contract.model, tuple(models)):
        raise TypeError(
            f"{function.__qualname__} takes {annotated}, not the {contract.model.__name__} of "
            f"{contract.publisher}.events {contract.routing_key}"
        )


Handler = TypeVar("Handler", bound=ParsedHandler[Any])


class Handlers:
    """A consumer's subscriptions, each declared on its handler::

        handles = Handlers()

        @handles("triage", triage.TRIAGE_COMPLETED)
        async def on_triage_completed(uow, event, data: triage.TriageCompleted) -> None: ...

    A handler may take several routing keys of one publisher (their models are its data's
    type); several handlers of one event run in the order declared, in one transaction.
    """

    def __init__(self) -> None:
        self._handlers: dict[tuple[str, str], list[ParsedHandler[Any]]] = {}

    def __call__(self, publisher: str, *routing_keys: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            for routing_key in routing_keys:
                self._handlers.setdefault((publisher, routing_key), []).append(handler)
            return handler

        return register

    def subscriptions(self) -> list[Subscription]:
        return [
            subscribe(contract(publisher, routing_key), *handlers)
            for (publisher, routing_key), handlers in self._handlers.items()
        ]


def contract(publisher: str, routing_key: str) -> Contract[Any]:
    """The contract of ``routing_key`` events on ``<publisher>.events``."""
    found = [c for c in all_contracts() if (c.publisher, c.routing_key) == (publisher, routing_key)]
    if len(found) != 1:
        raise LookupError(f"{len(found)} contracts for {publisher}.events {routing_key}")
    return found[0]


def all_contracts() -> list[Contract[BaseModel]]:
    """Every event type of every publisher."""
    from kliniki.contracts import (
        billing,
        clinical,
        identity,
        lab,
        notifier,
        pharmacy,
        registration,
        triage,
        worklist,
    )

    found: list[Contract[BaseModel]] = []
    publishers = (registration, worklist, triage, clinical, lab, pharmacy, billing, identity)
    for module in (*publishers, notifier):
        found += module.CONTRACTS
    return found
