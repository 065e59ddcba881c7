"""The injury classifier: protocol, fine-tuning, calibration and threshold choice."""

from nines.classify.base import Classifier

__all__ = ["Classifier"]
