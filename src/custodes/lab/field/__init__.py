"""The field simulator (`custodes simulate`): a population of devices replaying real GeoLife trails
against a running platform, with its own ground truth of the alerts it planted."""
