"""What two sides of the house share, so that neither imports the other's internals.

Services (servers/<service>/) and the worker (workers/) import from here; this package
imports only the runtime (servers/runtime/), the generated protos and third-party code.
"""
