"""Domain errors. Each message says what is wrong and how to fix it."""


class QAError(Exception):
    """Base class for errors a user can act on."""


class CorpusInvalid(QAError):
    """The corpus failed validation; ``problems`` lists every problem found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        shown = "\n".join(problems[:50])
        more = f"\n… and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(
            f"corpus has {len(problems)} problem(s):\n{shown}{more}\nFix them and run `qa corpus validate`."
        )


class ModelUnavailable(QAError):
    """The embedding model cannot be loaded without a network."""


class IndexProblem(QAError):
    """An index build that cannot be served."""


class IndexMissing(IndexProblem):
    """There is no built index where the settings point."""


class IndexMismatch(IndexProblem):
    """The index on disk does not match the model, corpus or qa version in use."""


class IndexCorrupt(IndexProblem):
    """Index files are missing, truncated or inconsistent."""


class EntryNotFound(QAError):
    """No entry has the requested id."""


class UnknownCategory(QAError):
    """A category filter names a category the corpus does not have."""


class PolicyNotFound(QAError):
    """No policy in the registry has the requested id."""
