"""A local SMTP sink for the delivery benchmark, in its own process: accepts and counts.

Run: python -m bench.smtp_sink PORT   (prints "ready" when listening; stops at the end of its input)
"""

from __future__ import annotations

import sys

from aiosmtpd.controller import Controller


class Counter:
    def __init__(self) -> None:
        self.messages = 0
        self.bytes = 0

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages += 1
        self.bytes += len(envelope.original_content or b"")
        return "250 2.0.0 accepted"


def main() -> None:
    port = int(sys.argv[1])
    counter = Counter()
    controller = Controller(
        counter, hostname="127.0.0.1", port=port, data_size_limit=10 * 1024 * 1024
    )
    controller.start()
    print("ready", flush=True)
    try:
        for line in sys.stdin:  # "count" asks how many arrived; end of input stops
            if line.strip() == "count":
                print(counter.messages, flush=True)
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
