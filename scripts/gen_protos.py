"""Regenerate gen/ from proto/: Python modules, type stubs, gRPC stubs and the
descriptor set Envoy loads. `make gen` runs this; nobody edits gen/ by hand.

The descriptor set carries every import plus google/rpc/status.proto and
error_details.proto, because Envoy's transcoder renders error details only for types
it knows.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO = ROOT / "proto"
THIRD_PARTY = ROOT / "third_party" / "googleapis"
GEN = ROOT / "gen"
DESCRIPTOR_SET = GEN / "chatdb_descriptor.binpb"
PACKAGES = ("chatdb", "inference")
# Vendored in third_party/ (googleapis-common-protos ships their Python modules, so we
# generate no code for them); they only go into the descriptor set.
EXTRA_DESCRIPTORS = ("google/rpc/status.proto", "google/rpc/error_details.proto")


def _protoc(args: list[str]) -> None:
    includes = [f"-I{PROTO}", f"-I{THIRD_PARTY}"]
    well_known = Path(protoc.__file__).parent / "_proto"
    code = protoc.main(["protoc", *includes, f"-I{well_known}", *args])
    if code != 0:
        sys.exit(f"protoc failed ({code}) for {args[-1]}")


def main() -> None:
    sources = sorted(str(p.relative_to(PROTO)) for p in PROTO.rglob("*.proto"))
    if not sources:
        sys.exit("no .proto files under proto/")
    for package in PACKAGES:
        shutil.rmtree(GEN / package, ignore_errors=True)
    DESCRIPTOR_SET.unlink(missing_ok=True)
    GEN.mkdir(exist_ok=True)
    _protoc([f"--python_out={GEN}", f"--pyi_out={GEN}", f"--grpc_python_out={GEN}", *sources])
    _protoc([f"--descriptor_set_out={DESCRIPTOR_SET}", "--include_imports", *sources, *EXTRA_DESCRIPTORS])
    # Regular packages (not namespace ones) so setuptools and type checkers find them.
    for package in PACKAGES:
        for directory in [GEN / package, *(p for p in (GEN / package).rglob("*") if p.is_dir())]:
            if directory.name != "__pycache__":
                (directory / "__init__.py").touch()
    print(f"generated {len(sources)} proto files into {GEN.relative_to(ROOT)}/")


if __name__ == "__main__":
    main()
