"""The transport ceiling for bench/prediction.py's (c): a bare grpc.aio server (no
interceptor, no model) that parses each BatchPredictRequest as the prediction service
does and answers it with the bytes the real service answered for that model.

    python bench/_echo_server.py PORT DIR     # DIR holds <model>.bin, one reply each

Whatever rows/s a client gets from it is the most any handler on Python's gRPC server
could reach on this machine for the same request and reply: the difference to (c) is
what the prediction service spends (its interceptor, decoding, the model, encoding).
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import grpc

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "gen"))

from chatdb.prediction.v1 import prediction_service_pb2 as pb  # noqa: E402

SERVICE = pb.DESCRIPTOR.services_by_name["PredictionService"].full_name


async def serve(port: int, replies: dict[str, bytes]) -> None:
    async def batch_predict(request: pb.BatchPredictRequest, context) -> bytes:
        return replies[request.model]

    handler = grpc.unary_unary_rpc_method_handler(
        batch_predict, request_deserializer=pb.BatchPredictRequest.FromString, response_serializer=bytes)
    server = grpc.aio.server(options=[("grpc.max_receive_message_length", 64 << 20),
                                      ("grpc.max_send_message_length", 64 << 20), ("grpc.so_reuseport", 0)])
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(SERVICE, {"BatchPredict": handler}),))
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


if __name__ == "__main__":
    directory = Path(sys.argv[2])
    asyncio.run(serve(int(sys.argv[1]), {p.stem: p.read_bytes() for p in directory.glob("*.bin")}))
