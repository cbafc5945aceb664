"""Queue messages that can never succeed: moved to the dead-letter queue at once, with the reason.

A message whose body breaks a rule would fail the same way on every receive; left to the queue's redrive
policy it would be received ``maxReceiveCount`` times first. The request queue's function sends it to the
dead-letter queue itself, the reason in the ``hngReason`` message attribute (and in its log), and lets
the original go.
"""

from __future__ import annotations

from hng.aws.clients import CONTROL, LazyClient
from hng.errors import Unavailable

REASON_ATTRIBUTE = "hngReason"
SOURCE_ATTRIBUTE = "hngSourceMessageId"
_MAX_REASON = 1_000


class DeadLetters:
    """Sends refused messages to the queue at ``queue_url`` (None: Unavailable, so that the message is
    retried and left to the redrive policy)."""

    def __init__(self, queue_url: str | None) -> None:
        self.queue_url = queue_url
        self._sqs = LazyClient("sqs", CONTROL)

    def send(self, body: str, message_id: str, reason: str) -> None:
        if self.queue_url is None:
            raise Unavailable(
                f"no dead-letter queue (HNG_DEAD_LETTER_QUEUE_URL) for a refused message: {reason}"
            )
        from botocore.exceptions import BotoCoreError, ClientError

        attributes = {
            REASON_ATTRIBUTE: {"DataType": "String", "StringValue": reason[:_MAX_REASON] or "refused"},
            SOURCE_ATTRIBUTE: {"DataType": "String", "StringValue": message_id},
        }
        try:
            self._sqs.get().send_message(
                QueueUrl=self.queue_url, MessageBody=body, MessageAttributes=attributes
            )
        except (BotoCoreError, ClientError) as error:
            raise Unavailable(
                f"could not move message {message_id} to the dead-letter queue: {error}"
            ) from error
