"""Notifier service: live notifications, presence and typing over WebSockets."""
