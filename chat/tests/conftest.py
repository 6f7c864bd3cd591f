import pytest


@pytest.fixture(autouse=True)
def _isolated_chat_attachments(settings, tmp_path):
    """Chat attachments go to a throw-away private folder, never into var/private."""
    settings.CHAT_ATTACHMENT_ROOT = tmp_path / "private-chat"
