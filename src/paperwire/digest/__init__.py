"""Email digests: who gets what (compose), how it looks (render), delivery (mail, runner).

Delivery guarantee, in one place
--------------------------------
Composing writes each digest to the outbox (``digest_outbox``) in the same transaction
that reserves its papers for the subscriber, under the idempotency key UNIQUE(subscriber,
period): re-running a period never composes a second digest and never offers a paper twice.

The sender drains the outbox one message at a time:

1. *claim*: one transaction moves the row to ``sending`` with a lease and attempts + 1,
   only if it is still due and the subscriber is still active (an unsubscribe cancels
   undelivered rows, and a claim re-checks the subscriber);
2. hand the message to SMTP with a Message-ID derived from the idempotency key (the same
   on every attempt);
3. record the outcome: ``sent`` (2xx), ``retrying`` with exponential backoff (4xx,
   connection errors), ``failed`` with the server's reply (5xx, or out of attempts).

A crash before step 2 completes leaves a ``sending`` row that was never accepted; a crash
after the server answered 250 but before step 3 leaves the same state, and SMTP offers no
way to ask a server whether it has a message. So for that one window the choice is
explicit (``digest_resend_interrupted``): by default the row is re-sent when its lease
expires - at-least-once for that window, every other path exactly-once - with the *same*
Message-ID, so the receiving side (mail servers, clients, our tests) dedupes it;
with the setting off the row is marked ``failed`` instead (at-most-once: nothing is ever
duplicated, but a digest caught in that window may be lost). Two concurrent runs never
send the same row: the claim is a conditional UPDATE and the lease keeps others off it.
"""
