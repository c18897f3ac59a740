"""Asking the model and turning its answer into what a person receives.

- ``endpoint``: where the OpenAI-compatible model endpoint lives and its key;
- ``client``: the HTTP client the API and the monitoring probes call it with;
- ``serve``: the one inference path — the request sent for a task, the judgement of the
  answer, and what the person is shown (notes, the knowledge-based fallback).
"""
