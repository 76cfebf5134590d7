"""What the throughput mode tests share: the 640 x 480 mode, the operator's configs, and a reader of the
fields the mode edits, built on the same scanner the edits use (model_config.top_level_fields)."""

from __future__ import annotations

from conftest import REPO_ROOT
from omniglue_conversion.model_config import top_level_fields
from omniglue_conversion.throughput import ThroughputMode
from omniglue_conversion.throughput_config import _message_entries

CONFIGS = REPO_ROOT / "model_repository"
MODE = ThroughputMode(640, 480, 8, 1000)


def config_text(name: str) -> str:
    return (CONFIGS / name / "config.pbtxt").read_text()


def _value(text: str, field) -> str:
    return text[field.value_start:field.end].strip()


def parse_config(text: str) -> dict:
    """What the checks need from a config, read with the same scanner Triton-bound edits use:
    {tensors: {name: dims}, max_batch_size, warmup: [(batch_size, key, dims, data_type)], delay}."""
    parsed: dict = {"tensors": {}, "warmup": [], "delay": None, "max_batch_size": None}

    def dims(value: str) -> tuple[int, ...]:
        return tuple(int(d) for d in value.strip("[] ").split(",") if d.strip())

    for field in top_level_fields(text):
        if field.name in ("input", "output"):
            for start, end in _message_entries(text, field):
                inner = {f.name: _value(text[start:end], f) for f in top_level_fields(text[start:end])}
                parsed["tensors"][inner["name"].strip('"')] = dims(inner["dims"])
        elif field.name == "max_batch_size":
            parsed["max_batch_size"] = int(_value(text, field))
        elif field.name == "dynamic_batching":
            body = text[field.body[0]:field.body[1]]
            (delay,) = [f for f in top_level_fields(body) if f.name == "max_queue_delay_microseconds"]
            parsed["delay"] = int(_value(body, delay))
        elif field.name == "model_warmup":
            for start, end in _message_entries(text, field):
                entry = text[start:end]
                fields = {f.name: f for f in top_level_fields(entry)}
                inputs = fields["inputs"]
                sample = entry[inputs.body[0]:inputs.body[1]]
                sample_fields = {f.name: f for f in top_level_fields(sample)}
                value = sample[sample_fields["value"].body[0]:sample_fields["value"].body[1]]
                value_fields = {f.name: _value(value, f) for f in top_level_fields(value)}
                parsed["warmup"].append((
                    int(_value(entry, fields["batch_size"])), _value(sample, sample_fields["key"]).strip('"'),
                    dims(value_fields["dims"]), value_fields["data_type"],
                ))
    return parsed
