"""The knowledge-based coach: deterministic, offline plans and answers, no model.

It is the embedded default teacher, the API's fallback when the model server is down, and
the reference the student is measured against when no teacher LLM is configured.

- ``plans``: create_plan and update_plan;
- ``answers``: answer_question, one module per coaching topic;
- ``topics``: which topic a question is about, and which exercise it names;
- ``questions``: the bank of coaching questions and plan requests the teacher is asked;
- ``knowledge`` and ``technique_cues``: the tables the answers draw on;
- ``physiology``: energy and sleep formulas, shared with the synthetic data.
"""
