import dagster as dg

from fitsense_assets.resources import (
    AppDatabaseResource,
    ArtifactStoreResource,
    TeacherResource,
)


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(
        resources={
            "artifact_store": ArtifactStoreResource(),
            "app_database": AppDatabaseResource(),
            "teacher": TeacherResource(),
        }
    )
