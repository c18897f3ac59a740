"""How often the knowledge-based coach's plans fail the programming-quality checks, how
many of them the student's per-request constraint can express, and how a random-valid
policy under that constraint fares on the same checks.

Builds a synthetic population, asks the offline teacher for every plan prompt (creation
and updates) and judges each plan with the one inference path's checks
(``fitsense_core.inference.serve.plan_quality``). Prints the failure count, the problems
by kind and a few examples of each; then the share of teacher plans the constraint
(``compact.constraint_problem``) accepts, and the random-valid policy's failures.

    .venv/bin/python bench/teacher_quality.py --users 400 --seed 3
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter, defaultdict
from datetime import date

from fitsense_core.inference.serve import plan_quality
from fitsense_core.plan_contract import Plan
from fitsense_core.prompts import build_prompts, context_from_json
from fitsense_core.student.compact import (
    build_codebook,
    constraint_problem,
    decode_plan,
    encode_plan,
    random_valid_plan,
)
from fitsense_core.student.data import live_task
from fitsense_core.synthetic import SyntheticConfig, generate_run
from fitsense_core.synthetic.context import user_contexts
from fitsense_core.teacher.offline import OfflineTeacher


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--examples", type=int, default=3)
    args = parser.parse_args()
    config = SyntheticConfig(
        run_id="teacher-quality",
        n_users=args.users,
        seed=args.seed,
        history_days=28,
        history_end=date(2026, 1, 4),
    )
    prompts = build_prompts(config.run_id, user_contexts(*generate_run(config)))
    teacher = OfflineTeacher()
    codes: Counter[str] = Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    judged = failed = 0
    answers = []
    for prompt in prompts:
        if prompt.output_type != "plan":
            continue
        profile, plan, sessions = context_from_json(prompt.context_json)
        task = live_task("bench", prompt.prompt_type, prompt.request, profile, plan, sessions)
        if task.output_type != "plan":
            continue
        plan = Plan.model_validate_json(teacher.answer_json(prompt))
        answers.append((task, plan))
        problems = plan_quality(plan, task)
        judged += 1
        failed += bool(problems)
        for problem in problems:
            codes[problem.code] += 1
            if len(examples[problem.code]) < args.examples:
                examples[problem.code].append(
                    f"{prompt.prompt_type} ({profile.experience}, {'+'.join(profile.goals)}, "
                    f"{profile.days_per_week} d x {profile.session_length_min} min, "
                    f"{len(profile.equipment)} kit): {problem}"
                )
    print(f"{failed}/{judged} teacher plans fail the programming-quality checks")
    for code, count in codes.most_common():
        print(f"  {code}: {count}")
        for line in examples[code]:
            print(f"    {line}")
    codebook = build_codebook(plan for _task, plan in answers)
    outside: Counter[str] = Counter()
    random_failed: Counter[str] = Counter()
    rng = random.Random(args.seed)
    for task, plan in answers:
        update = task.prompt_type == "plan_update" and task.current_plan is not None
        problem = constraint_problem(
            encode_plan(plan, codebook),
            codebook,
            task.athlete,
            conservative=task.conservative,
            update=update,
        )
        if problem is not None:
            outside[task.prompt_type] += 1
            if outside[task.prompt_type] <= args.examples:
                print(f"  outside the constraint ({task.prompt_type}): {problem}")
        text = random_valid_plan(
            codebook, task.athlete, rng, conservative=task.conservative, update=update
        )
        random_plan = decode_plan(text, codebook, task.athlete)
        random_failed[task.prompt_type] += bool(plan_quality(random_plan, task))
    kinds = Counter(task.prompt_type for task, _plan in answers)
    for kind, total in sorted(kinds.items()):
        print(
            f"{kind}: {total - outside[kind]}/{total} teacher plans inside the constraint; "
            f"random-valid fails quality on {random_failed[kind]}/{total}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
