"""The staff inbox in the back office.

- The conversation list is the inbox: tabs by status (open, waiting on the customer, resolved),
  unassigned, with the assistant, mine; by channel; unread counts and waiting time; it refreshes
  itself when anything changes (a live stream of inbox events; `static/js/chat-inbox.js`).
- A conversation's page: its messages (internal notes marked), the customer beside them (orders,
  lifetime value, segment, their cart now, the page they wrote from), a reply form with canned
  replies and placeholders, an internal note, a product card or an order link to send, assign,
  tags, resolve; selling (`actions.py`): a cart built for the shopper (into their cart, or as a
  link that fills it), a discount code, a goodwill gift card. New messages and typing arrive live.
Reading needs `view_conversation` (Support); answering `reply_conversation` (Support); assigning
someone else, editing the FAQ, canned replies, proactive messages and the chat settings (hours,
per-agent limit) are the Support managers'.
"""
from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import render
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext as _

from shop.admin import ReadOnlyAdmin

from . import presence, selectors, services
from .exceptions import ChatError
from .forms import PresenceForm
from .models import WEEKDAYS, CannedReply, Channel, ChatSettings, Conversation, FaqEntry, Message, ProactiveTrigger, Tag

TABS = [
    ("open", _("Open")), ("waiting", _("Waiting on customer")), ("unassigned", _("Unassigned")),
    ("bot", _("With the assistant")), ("mine", _("Mine")), ("resolved", _("Resolved")),
]


def can_reply(user) -> bool:
    return user.has_perm("chat.reply_conversation")


def can_manage(user) -> bool:
    return user.has_perm("chat.manage_chat")


def fill_placeholders(text: str, *, conversation: Conversation, agent) -> str:
    """{first_name}, {agent_name}, {store_name}, {last_order} for this conversation; unknown
    braces stay as typed (format_map is not used: staff text is not a format string)."""
    from django.conf import settings

    customer = conversation.customer
    last_order = ""
    if customer is not None:
        last_order = customer.orders.order_by("-created_at").values_list("number", flat=True).first() or ""
    values = {
        "first_name": (customer.first_name if customer else "") or conversation.name or _("there"),
        "agent_name": getattr(agent, "first_name", "") or agent.get_username(),
        "store_name": settings.STORE_NAME,
        "last_order": last_order,
    }
    for key, value in values.items():
        text = text.replace("{" + key + "}", value)
    return text


def _platform_window(conversation: Conversation) -> dict:
    """WhatsApp/Messenger: whether free text may be sent now (24 hours after the customer's last
    message) and, when not, whether the approved template can."""
    if conversation.channel not in (Channel.WHATSAPP, Channel.MESSENGER):
        return {"platform": False}
    from django.conf import settings

    from .messaging import outbound

    return {"platform": True, "window_open": outbound.window_open(conversation),
            "window_closes_at": outbound.window_closes_at(conversation),
            "template_available": outbound.template_available(conversation),
            "human_agent": outbound.human_agent_allowed(conversation),
            "human_agent_closes_at": outbound.human_agent_closes_at(conversation),
            "messenger_human_agent": conversation.channel == Channel.MESSENGER and settings.MESSENGER_HUMAN_AGENT}


def _sender_privacy_url(request: HttpRequest, conversation: Conversation) -> str:
    """Where staff answer this sender's data request, when no customer holds the conversation."""
    from urllib.parse import urlencode

    from .privacy import sender_of

    if not (request.user.has_perm("customers.export_customer") or request.user.has_perm("customers.delete_customer")):
        return ""
    sender = sender_of(conversation)
    if sender is None:
        return ""
    return reverse("admin:chat_sender_privacy") + "?" + urlencode({"kind": sender.kind, "value": sender.value})


