"""The runtime every ChatDB server shares: settings, errors, logging, the gRPC server
builder (health, reflection, TLS, interceptors, graceful shutdown) and migrations."""
