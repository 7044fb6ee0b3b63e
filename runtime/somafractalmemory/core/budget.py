"""Work budgets: the most one request may ask of the server. Beyond a budget the request is refused
with a message naming the bound and its setting (400), before anything is written."""

from dataclasses import dataclass

from somafractalmemory.core.errors import InvalidInput

DEFAULT_BULK_ITEMS = 10_000
DEFAULT_BATCH_RESULTS = 10_000
DEFAULT_SCAN_ROWS = 10_000


@dataclass(frozen=True, slots=True)
class WorkBudget:
    bulk_items: int = DEFAULT_BULK_ITEMS  # memories in one bulk store
    batch_results: int = DEFAULT_BATCH_RESULTS  # queries x top_k of one batch of recalls
    scan_rows: int = DEFAULT_SCAN_ROWS  # rows one keyword search, coordinate range or path search examines

    def check_bulk(self, count: int) -> None:
        if count > self.bulk_items:
            raise InvalidInput(
                f"{count} items in one request is more than the budget of {self.bulk_items} "
                "(SOMA_MAX_BULK_ITEMS): split them into several requests"
            )

    def check_batch(self, queries: int, top_k: int) -> None:
        if queries * top_k > self.batch_results:
            raise InvalidInput(
                f"{queries} queries of top_k {top_k} ask for {queries * top_k} results, more than the "
                f"budget of {self.batch_results} (SOMA_MAX_BATCH_RESULTS): ask for fewer queries or a "
                "smaller top_k"
            )

    def scan_exceeded(self, what: str) -> InvalidInput:
        return InvalidInput(
            f"{what}: more than the budget of {self.scan_rows} rows to examine (SOMA_MAX_SCAN_ROWS); "
            "narrow the request"
        )


DEFAULT_BUDGET = WorkBudget()
