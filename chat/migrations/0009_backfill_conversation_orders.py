"""Orders placed before attribution was recorded keep the rule the figures used to apply when
read: the customer's latest conversation started within 7 days before the order ("same
customer"). Without this the 30-day figures would drop to nothing for a month after the upgrade."""
import datetime

from django.db import migrations
from django.db.models import OuterRef, Subquery

WINDOW = datetime.timedelta(days=7)  # selectors.ATTRIBUTION_DAYS when this was written
BATCH = 2000


def backfill(apps, schema_editor):
    using = schema_editor.connection.alias
    Conversation = apps.get_model("chat", "Conversation")
    ConversationOrder = apps.get_model("chat", "ConversationOrder")
    Order = apps.get_model("orders", "Order")
    latest = (Conversation.objects.using(using)
              .filter(customer_id=OuterRef("customer_id"), created_at__lte=OuterRef("created_at"),
                      created_at__gte=OuterRef("created_at") - WINDOW)
              .order_by("-created_at", "-pk").values("pk")[:1])
    pairs = (Order.objects.using(using).filter(customer__isnull=False, chat_attribution__isnull=True)
             .annotate(conversation_id=Subquery(latest)).filter(conversation_id__isnull=False)
             .values_list("pk", "conversation_id").order_by("pk"))
    rows = [ConversationOrder(order_id=order_id, conversation_id=conversation_id, how="same_customer")
            for order_id, conversation_id in pairs.iterator(chunk_size=BATCH)]
    ConversationOrder.objects.using(using).bulk_create(rows, batch_size=BATCH)


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0008_trigger_min_cart_value"),
    ]

    operations = [migrations.RunPython(backfill, migrations.RunPython.noop)]
