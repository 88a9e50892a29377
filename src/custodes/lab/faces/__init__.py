"""Face evaluation: LFW-format pairs, cached embeddings, fused scores, calibration fitting, `eval faces`.
Nothing here runs in a check-in; the engine lives in `custodes.biometrics`."""
