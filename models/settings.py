"""Defaults that the commands' help shows and the engine uses, in a module that loads no
networks: building the command line (`python main.py --help`) imports this, not torch."""

from __future__ import annotations

REFINE_STEPS = 30  # StyleRefiner steps the editor and `encode` give a photo
MAX_SCENE_ASPECT = 4.0  # a scene wider (or taller) than this is painted at it, stretched: cost grows with width
NET_SIDE = 384  # the look's working size: the command line and exports
# how a look's result is smoothed (models/inference/stylize.py); "feather" is the colour transfer's only
SMOOTHING = ("guided", "feather", "exact", "none")
LOOK_METHODS = ("transfer", "network")  # how a look is made (models/inference/stylize.py)
GENERATE = ("mean", "random", "bank")  # what `eval --generate` draws a mask's styles from
# the texture fill of painted shapes (models/inference/texture_fill.py), chosen by `lab eval-fill`
FILL_PATCH = 7  # patch side, pixels
FILL_GUIDE_WEIGHT = 2.0  # the low-frequency guide's weight against the texture's 1
FILL_ITERATIONS = 3  # PatchMatch sweeps per pyramid level
FILL_COHERENCE = 1.0  # a match continuing a neighbour's counts as twice as close
FILL_SEAM_BLEND = 0.75  # px over which a fill takes the photo's values where it meets its class
FILL_VOTE_SIGMA = 1.5  # px: the vote's weights round each patch's centre (0: the mean)
FILL_ORIENTATION_WEIGHT = 0.1  # the strands' direction's weight in a fill's patch distance (eval-fill --locks)
