"""Billing service: Charges, the invoice of a visit, payments, closing the visit."""
