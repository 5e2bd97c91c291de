"""Inference with few treated clusters: each method applies to any estimator through its hooks.

- :mod:`~linkseval.inference.base` — the result record (:class:`TestResult`), seeded chunks of
  draws, the CR1 t-test (:func:`cr1`), test inversion and Holm/BH adjustment
  (:func:`adjust_pvalues`, statsmodels' ``multipletests``).
- :mod:`~linkseval.inference.wild` — the wild cluster restricted bootstrap (WCR) for linear
  combinations w'β of one regression (:func:`wild_cluster_bootstrap_terms`).
- :mod:`~linkseval.inference.randomization` — Fisher randomization inference: reassignment of
  the programme, seeded chunks that scatter and gather exactly, and :func:`ri_test`, which turns
  any estimator's reassigned statistics into a p-value and a CI by test inversion.
- :mod:`~linkseval.inference.registry` — the methods by name (``analytic``, ``wild_bootstrap``,
  ``randomization``), each a function of a fitted estimator (:mod:`linkseval.estimators`).

Every public name is importable from here, as before the split.
"""

from linkseval.inference.base import (
    CHUNK,
    TestResult,
    _invert,
    _unbounded,
    adjust_pvalues,
    chunk_seed,
    chunk_seeds,
    cr1,
    n_chunks,
    wald_test,
)
from linkseval.inference.randomization import (
    RI_ARRAYS,
    RIStatistics,
    RITStatistics,
    RIUnits,
    _ri_pieces,
    event_ri_t_statistics,
    group_sum,
    randomization_inference,
    ri_chunk,
    ri_coefficients,
    ri_draws,
    ri_event_coefficients,
    ri_event_statistics,
    ri_event_study,
    ri_gather,
    ri_sample,
    ri_t_test,
    ri_test,
    ri_units,
    sample_units,
    twfe_ri_statistics,
    twfe_ri_t_statistics,
)
from linkseval.inference.wild import (
    DRAW_CACHE_BYTES,
    RADEMACHER,
    WEBB,
    _Block,
    _block_product,
    _blocks,
    _cluster_grams,
    _term_cols,
    _wild_p,
    _wild_pieces,
    _wild_pieces_many,
    wild_cluster_bootstrap,
    wild_cluster_bootstrap_terms,
    wild_weights,
)

__all__ = [
    "event_ri_t_statistics",
    "CHUNK",
    "DRAW_CACHE_BYTES",
    "RADEMACHER",
    "RIStatistics",
    "RITStatistics",
    "RIUnits",
    "RI_ARRAYS",
    "TestResult",
    "WEBB",
    "_Block",
    "_block_product",
    "_blocks",
    "_cluster_grams",
    "_invert",
    "_ri_pieces",
    "_term_cols",
    "_unbounded",
    "_wild_p",
    "_wild_pieces",
    "_wild_pieces_many",
    "adjust_pvalues",
    "chunk_seed",
    "chunk_seeds",
    "cr1",
    "group_sum",
    "n_chunks",
    "randomization_inference",
    "ri_chunk",
    "ri_coefficients",
    "ri_draws",
    "ri_event_coefficients",
    "ri_event_statistics",
    "ri_event_study",
    "ri_gather",
    "ri_sample",
    "ri_t_test",
    "ri_test",
    "ri_units",
    "sample_units",
    "twfe_ri_statistics",
    "twfe_ri_t_statistics",
    "wald_test",
    "wild_cluster_bootstrap",
    "wild_cluster_bootstrap_terms",
    "wild_weights",
]
