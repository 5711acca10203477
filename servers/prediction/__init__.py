"""Prediction service (PredictionService and the KServe v2 GRPCInferenceService, port
8085): ONNX Runtime sessions of registry versions in an LRU, hot swaps on registry
events, dynamic batching. core.py holds the policy, sessions.py the cache and the swaps,
loaded.py one version's session and how it runs, plan.py the per-version input
encoding, convert.py the proto mapping."""
