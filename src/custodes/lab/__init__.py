"""The lab: benchmarks, evaluations, model training and workload generators, with their commands.
The runtime (API, pipeline, runner) never imports this package; only the CLI and tests do."""
