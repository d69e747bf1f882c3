#!/usr/bin/env bash
# The gRPC stubs from proto/rara/v1/rara.proto, with their type stubs, into rara/v1/ (the proto
# package rara.v1 is the Python package rara.v1, so the generated imports resolve).
#   scripts/proto.sh          regenerate the committed files
#   scripts/proto.sh --check  fail when the committed files are not what the .proto gives (CI)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$BIN/python" -m grpc_tools.protoc -Iproto \
    --plugin=protoc-gen-mypy="$BIN/protoc-gen-mypy" \
    --plugin=protoc-gen-mypy_grpc="$BIN/protoc-gen-mypy_grpc" \
    --python_out="$out" --grpc_python_out="$out" --mypy_out="$out" --mypy_grpc_out="$out" \
    proto/rara/v1/rara.proto
gen=(rara_pb2.py rara_pb2.pyi rara_pb2_grpc.py rara_pb2_grpc.pyi)
if [ "${1:-}" = "--check" ]; then
    for f in "${gen[@]}"; do
        if ! cmp -s "$out/rara/v1/$f" "rara/v1/$f"; then
            echo "rara/v1/$f is stale or missing: run \`make proto\` and commit the result" >&2
            exit 1
        fi
    done
    echo "proto stubs are current"
    exit 0
fi
mkdir -p rara/v1
for f in "${gen[@]}"; do cp "$out/rara/v1/$f" "rara/v1/$f"; done
echo "regenerated rara/v1/{${gen[*]}}"
