"""Pharmacy service: The prescription worklist and dispensing."""
