"""Field types shared by the blueprint's models: durations, sizes, CPU amounts."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, WithJsonSchema

from orchestrator.blueprint import units


class Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


Duration = Annotated[
    float,
    BeforeValidator(units.parse_duration),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": units.DURATION_PATTERN},
                {"type": "number", "minimum": 0},
            ],
            "description": "A duration: '500ms', '30s', '15m', '2h', '1h30m'; numbers are seconds.",
        }
    ),
]
Size = Annotated[
    int,
    BeforeValidator(units.parse_size),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": units.SIZE_PATTERN},
                {"type": "integer", "minimum": 0},
            ],
            "description": "A size in bytes or with a unit: '512Mi', '1Gi', '10G'.",
        }
    ),
]
Cpu = Annotated[
    float,
    BeforeValidator(units.parse_cpu),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": units.CPU_PATTERN},
                {"type": "number", "exclusiveMinimum": 0},
            ],
            "description": "CPU cores: 1, 0.5 or '500m'.",
        }
    ),
]
