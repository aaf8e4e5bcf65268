"""Human A/B preference survey between two models."""

from .core import create_survey, get_survey, list_surveys, record_vote, survey_results

__all__ = ["create_survey", "get_survey", "list_surveys", "record_vote", "survey_results"]
