"""Email digests: who gets what (compose), how it looks (render), delivery (runner, over
the shared paperwire.mail); subscriptions and delivery together in digests.Digests.

Delivery guarantee, in one place
--------------------------------
Composing writes each digest to the outbox (``digest_outbox``) in the same transaction
that reserves its papers for the subscriber, under the idempotency key UNIQUE(subscriber,
period): re-running a period never composes a second digest and never offers a paper twice.

The sender drains the outbox one message at a time (several threads, each with its own
reused SMTP connection):

1. *claim*: one conditional UPDATE moves the row to ``sending`` with a lease and
   attempts + 1, only if it is still due and the subscriber is still active (an
   unsubscribe cancels undelivered rows, and the claim re-checks the subscriber);
2. MAIL, RCPT, DATA and the whole message go to the server with a Message-ID derived
   from the idempotency key (the same on every attempt); then ``handed_at`` is committed,
   and only then the final "." that makes the server accept the message is sent;
3. record the outcome: ``sent`` (2xx), ``retrying`` with exponential backoff (4xx,
   connection errors), ``failed`` with the server's reply (5xx, or out of attempts).
   A server that cannot be reached or refuses our login puts the message back without
   counting an attempt and ends the round.

Crashes: a row left in ``sending`` whose lease ran out with ``handed_at`` empty never got
its final "." to the server, so the server discarded it; it is simply sent again -
exactly once. Only a crash in the one round trip between the final "." and recording
``sent`` leaves a message that may or may not have been accepted (SMTP offers no way to
ask a server). For that window the choice is explicit (``digest_resend_interrupted``): by
default it is re-sent with the *same* Message-ID - at-least-once for that window, so a
receiver (mail servers, clients, our tests) dedupes it by Message-ID; with the setting off
it is marked ``failed`` with a reply saying it may have been delivered - at-most-once,
nothing is ever duplicated. Two concurrent runs never send the same row: the claim is a
conditional UPDATE and the lease keeps others off it.
"""
