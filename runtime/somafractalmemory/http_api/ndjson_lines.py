"""The lines of an NDJSON body, followed as its chunks arrive: a line past the limit is found while it is
being received, so no reader ever has to hold it whole."""


class LineLengths:
    def __init__(self, limit: int) -> None:
        self.limit = limit  # bytes of a line, its newline included
        self._line = 1
        self._length = 0  # bytes of the current line received so far

    def feed(self, chunk: bytes) -> int | None:
        """The number (from 1) of the first line longer than the limit, once this chunk shows it."""
        if self._length + len(chunk) <= self.limit:  # no line can pass the limit in this chunk
            last = chunk.rfind(b"\n")
            if last == -1:
                self._length += len(chunk)
            else:
                self._line += chunk.count(b"\n")
                self._length = len(chunk) - last - 1
            return None
        start = 0
        while (end := chunk.find(b"\n", start)) != -1:
            if self._length + end - start + 1 > self.limit:
                return self._line
            self._line += 1
            self._length = 0
            start = end + 1
        self._length += len(chunk) - start
        return self._line if self._length > self.limit else None
