"""The gateway: ChatService (ask a question end to end), its history, feedback, system
status; later API keys and the edge's ext_authz (docs/ARCHITECTURE.md)."""
