"""Recommendations ("For you"): a per-reader model over the corpus' tf-idf and embeddings.

corpus.py (features, pure) · model.py (training and scoring, pure) · explain.py (reasons) ·
ranker.py (the Recommender: cache, cold start) · source.py (features of a Store, kept current).
"""

from paperwire.recommend.model import DEFAULT_CONFIG, ModelConfig
from paperwire.recommend.ranker import Recommender

__all__ = ["DEFAULT_CONFIG", "ModelConfig", "Recommender"]
