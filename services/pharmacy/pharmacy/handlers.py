"""The pharmacy's event handlers: clinical's prescriptions put patients on the worklist."""

from __future__ import annotations

from functools import partial

from kliniki.consumer import Subscription
from kliniki.contracts import clinical
from kliniki.worklist import orders
from kliniki.worklist.service import Worklist
from pharmacy.service import PRESCRIPTIONS, receive_prescription


def prescription_subscriptions(worklist: Worklist) -> list[Subscription]:
    return orders.order_subscriptions(
        PRESCRIPTIONS,
        worklist,
        partial(receive_prescription, worklist=worklist),
        created=clinical.PRESCRIPTION_CREATED,
        cancelled=clinical.PRESCRIPTION_CANCELLED,
    )
