"""The inference layer: model server launch and health, model registry reader, and the
OpenAI-protocol client the API uses. Not built yet: see the serving issue."""
