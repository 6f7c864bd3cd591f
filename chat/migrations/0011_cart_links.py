"""Cart links get a row of their own (`CartLink`), found by the SHA-256 of the link's token
through an index; the links agents sent before are given theirs here, from the agent messages
that carry the link's path (`payload.cart.url`, "/chat/cart/<token>/"), so a link sent last week
still attributes its order."""
import hashlib

import django.db.models.deletion
from django.db import migrations, models

BATCH = 2000
PREFIX = "/chat/cart/"


def backfill(apps, schema_editor):
    using = schema_editor.connection.alias
    Message = apps.get_model("chat", "Message")
    CartLink = apps.get_model("chat", "CartLink")
    sent = (Message.objects.using(using)
            .filter(sender="agent", payload__cart__url__startswith=PREFIX, cart_link__isnull=True)
            .values_list("pk", "conversation_id", "payload").order_by("pk"))
    rows = []
    for message_id, conversation_id, payload in sent.iterator(chunk_size=BATCH):
        token = str(payload["cart"]["url"])[len(PREFIX):].rstrip("/")
        if token:
            rows.append(CartLink(key=hashlib.sha256(token.encode()).hexdigest(), conversation_id=conversation_id,
                                 message_id=message_id))
    CartLink.objects.using(using).bulk_create(rows, batch_size=BATCH)


class Migration(migrations.Migration):

    dependencies = [
        ('chat', '0010_agent_away'),
    ]

    operations = [
        migrations.CreateModel(
            name='CartLink',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.CharField(db_index=True, editable=False, max_length=64)),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('conversation', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='chat.conversation')),
                ('message', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, related_name='cart_link', to='chat.message')),
            ],
            options={
                'verbose_name': 'cart link',
                'verbose_name_plural': 'cart links',
                'ordering': ['-pk'],
            },
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
