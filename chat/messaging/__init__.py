"""WhatsApp Business Cloud API and Messenger: their webhooks in, staff replies out.

- `common.py`: the signature check, the shape every platform's message is read into.
- `whatsapp.py`, `messenger.py`: each platform's settings, payload reading and Graph API calls.
- `inbound.py`: a webhook's messages into conversations (once each, through chat.services).
- `outbound.py`: the 24-hour window and sending a staff reply (a Celery task, after commit).
- `media.py`: files: fetching and checking what customers send, uploading and sending staff's.
- `views.py`: the webhook endpoints.
"""
