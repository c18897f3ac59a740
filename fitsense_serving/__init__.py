"""``fitsense serve``: the switching proxy in front of llama.cpp servers (``targets``: what
should serve; ``supervisor``: the llama.cpp processes and the blue/green switch; ``proxy``:
the ASGI app; ``server``: running it) and the vLLM command for GPU hosts (``vllm``)."""
