import dagster as dg

synthetic_data_job = dg.define_asset_job(
    "synthetic_data",
    selection=dg.AssetSelection.groups("synthetic"),
    description="Generate a run's synthetic users and history, check them, load PostgreSQL.",
)

dataset_job = dg.define_asset_job(
    "dataset",
    selection=dg.AssetSelection.groups("synthetic", "teacher", "qa", "distill"),
    description="Synthetic data through the distillation dataset (no training).",
)

pipeline_job = dg.define_asset_job(
    "pipeline",
    selection=dg.AssetSelection.groups(
        "synthetic", "teacher", "qa", "distill", "training", "evaluation", "registry"
    ),
    description="A whole run: synthetic data, prompts, teacher answers, QA reports, the "
    "distillation dataset, the student's training, export and evaluation, registration and "
    "promotion behind the gate.",
)

triage_job = dg.define_asset_job(
    "triage",
    selection=dg.AssetSelection.groups("safety"),
    description="Train, evaluate and (behind its gate) promote the learned triage layer.",
)
