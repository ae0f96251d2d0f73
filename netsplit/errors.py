"""The exceptions the library raises on purpose: bad input (what was wrong and what is valid, in one line), and
a run that failed."""


class InputError(ValueError):
    """An invalid argument, option, file or data set; the command line shows it without a traceback.

    >>> from netsplit.models import split_model
    >>> split_model("vgg16", split=(8, 2, 2, 4))
    Traceback (most recent call last):
    netsplit.errors.InputError: a split needs one factor per block (5), got 4: (8, 2, 2, 4)
    """


class DatasetError(InputError):
    """Data is missing, unreadable or inconsistent; the message says what was expected and where we looked."""


class TrainingFailed(RuntimeError):
    """A run that cannot go on honestly: a network trained to no better than chance (never a search's reference),
    or a parent trained again that is not the network its record describes; the message says what and why."""
