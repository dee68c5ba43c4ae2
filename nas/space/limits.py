"""Upper bounds on every size a user document can set, checked before any work.

They are far above anything the paper or a GPU can use and low enough that no space, genotype
or supergraph within them makes a verb hang or exhaust memory (the README's "Limits" lists them).
"""

MAX_OPS = 12
"""Operations per cell (`cell.num_ops` of a space, `ops` of a genotype); the paper's cells have 4-6."""
MAX_CHOICES = 256
"""Values in one list of choices of a search space."""
MAX_SIZE = 1024
"""Pre-processing height, width and frames of a cell."""
MAX_NODES = 256
"""Attention nodes in a supergraph (all levels together); SG-1 has 12."""
MAX_LEVELS = 16
"""Levels of a supergraph."""
MAX_POSITIONS = 64
"""Cells in one model genotype (insertion points)."""
MAX_CHANNELS = 8192
"""Channels of a feature map an op is built for (`nas flops --op --feature-shape`)."""
MAX_MAP_POSITIONS = 16_384
"""T x H x W of a feature map an op is built for (a map-based op learns a positions x positions map)."""
SEED_MAX = 2**32 - 1
"""Largest seed of any kind (search, training, data): numpy's and torch's seeds fit in 32 bits."""
