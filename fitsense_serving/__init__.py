"""The inference layer: ``fitsense serve`` (the switching proxy in front of llama.cpp
servers, ``supervisor``; the vLLM command for GPU hosts, ``vllm``), the model endpoint's
configuration (``config``) and the OpenAI-protocol client the API uses (``client``)."""
