"""The exceptions the library raises for bad input: what was wrong and what is valid, in one line."""


class InputError(ValueError):
    """An invalid argument, option, file or data set; the command line shows it without a traceback.

    >>> from netsplit.models import split_model
    >>> split_model("vgg16", split=(8, 2, 2, 4))
    Traceback (most recent call last):
    netsplit.errors.InputError: a split needs one factor per block (5), got 4: (8, 2, 2, 4)
    """


class DatasetError(InputError):
    """Data is missing, unreadable or inconsistent; the message says what was expected and where we looked."""
