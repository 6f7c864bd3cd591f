from decimal import Decimal

import factory

from promotions.models import Code, Promotion


class PromotionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Promotion

    name = factory.Sequence(lambda n: f"Promotion {n}")
    reward = Promotion.Reward.PERCENT_LINES
    value = Decimal("10")


class CodeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Code

    promotion = factory.SubFactory(PromotionFactory, trigger=Promotion.Trigger.CODE)
    code = factory.Sequence(lambda n: f"CODE{n}")