def _selling_tools(user) -> dict:
    """Which of the inbox's selling actions this agent may use (and the promotions to pick from)."""
    from . import actions

    may_discount = actions.can_send_discount(user)
    return {"can_discount": may_discount, "can_gift_card": actions.can_send_gift_card(user),
            "can_draft_order": actions.can_start_draft_order(user),
            "code_promotions": list(actions.code_promotions()) if may_discount else []}


@admin.register(Conversation)
class ConversationAdmin(admin.ModelAdmin):
    list_per_page = 100

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("stream/", wrap(self.inbox_stream_view), name="chat_inbox_stream"),
            path("figures/", wrap(self.figures_view), name="chat_figures"),
            path("presence/", wrap(self.presence_view), name="chat_presence"),
            path("privacy/", wrap(self.privacy_view), name="chat_sender_privacy"),
            path("<int:pk>/stream/", wrap(self.stream_view), name="chat_conversation_stream"),
            path("<int:pk>/messages/", wrap(self.messages_view), name="chat_conversation_messages"),
            path("<int:pk>/act/", wrap(self.act_view), name="chat_conversation_act"),
            path("<int:pk>/typing/", wrap(self.typing_view), name="chat_conversation_typing"),
            path("<int:pk>/attachments/<int:attachment_id>/", wrap(self.attachment_view),
                 name="chat_conversation_attachment"),
            path("<int:pk>/attach/", wrap(self.attach_view), name="chat_conversation_attach"),
            *super().get_urls(),
        ]

    # --- The inbox ------------------------------------------------------------------------

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        tab = request.GET.get("tab", "open")
        tab = tab if tab in dict(TABS) else "open"
        channel = request.GET.get("channel", "")
        channel = channel if channel in Channel.values else ""
        # Mine: everything assigned to me that is not resolved (waiting on the customer too).
        view = "active" if tab == "mine" else tab
        conversations = list(selectors.inbox(view=view, user=request.user, channel=channel, mine=tab == "mine"))
        counts = selectors.inbox_counts(user=request.user)
        away = None
        if can_reply(request.user):
            presence.agent_seen(request.user.pk)
            away = presence.is_away(request.user.pk)
        context = {
            **self.admin_site.each_context(request), "opts": self.opts, "title": _("Chat inbox"),
            "tabs": [(key, label, counts.get(key)) for key, label in TABS], "tab": tab,
            "channels": Channel.choices, "channel": channel, "conversations": conversations,
            "unread_total": counts["unread"], "now": None,
            "stream_url": reverse("admin:chat_inbox_stream"),
            "away": away, "presence_form": PresenceForm(initial={"status": "away" if away else "online"}),
            "presence_url": reverse("admin:chat_presence"),
        }
        template = "admin/chat/_inbox_list.html" if request.GET.get("fragment") else "admin/chat/inbox.html"
        return TemplateResponse(request, template, context)

    def inbox_stream_view(self, request: HttpRequest) -> HttpResponse:
        """Inbox events (a conversation changed) for the list to refresh itself; keeps the agent
        "online" for the round robin while it is open, and hands them queued conversations."""
        from django.conf import settings
        from django.http import StreamingHttpResponse

        from . import assignment, realtime
        from .views import sse

        if not self.has_view_permission(request):
            raise PermissionDenied
        agent_id = request.user.pk if can_reply(request.user) else None
        if agent_id:
            presence.agent_seen(agent_id)
            assignment.assign_queued()

        def events():
            import time

            listener = realtime.listen([realtime.INBOX_CHANNEL])
            try:
                yield "retry: 2000\n\n"
                deadline = time.monotonic() + settings.CHAT_STREAM_SECONDS
                while (remaining := deadline - time.monotonic()) > 0:
                    if agent_id:
                        presence.agent_seen(agent_id)
                    got = listener.get(timeout=min(5.0, remaining))
                    if got:
                        yield sse({"type": "inbox", "ids": [e.get("id") for e in got]}, with_id=False)
                    else:
                        yield ": still here\n\n"
            finally:
                listener.close()

        response = StreamingHttpResponse(events(), content_type="text/event-stream")
        response["Cache-Control"] = "no-cache, no-store, private"
        response["X-Accel-Buffering"] = "no"
        return response

    def presence_view(self, request: HttpRequest) -> HttpResponse:
        """The inbox's Online/Away switch (for agents who answer). Away: no new conversations come
        to them; back online: queued conversations are handed out at once."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not can_reply(request.user):
            raise PermissionDenied
        form = PresenceForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Choose Online or Away."))
        elif form.cleaned_data["status"] == "away":
            presence.set_away(request.user.pk, minutes=form.cleaned_data["away_for"])
            messages.success(request, _("You are away: no new conversations come to you."))
        else:
            from . import assignment

            presence.set_online(request.user.pk)
            assignment.assign_queued()
            messages.success(request, _("You are online."))
        return HttpResponseRedirect(reverse("admin:chat_conversation_changelist"))

    def figures_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_view_permission(request):
            raise PermissionDenied
        context = {**self.admin_site.each_context(request), "opts": self.opts, "title": _("Chat figures"),
                   "figures": selectors.chat_figures(days=30)}
        return TemplateResponse(request, "admin/chat/figures.html", context)

    def privacy_view(self, request: HttpRequest) -> HttpResponse:
        """A chat sender who is not a customer asks for their data or its erasure (`chat/privacy.py`):
        found by their number, Messenger id or email; downloading needs the customers' export right,
        erasing the customers' delete right (Customer managers), as for customers."""
        import json

        from django.core.serializers.json import DjangoJSONEncoder

        from . import privacy

        can_export = request.user.has_perm("customers.export_customer")
        can_erase = request.user.has_perm("customers.delete_customer")
        if not (can_export or can_erase):
            raise PermissionDenied
        data = request.POST if request.method == "POST" else request.GET
        kind, value = data.get("kind", ""), data.get("value", "")
        sender, found, error = None, None, ""
        if kind or value:
            try:
                sender = privacy.sender_from(kind=kind, value=value)
            except ChatError as problem:
                error = str(problem)
            else:
                found = privacy.summary(sender)
        if request.method == "POST" and sender is not None:
            do = request.POST.get("do", "")
            if do == "download":
                if not can_export:
                    raise PermissionDenied
                payload = privacy.export_sender_data(sender=sender, actor=request.user)
                response = HttpResponse(json.dumps(payload, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False),
                                        content_type="application/json")
                response["Content-Disposition"] = f'attachment; filename="chat-{sender.kind}-data.json"'
                response["Cache-Control"] = "no-store"
                return response
            if do == "erase":
                if not can_erase:
                    raise PermissionDenied
                if request.POST.get("confirm") != "yes":
                    error = _("Tick the box to confirm: the conversations cannot be restored.")
                else:
                    count = privacy.erase_sender(sender=sender, actor=request.user,
                                                 reason=request.POST.get("reason", "").strip()[:300])
                    messages.success(request, _("%(count)d conversation(s) of this sender erased, with their "
                                                "messages and files.") % {"count": count})
                    return HttpResponseRedirect(reverse("admin:chat_sender_privacy"))
            elif do:
                error = _("Unknown action.")
        context = {
            **self.admin_site.each_context(request), "opts": self.opts,
            "title": _("Chat data of a sender who is not a customer"), "kinds": privacy.KINDS,
            "kind": kind, "value": value, "sender": sender, "found": found, "error": error,
            "can_export": can_export, "can_erase": can_erase,
        }
        return TemplateResponse(request, "admin/chat/sender_privacy.html", context)

    # --- One conversation -----------------------------------------------------------------

    def _conversation(self, request: HttpRequest, pk) -> Conversation:
        if not self.has_view_permission(request):
            raise PermissionDenied
        conversation = Conversation.objects.select_related("customer", "assignee").filter(pk=pk).first()
        if conversation is None:
            raise Http404
        return conversation

    def change_view(self, request: HttpRequest, object_id, form_url="", extra_context=None) -> HttpResponse:
        try:
            pk = int(object_id)
        except ValueError:
            raise Http404 from None
        conversation = self._conversation(request, pk)
        thread = selectors.staff_messages(conversation=conversation)
        if thread and can_reply(request.user):
            services.mark_seen(conversation=conversation, by="agent", up_to_id=thread[-1].pk)
            presence.agent_seen(request.user.pk)
        from .assignment import agents_who_answer

        context = {
            **self.admin_site.each_context(request), "opts": self.opts, "original": conversation,
            "title": str(conversation), "conversation": conversation, "thread": thread,
            "last_id": thread[-1].pk if thread else 0, "panel": selectors.customer_panel(conversation=conversation),
            "orders_after": selectors.orders_after(conversation),
            "waiting": selectors.waiting_for(conversation), "can_reply": can_reply(request.user),
            "can_manage": can_manage(request.user), "canned": list(CannedReply.objects.all()),
            "agents": list(agents_who_answer()) if can_manage(request.user) else [],
            "tags": ", ".join(conversation.tags.values_list("name", flat=True)),
            "act_url": reverse("admin:chat_conversation_act", args=[conversation.pk]),
            "stream_url": reverse("admin:chat_conversation_stream", args=[conversation.pk]),
            "messages_url": reverse("admin:chat_conversation_messages", args=[conversation.pk]),
            "typing_url": reverse("admin:chat_conversation_typing", args=[conversation.pk]),
            "attach_url": reverse("admin:chat_conversation_attach", args=[conversation.pk]),
            "privacy_url": _sender_privacy_url(request, conversation),
            **_platform_window(conversation),
            **_selling_tools(request.user),
        }
        return TemplateResponse(request, "admin/chat/conversation.html", context)

    def stream_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        from .views import stream_response

        conversation = self._conversation(request, pk)
        return stream_response(request, conversation, staff=True)

    def messages_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The messages after `?after=`, as the page's list items (the live stream's catch-up)."""
        conversation = self._conversation(request, pk)
        try:
            after = max(0, int(request.GET.get("after", 0)))
        except ValueError:
            after = 0
        thread = selectors.staff_messages(conversation=conversation, after=after)
        if thread and can_reply(request.user):
            services.mark_seen(conversation=conversation, by="agent", up_to_id=thread[-1].pk)
        return render(request, "admin/chat/_messages.html", {"thread": thread})

    def typing_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        conversation = self._conversation(request, pk)
        if not can_reply(request.user):
            raise PermissionDenied
        services.typing(conversation=conversation, by="agent")
        return HttpResponse(status=204)

    def attachment_view(self, request: HttpRequest, pk: int, attachment_id: int) -> HttpResponse:
        """A file of this conversation, for staff who may read it (internal notes' files too)."""
        from . import attachments
        from .models import Attachment

        conversation = self._conversation(request, pk)
        found = Attachment.objects.filter(pk=attachment_id, conversation=conversation).first()
        if found is None:
            raise Http404
        return attachments.response_for(found)

    def attach_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Staff send an image or PDF (with an optional text) to a web or email conversation."""
        from . import attachments

        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        conversation = self._conversation(request, pk)
        if not can_reply(request.user):
            raise PermissionDenied
        upload = request.FILES.get("file")
        try:
            if upload is None:
                raise ChatError(_("Choose a file to send."))
            checked = attachments.check_upload(upload)
            attachments.add_with_attachment(conversation=conversation, checked=checked, sender="agent",
                                            author=request.user, text=request.POST.get("body", ""))
        except ChatError as error:
            messages.error(request, str(error))
        return HttpResponseRedirect(reverse("admin:chat_conversation_change", args=[conversation.pk]))

    def act_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """Every button of the conversation page posts here with `do`: reply, note, card, order,
        cart_add, cart_link, discount, gift_card, draft_order, template, resend, assign, tags, resolve. Each needs
        `reply_conversation`; assigning another agent needs `manage_chat`; a discount code
        `promotions.change_promotion`, a gift card `giftcards.add_giftcard` and a draft order
        `stafforders.add_draftorder` (`actions.py`; the draft's page comes next)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        conversation = self._conversation(request, pk)
        if not can_reply(request.user):
            raise PermissionDenied
        do = request.POST.get("do", "")
        back = HttpResponseRedirect(reverse("admin:chat_conversation_change", args=[conversation.pk]))
        wants_json = request.headers.get("Accept") == "application/json"
        try:
            then = self._act(request, conversation, do)
        except ChatError as error:
            if wants_json:
                return HttpResponse(str(error), status=400, content_type="text/plain")
            messages.error(request, str(error))
            then = None
        if wants_json:
            return HttpResponse(status=204)
        return HttpResponseRedirect(then) if then else back

    def _act(self, request: HttpRequest, conversation: Conversation, do: str) -> str | None:
        """Do `do`; the address to go to next when it is not back to the conversation."""
        user = request.user
        post = request.POST
        if do in ("reply", "note"):
            body = post.get("body", "")
            canned = post.get("canned", "")
            if canned and not body.strip():
                reply = CannedReply.objects.filter(shortcut=canned).first()
                body = reply.body if reply else ""
            body = fill_placeholders(body, conversation=conversation, agent=user)
            services.add_agent_message(conversation=conversation, author=user, body=body, is_note=do == "note")
        elif do == "card":
            from catalog.models import Product, Variant
            from catalog.selectors import with_card_data

            from .payloads import product_card

            slug = post.get("product", "").strip().rstrip("/").rsplit("/", 1)[-1]
            product = with_card_data(Product.objects.published().filter(slug=slug)).first()
            if product is None:
                raise ChatError(_("No published product with that address or slug."))
            # A product with one variant goes to the cart from the shopper's chat; with several,
            # they choose on its page.
            variants = list(Variant.objects.filter(product=product, is_active=True).values_list("pk", flat=True)[:2])
            services.add_agent_message(
                conversation=conversation, author=user, body=post.get("body", "").strip() or product.title,
                payload={"cards": [product_card(product, variant_id=variants[0] if len(variants) == 1 else None)]},
            )
        elif do == "order":
            from orders.models import Order

            from .assistant import order_card

            order = Order.objects.filter(number=post.get("order", "").strip().upper(),
                                         customer__isnull=False, customer=conversation.customer).first()
            if order is None:
                raise ChatError(_("That is not one of this customer's orders."))
            services.add_agent_message(
                conversation=conversation, author=user, body=_("Your order %(number)s") % {"number": order.number},
                payload={"orders": [order_card(order, signed=True)]},
            )
        elif do == "assign":
            target = post.get("agent", "")
            if target == "me":
                agent = user
            elif target == "":
                agent = None
            else:
                if not can_manage(user):
                    raise PermissionDenied
                from .assignment import agents_who_answer

                agent = agents_who_answer().filter(pk=target).first() if target.isdigit() else None
                if agent is None:
                    raise ChatError(_("That person cannot answer chat."))
            if agent is None and conversation.assignee_id not in (None, user.pk) and not can_manage(user):
                raise PermissionDenied
            services.assign(conversation=conversation, agent=agent, by=user)
        elif do in ("cart_add", "cart_link"):
            from . import actions

            lines = actions.parse_cart_lines(post.get("lines", ""))
            if do == "cart_add":
                actions.add_to_shopper_cart(conversation=conversation, author=user, lines=lines)
            else:
                actions.send_cart_link(conversation=conversation, author=user, lines=lines)
        elif do == "discount":
            from . import actions

            actions.send_discount_code(conversation=conversation, author=user, promotion_id=post.get("promotion", ""))
        elif do == "gift_card":
            from . import actions

            actions.send_gift_card(conversation=conversation, author=user, amount=post.get("amount", ""),
                                   reason=post.get("reason", ""))
        elif do == "draft_order":
            from . import actions

            draft = actions.start_draft_order(conversation=conversation, author=user)
            return reverse("admin:stafforders_draftorder_change", args=[draft.pk])
        elif do == "template":
            from .messaging import outbound

            outbound.send_template(conversation=conversation, author=user)
        elif do == "resend":
            from .messaging import outbound

            if outbound.resend(conversation=conversation, message_id=post.get("message", ""),
                               failure=post.get("failure", ""), by=user):
                messages.success(request, _("Sending it again."))
            else:
                messages.info(request, _("That file was already sent again."))
        elif do == "tags":
            services.set_tags(conversation=conversation, names=post.get("tags", "").split(","))
        elif do == "resolve":
            services.resolve(conversation=conversation, by=user)
        else:
            raise ChatError(_("Unknown action."))


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["conversation", "sender", "body", "is_note", "created_at"]
    list_select_related = ["conversation"]
    list_per_page = 100


@admin.register(FaqEntry)
class FaqEntryAdmin(admin.ModelAdmin):
    list_display = ["question", "is_active", "times_used", "updated_at"]
    search_fields = ["question", "variants", "answer"]
    list_filter = ["is_active"]

    def get_urls(self):
        return [
            path("unanswered/", self.admin_site.admin_view(self.unanswered_view), name="chat_faqentry_unanswered"),
            *super().get_urls(),
        ]

    def unanswered_view(self, request: HttpRequest) -> HttpResponse:
        """What the assistant could not answer, grouped and counted, each with a link to a new FAQ
        entry filled in with the ways it was asked."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        from urllib.parse import urlencode

        groups = selectors.unanswered_questions()
        add_url = reverse("admin:chat_faqentry_add")
        rows = [{"group": g, "add_url": f"{add_url}?" + urlencode({"question": g.example[:200],
                                                                   "variants": "\n".join(g.variants[1:])})}
                for g in groups]
        context = {**self.admin_site.each_context(request), "opts": self.opts, "rows": rows,
                   "title": _("Questions the assistant could not answer"),
                   "can_add": self.has_add_permission(request)}
        return TemplateResponse(request, "admin/chat/unanswered.html", context)


@admin.register(CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    list_display = ["shortcut", "body"]
    search_fields = ["shortcut", "body"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(ProactiveTrigger)
class ProactiveTriggerAdmin(admin.ModelAdmin):
    list_display = ["name", "page_type", "seconds_on_page", "min_cart_items", "min_cart_value", "returning_only",
                    "is_active"]
    list_filter = ["is_active", "page_type"]


@admin.register(ChatSettings)
class ChatSettingsAdmin(admin.ModelAdmin):
    """One row: Support managers' opening hours and per-agent limit. Until it is first saved the
    environment applies, and the add form starts from its values (`config.environment_initial`)."""

    fieldsets = [
        (_("Opening hours (the store's time zone; leave a day empty when nobody answers)"), {
            "fields": ["always_open", *[(f"{day}_opens", f"{day}_closes") for day in WEEKDAYS]]}),
        (_("Assignment"), {"fields": ["agent_limit"]}),
    ]

    def has_add_permission(self, request) -> bool:
        return super().has_add_permission(request) and not ChatSettings.objects.filter(pk=1).exists()

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_changeform_initial_data(self, request) -> dict:
        from .config import environment_initial

        return environment_initial()

    def save_model(self, request, obj, form, change) -> None:
        obj.pk = 1
        super().save_model(request, obj, form, change)

    def changelist_view(self, request: HttpRequest, extra_context=None) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        if ChatSettings.objects.filter(pk=1).exists():
            return HttpResponseRedirect(reverse("admin:chat_chatsettings_change", args=[1]))
        if not self.has_add_permission(request):
            raise PermissionDenied
        return HttpResponseRedirect(reverse("admin:chat_chatsettings_add"))
