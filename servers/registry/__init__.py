"""Model registry (ModelRegistryService, port 8081): versions, aliases, artifacts and a
resumable stream of model events. See core.py for the rules, store.py for the SQL and
the event-ordering scheme, artifacts.py for the content-addressed artifact store."""
