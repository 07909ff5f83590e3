"""The faults (Toxiproxy's "toxics") and the chain they form on each direction.

``base`` defines the chain (``Chunk``, ``Send``, ``Stage``); ``spec`` validates toxics;
``latency``, ``shaping`` and ``lifetime`` hold the stages. ``down`` acts on whole
connections and on the listener, so it has no stage: ``relay`` and ``server`` handle it.
"""

from __future__ import annotations

from orchestrator.proxy.faults.base import (
    CLOSE,
    DATA,
    EOF,
    Chunk,
    Send,
    Stage,
    StageContext,
    TimedStage,
)
from orchestrator.proxy.faults.latency import Latency, delay_sampler
from orchestrator.proxy.faults.lifetime import LimitData, ResetPeer, SlowClose, Timeout
from orchestrator.proxy.faults.shaping import Bandwidth, Slicer
from orchestrator.proxy.faults.spec import DOWN_MODES, SCHEMA, merge_attributes, validate_toxic

# Toxic type → the stage that implements it on one direction of one connection.
STAGES: dict[str, type[Stage]] = {
    "latency": Latency,
    "bandwidth": Bandwidth,
    "slicer": Slicer,
    "limit_data": LimitData,
    "timeout": Timeout,
    "reset_peer": ResetPeer,
    "slow_close": SlowClose,
}
CONNECTION_TOXICS = frozenset({"down"})  # act on the connection and the listener

__all__ = [
    "CLOSE",
    "CONNECTION_TOXICS",
    "DATA",
    "DOWN_MODES",
    "EOF",
    "SCHEMA",
    "STAGES",
    "Chunk",
    "Send",
    "Stage",
    "StageContext",
    "TimedStage",
    "delay_sampler",
    "merge_attributes",
    "validate_toxic",
]
