"""The web app's confirmation sender: a thread that sends the queued confirmation mails
(``send_pending_confirmations``) when a subscribe request nudges it, and once at start
for what an earlier run left queued. Requests never wait for mail."""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from digest.deliver.confirm import send_pending_confirmations

if TYPE_CHECKING:
    from digest.web.site import Site

log = logging.getLogger(__name__)


class ConfirmationSender:
    def __init__(self, site: Site) -> None:
        self.site = site
        self.cond = threading.Condition()
        self.asked = 0  # nudges so far
        self.done = 0  # nudges answered by a finished drain
        self.running = False
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        with self.cond:
            if self.running:
                return
            self.running = True
            self.asked += 1  # what an earlier run left queued
        self.thread = threading.Thread(target=self._run, name="confirmations", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        with self.cond:
            self.running = False
            self.cond.notify_all()
        if self.thread is not None:
            self.thread.join()
            self.thread = None

    def nudge(self) -> None:
        """Ask for a drain; starts the thread if the server runs without lifespan events."""
        with self.cond:
            self.asked += 1
            self.cond.notify_all()
            started = self.running
        if not started:
            self.start()

    def settle(self, timeout: float = 60.0) -> None:
        """Wait until every nudge so far is answered (tests, and a clean shutdown)."""
        with self.cond:
            target = self.asked
            self.cond.wait_for(lambda: self.done >= target or not self.running, timeout)

    def _run(self) -> None:
        while True:
            with self.cond:
                self.cond.wait_for(lambda: self.asked > self.done or not self.running)
                if not self.running:
                    return
                target = self.asked
            self._drain()
            with self.cond:
                self.done = target
                self.cond.notify_all()

    def _drain(self) -> None:
        site = self.site
        try:
            done = send_pending_confirmations(
                site.settings, site.store, site.transport, site.tokens, site.clock(), site.renderer
            )
        except Exception:  # the thread must outlive any one failure; the queue keeps the mail
            log.exception("sending the queued confirmations failed")
        else:
            for subscriber, result in done:
                if result.status != "sent":
                    log.warning("confirmation to %s not sent: %s", subscriber.email, result.detail)
            if done:
                sent = sum(result.status == "sent" for _, result in done)
                log.info("confirmations: %d sent, %d not sent", sent, len(done) - sent)
