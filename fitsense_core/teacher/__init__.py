"""The teacher: answers every prompt with a plan or a coaching reply.

Two real implementations behind one interface (:class:`Teacher`):
- :class:`~fitsense_core.teacher.offline.OfflineTeacher`, the knowledge-based coach:
  deterministic, no network; the embedded default and the outage fallback;
- :class:`~fitsense_core.teacher.openai_compatible.OpenAICompatibleTeacher`, ``instructor``
  + ``openai`` against any OpenAI-compatible provider (OpenAI, Groq, OpenRouter, vLLM,
  llama.cpp), with a concurrency limit, a token-per-minute limit, retries with
  exponential backoff and jitter that honour Retry-After, and an answer cache keyed by
  prompt hash and model so a re-run only calls for what is missing.
``run_teacher`` drives either over a list of prompts; :mod:`~fitsense_core.teacher.shards`
splits a run's prompts over N such drivers side by side and merges their answers.
"""

from fitsense_core.teacher.base import Teacher, TeacherAnswer, TeacherFailure
from fitsense_core.teacher.runner import TeacherRunReport, run_teacher

__all__ = ["Teacher", "TeacherAnswer", "TeacherFailure", "TeacherRunReport", "run_teacher"]
