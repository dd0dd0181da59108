"""The lab's event handlers: clinical's orders put patients on the lab worklist."""

from __future__ import annotations

from functools import partial

from kliniki.consumer import Subscription
from kliniki.contracts import clinical
from kliniki.worklist import orders
from kliniki.worklist.service import Worklist
from lab.domain import Catalogue
from lab.service import LAB_ORDERS, receive_lab_request


def order_subscriptions(worklist: Worklist, catalogue: Catalogue) -> list[Subscription]:
    return orders.order_subscriptions(
        LAB_ORDERS,
        worklist,
        partial(receive_lab_request, worklist=worklist, catalogue=catalogue),
        created=clinical.LAB_REQUEST_CREATED,
        cancelled=clinical.LAB_REQUEST_CANCELLED,
    )
