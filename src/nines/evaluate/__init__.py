"""The StoryWorld evaluation of a filter, its measurement sections and the HTML report.

The estimators themselves live in :mod:`nines.stats`.
"""
