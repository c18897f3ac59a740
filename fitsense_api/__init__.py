"""The FitSense REST API (Litestar + asyncpg). Not built yet: see the API issue; the schema
it serves is in ``sql/`` and the shared domain code in ``fitsense_core``."""
