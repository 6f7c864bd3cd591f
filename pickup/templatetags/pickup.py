"""`{% pickup_shop location_id as shop %}`: a pick-up location's address and hours from the shared
directory (pickup.selectors.shop_directory: one cache read, no query once cached)."""
from django import template

from ..selectors import shop_info

register = template.Library()


@register.simple_tag
def pickup_shop(location_id):
    return shop_info(location_id)
