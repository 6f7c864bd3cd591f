import factory
from factory.django import DjangoModelFactory

from chat import models


class ConversationFactory(DjangoModelFactory):
    class Meta:
        model = models.Conversation

    visitor_key = factory.Sequence(lambda n: f"visitor-{n:06d}")


class FaqEntryFactory(DjangoModelFactory):
    class Meta:
        model = models.FaqEntry

    question = "What is your returns policy?"
    variants = "Can I return an item?\nHow do I send something back?"
    answer = "You can return anything unworn within 30 days: https://example.com/returns"
