"""Training: synthetic character data from the rig, folder datasets, losses, metrics, baselines.

Layering: may import core, io, models, infer, rig, raster (never pipeline, gui or cli).
"""
