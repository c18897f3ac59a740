"""How often the knowledge-based coach's plans fail the programming-quality checks.

Builds a synthetic population, asks the offline teacher for every plan prompt (creation
and updates) and judges each plan with the one inference path's checks
(``fitsense_core.inference.serve.plan_quality``). Prints the failure count, the problems
by kind and a few examples of each.

    .venv/bin/python bench/teacher_quality.py --users 400 --seed 3
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter, defaultdict
from datetime import date

from fitsense_core.inference.serve import plan_quality
from fitsense_core.plan_contract import Plan
from fitsense_core.prompts import build_prompts, context_from_json
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
    for prompt in prompts:
        if prompt.output_type != "plan":
            continue
        profile, plan, sessions = context_from_json(prompt.context_json)
        task = live_task("bench", prompt.prompt_type, prompt.request, profile, plan, sessions)
        if task.output_type != "plan":
            continue
        problems = plan_quality(Plan.model_validate_json(teacher.answer_json(prompt)), task)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
