"""Session state: turns per session in event-time order, the watermark, timers, snapshots.

:class:`SessionProcessor` runs the detectors over it and scores turns; see its module.
"""

from __future__ import annotations

from .config import SessionsConfig
from .event_clock import EventClock
from .model import TurnRecord, TurnView
from .processor import Findings, SessionProcessor

__all__ = ["EventClock", "Findings", "SessionProcessor", "SessionsConfig", "TurnRecord", "TurnView"]
