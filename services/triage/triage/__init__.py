"""Triage service: the triage worklist, encounters, vital signs and triage category."""
