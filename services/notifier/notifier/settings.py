"""The notifier's own settings: the shared ones plus the timings of presence, typing and sockets.

Every field reads ``KLINIKI_<FIELD>`` like the shared settings. The defaults suit a clinic; tests
start replicas with short ones so expiry can be watched in a couple of seconds.
"""

from __future__ import annotations

from pydantic import Field

from kliniki.settings import ServiceSettings


class NotifierSettings(ServiceSettings):
    service_name: str = "notifier"
    presence_heartbeat_seconds: float = Field(
        default=2.0,
        description="How often each replica tells the others everything its sockets hold "
        "(presence and typing), so the others can expire it when the replica dies.",
    )
    presence_replica_expiry_seconds: float = Field(
        default=6.0,
        description="A replica not heard from for this long is gone: its presence and typing "
        "leave everywhere.",
    )
    presence_client_timeout_seconds: float = Field(
        default=10.0,
        description="A socket that holds presence and sends nothing (not even a ping) for this "
        "long is shown as gone; it is back on its next frame. The JS client pings every 4 s.",
    )
    typing_expiry_seconds: float = Field(
        default=5.0, description="Typing ends by itself this long after the last typing_start."
    )
    ws_send_buffer_frames: int = Field(
        default=1_000,
        description="Frames queued for one socket behind the 64 KiB its transport holds before "
        "it is closed as too slow (4408).",
    )
    ws_stalled_send_seconds: float = Field(
        default=30.0,
        description="A socket whose client has left more than 64 KiB untaken for this long is "
        "closed as stuck (4408).",
    )
    ws_close_timeout_seconds: float = Field(
        default=5.0,
        description="How long a slow socket gets to take its close frame before it is cut.",
    )
    live_poll_seconds: float = Field(
        default=5.0,
        description="Safety-net read of new notifications when no broker wake-up came.",
    )
    max_rooms_per_socket: int = Field(
        default=64, description="Entities one socket may have open at once (presence)."
    )
