"""Django's deprecation warnings are errors in every cell of the matrix, the newest included.

pyproject.toml turns DeprecationWarning and PendingDeprecationWarning into errors; Django's
RemovedInDjango* classes derive from them, whatever release they name. A Django whose warning
classes stopped deriving from those would let deprecations pass silently: this fails first.
"""

from __future__ import annotations

import warnings

import pytest
from django.utils import deprecation

REMOVED_IN = [
    getattr(deprecation, name) for name in dir(deprecation) if name.startswith("RemovedIn")
]


def test_django_has_removal_warnings():
    assert REMOVED_IN


@pytest.mark.parametrize("category", REMOVED_IN, ids=lambda category: category.__name__)
def test_a_django_deprecation_warning_is_an_error(category):
    with pytest.raises(category):
        warnings.warn("this API goes away", category, stacklevel=1)
