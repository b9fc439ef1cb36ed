"""Exceptions shared by the whole package.

`InputError` is what a user sees when their input is wrong: one sentence that names the file,
key or value at fault.  The command line turns it into exit status 2 and one line on stderr;
anything else escaping is a bug and keeps its traceback.
"""

from __future__ import annotations


#: Exit status of a job stopped by a pre-emption signal (SIGTERM/SIGUSR1) whose state is saved, or
#: that had not started yet: rerunning the same command continues.  75 = EX_TEMPFAIL (sysexits.h).
EXIT_PREEMPTED = 75


class InputError(ValueError):
    """Bad input from the user (shape, label, config key, file).  The message is one sentence."""


class SecondPassRequired(RuntimeError):
    """A streaming result was requested that needs a second pass over the data that did not happen."""
