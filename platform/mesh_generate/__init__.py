"""Traffic generators: realistic, imperfect input for the data products, starting with the app
telemetry of `playback.events` (`mesh generate playback`).

The simulation and the imperfections are pure (`playback_sessions`, `traffic`); `sending` paces and
counts; `kafka_sink` is the only module that talks to Kafka and the schema registry."""

from mesh_generate.messages import AvroMessage, Kind, Outgoing, RawMessage, WireDefect, apply_wire_defect
from mesh_generate.playback_sessions import (
    Catalogue,
    PlaybackRecord,
    PlaybackSimulator,
    Population,
    Title,
    sessions_for_rate,
)
from mesh_generate.sending import Deliveries, Sink, Tally, send_traffic
from mesh_generate.traffic import Imperfections, PlaybackTraffic

__all__ = [
    "AvroMessage",
    "Catalogue",
    "Deliveries",
    "Imperfections",
    "Kind",
    "Outgoing",
    "PlaybackRecord",
    "PlaybackSimulator",
    "PlaybackTraffic",
    "Population",
    "RawMessage",
    "Sink",
    "Tally",
    "Title",
    "WireDefect",
    "apply_wire_defect",
    "send_traffic",
    "sessions_for_rate",
]
