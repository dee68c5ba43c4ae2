"""Search spaces (YAML DSL) and genotypes (JSON) of attention cells."""

from nas.space.genotype import (
    GENOTYPE_SCHEMA,
    MODEL_SCHEMA,
    Combine,
    Genotype,
    ModelGenotype,
    OpInput,
    OpSpec,
    Preprocess,
    as_model_genotype,
    load_genotype,
    load_model_genotype,
    read_genotype,
)
from nas.space.space import SearchSpace, load_space

__all__ = [
    "GENOTYPE_SCHEMA",
    "MODEL_SCHEMA",
    "Combine",
    "Genotype",
    "ModelGenotype",
    "OpInput",
    "OpSpec",
    "Preprocess",
    "SearchSpace",
    "as_model_genotype",
    "load_genotype",
    "load_model_genotype",
    "load_space",
    "read_genotype",
]
