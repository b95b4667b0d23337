"""The service layer: what a run does (ingest, generate, validate, plan, synthesize), as plain
functions that the Prefect tasks and the command line both call. Services may use the backups,
the database, the validations and the rule engine; they never import Prefect flows or the CLI."""
