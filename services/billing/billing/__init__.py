"""Billing service: Charges from every department, the invoice of a visit, payments, closing the visit."""
