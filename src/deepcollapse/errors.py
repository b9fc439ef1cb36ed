"""Exceptions shared by the whole package.

`InputError` is what a user sees when their input is wrong: one sentence that names the file,
key or value at fault.  The command line turns it into exit status 2 and one line on stderr;
anything else escaping is a bug and keeps its traceback.
"""

from __future__ import annotations

import reprlib


#: Exit status of a job stopped by a pre-emption signal (SIGTERM/SIGUSR1) whose state is saved, or
#: that had not started yet: rerunning the same command continues.  75 = EX_TEMPFAIL (sysexits.h).
EXIT_PREEMPTED = 75


class InputError(ValueError):
    """Bad input from the user (shape, label, config key, file).  The message is one sentence."""


class SecondPassRequired(RuntimeError):
    """A streaming result was requested that needs a second pass over the data that did not happen."""


#: The longest quotation of a value in an error message: a value is the user's (a YAML list of a
#: million seeds, an alias bomb), and formatting all of it would take longer than the job.
QUOTE_LIMIT = 80


def shown(value: object) -> str:
    """`repr(value)` for an error message, cut to QUOTE_LIMIT characters without formatting the rest.

    `reprlib` looks at the first few items of each container only, so a nested list of 9⁹
    entries is quoted as fast as a short one.
    """
    quoter = reprlib.Repr()
    quoter.maxlevel, quoter.maxlist, quoter.maxtuple, quoter.maxdict, quoter.maxset = 3, 6, 6, 4, 6
    quoter.maxstring, quoter.maxother, quoter.maxlong = QUOTE_LIMIT, QUOTE_LIMIT, 40
    text = quoter.repr(value)
    return text if len(text) <= QUOTE_LIMIT else text[: QUOTE_LIMIT - 3] + "..."
