"""Query cropping: find where the product is in a shopper's photo before searching."""

from .registry import Cropper, Region, create_cropper, is_cropper, list_croppers, register_cropper
from .search import AUTO, find_regions, parse_crop, regions_to_dict, search_with_crop

__all__ = ["AUTO", "Cropper", "Region", "create_cropper", "find_regions", "is_cropper", "list_croppers",
           "parse_crop", "regions_to_dict", "register_cropper", "search_with_crop"]
