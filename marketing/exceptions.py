"""What campaign services refuse, with a message staff can act on (the admin shows it as is)."""


class CampaignError(Exception):
    """The campaign cannot do this now; nothing was changed."""
