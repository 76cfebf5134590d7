"""Writes the field and enum manifest of Triton's model_config.proto, the reference lib/triton-model-config.proto
(this repository's subset) is tested against (test/triton-model-config-schema.test.ts).

    /usr/bin/python3 tools/triton_schema_manifest.py UPSTREAM/protobuf/model_config.proto COMMIT > \\
        test/fixtures/triton-model-config-fields.json

UPSTREAM is a checkout of triton-inference-server/common at COMMIT; the proto itself is not kept here, only the
names, numbers and types it declares. Needs protoc (Debian protobuf-compiler) and python3-protobuf.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

from google.protobuf import descriptor_pb2

_TYPES = {value: name.removeprefix("TYPE_").lower() for name, value in descriptor_pb2.FieldDescriptorProto.Type.items()}


def _messages(prefix: str, messages, out: dict) -> None:
    for message in messages:
        name = f"{prefix}.{message.name}"
        if message.options.map_entry:
            continue
        fields = {}
        for field in message.field:
            kind = _TYPES[field.type]
            fields[field.name] = {
                "number": field.number,
                # Messages and enums by full name; map fields show as their (skipped) entry message.
                "type": field.type_name.lstrip(".") if kind in ("message", "enum") else kind,
                "repeated": field.label == descriptor_pb2.FieldDescriptorProto.LABEL_REPEATED,
            }
        out["messages"][name] = fields
        for enum in message.enum_type:
            out["enums"][f"{name}.{enum.name}"] = {value.name: value.number for value in enum.value}
        _messages(name, message.nested_type, out)


def manifest(proto: Path, commit: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        descriptor = Path(tmp) / "model_config.pb"
        subprocess.run(
            ["protoc", f"--proto_path={proto.parent}", f"--descriptor_set_out={descriptor}", proto.name], check=True
        )
        files = descriptor_pb2.FileDescriptorSet.FromString(descriptor.read_bytes())
    (file,) = files.file
    out: dict = {
        "source": {"repository": "triton-inference-server/common", "commit": commit, "path": "protobuf/model_config.proto"},
        "messages": {},
        "enums": {f"{file.package}.{e.name}": {v.name: v.number for v in e.value} for e in file.enum_type},
    }
    _messages(file.package, file.message_type, out)
    return out


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    print(json.dumps(manifest(Path(sys.argv[1]), sys.argv[2]), indent=1, sort_keys=True))
