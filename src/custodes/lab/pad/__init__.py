"""Presentation-attack detection in the lab: training the passive model, `eval pad`, `bench liveness`.
The runtime liveness decision lives in `custodes.biometrics.liveness`."""
