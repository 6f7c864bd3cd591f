"""The fixed tables the demo catalog is generated from: an outdoor, clothing and home goods store.

Catalog content (names, titles, descriptions) is store data, like what staff would type in the
back office, so it is not marked for translation.
"""
from __future__ import annotations

from dataclasses import dataclass

# (name, slug, children); leaves hold products. Three levels, 38 categories.
CATEGORIES = [
    ("Outdoor", "outdoor", [
        ("Camping", "camping", [
            ("Tents", "tents"), ("Sleeping bags", "sleeping-bags"), ("Camp kitchen", "camp-kitchen"),
        ]),
        ("Hiking", "hiking", [
            ("Backpacks", "backpacks"), ("Trekking poles", "trekking-poles"), ("Headlamps", "headlamps"),
        ]),
    ]),
    ("Clothing", "clothing", [
        ("Jackets", "jackets", [
            ("Rain jackets", "rain-jackets"), ("Insulated jackets", "insulated-jackets"), ("Fleece", "fleece"),
        ]),
        ("Tops", "tops", [("T-shirts", "t-shirts"), ("Base layers", "base-layers"), ("Shirts", "shirts")]),
        ("Bottoms", "bottoms", [("Trousers", "trousers"), ("Shorts", "shorts")]),
        ("Footwear", "footwear", [("Hiking boots", "hiking-boots"), ("Trail shoes", "trail-shoes")]),
        ("Accessories", "accessories", [("Hats", "hats"), ("Gloves", "gloves"), ("Socks", "socks")]),
    ]),
    ("Home", "home", [
        ("Kitchen", "kitchen", [("Mugs & cups", "mugs"), ("Cookware", "cookware")]),
        ("Textiles", "textiles", [("Blankets", "blankets"), ("Cushions", "cushions")]),
        ("Lighting", "lighting", [("Lanterns", "lanterns"), ("Table lamps", "table-lamps")]),
    ]),
]

CATEGORY_DESCRIPTIONS = {
    "outdoor": "Tents, packs and trail gear chosen to last for seasons, not weekends.",
    "clothing": "Layers for wind, rain and everything between, made to be worn hard and mended.",
    "home": "Warm textiles, honest cookware and soft light for the evenings back home.",
}

# (name, slug, families it makes)
BRANDS = [
    ("Northwind", "northwind", {"outdoor", "clothing", "home"}),
    ("Alder & Pine", "alder-pine", {"clothing"}),
    ("Cedar Ridge", "cedar-ridge", {"outdoor", "clothing"}),
    ("Granite Peak", "granite-peak", {"outdoor"}),
    ("Harbour & Hearth", "harbour-hearth", {"home"}),
    ("Kestrel Works", "kestrel-works", {"outdoor"}),
    ("Larchwood", "larchwood", {"home"}),
    ("Meridian Outfitters", "meridian-outfitters", {"clothing", "outdoor"}),
    ("Nordlys", "nordlys", {"clothing"}),
    ("Pathfinder Co.", "pathfinder-co", {"outdoor"}),
    ("Quill & Loom", "quill-loom", {"home"}),
    ("Redfern", "redfern", {"clothing"}),
    ("Saltmarsh", "saltmarsh", {"clothing", "home"}),
    ("Tamarack", "tamarack", {"outdoor"}),
    ("Wildwood", "wildwood", {"outdoor", "home"}),
]

# slug -> (name, swatch, three-letter SKU code)
COLOURS = {
    "black": ("Black", "#1f2124", "BLK"),
    "charcoal": ("Charcoal", "#4a4d52", "CHR"),
    "navy": ("Navy", "#1f3a5f", "NVY"),
    "forest": ("Forest", "#2f5d3a", "FOR"),
    "olive": ("Olive", "#6b7440", "OLV"),
    "rust": ("Rust", "#b4532a", "RST"),
    "sand": ("Sand", "#d9c9a3", "SND"),
    "sky": ("Sky", "#7fb0d6", "SKY"),
    "berry": ("Berry", "#8c2f4f", "BRY"),
    "mustard": ("Mustard", "#d4a02a", "MUS"),
    "stone": ("Stone", "#a9a39a", "STN"),
    "cream": ("Cream", "#f2ede1", "CRM"),
}

# Size scales: (label, slug); option-value positions keep each scale in its natural order.
SIZE_SCALES = {
    "apparel": [("XS", "xs"), ("S", "s"), ("M", "m"), ("L", "l"), ("XL", "xl"), ("XXL", "xxl")],
    "shoes": [(f"EU {n}", f"eu-{n}") for n in range(38, 47)],
    "pack": [("S/M", "s-m"), ("M/L", "m-l")],
    "bag": [("Regular", "regular"), ("Long", "long")],
    "bed": [("Throw", "throw"), ("Double", "double"), ("King", "king")],
}
# Extra price per step up a scale (a king blanket costs more than a throw); others are flat.
SIZE_PRICE_STEP = {"bag": 20, "bed": 45}

MATERIALS = [
    "Recycled polyester", "Ripstop nylon", "Merino wool", "Organic cotton", "Down", "Synthetic insulation",
    "Leather", "Canvas", "Linen", "Stainless steel", "Aluminium", "Titanium", "Carbon fibre", "Cast iron",
    "Enamelled steel", "Ceramic",
]

# (code, name, kind, pickup, address line, postal code, city, country)
LOCATIONS = [
    ("warehouse", "Central warehouse", "warehouse", False, "88 Freight Road", "89502", "Reno", "US"),
    ("shop-harbour-street", "Harbour Street shop", "shop", True, "14 Harbour Street", "98101", "Seattle", "US"),
    ("shop-pine-avenue", "Pine Avenue shop", "shop", True, "210 Pine Avenue", "97205", "Portland", "US"),
]

# The first word of a title: a product line name.
LINE_NAMES = [
    "Summit", "Tarn", "Ridgeline", "Aurora", "Basecamp", "Cascade", "Drift", "Ember", "Fjord", "Glacier",
    "Harbour", "Juniper", "Kettle", "Lumen", "Meadow", "Nimbus", "Outpost", "Pioneer", "Quarry", "Ranger",
    "Sierra", "Timber", "Umbra", "Vale", "Willow", "Yarrow", "Zephyr", "Alder", "Birch", "Cedar", "Dune",
    "Estuary", "Fern", "Granite", "Heath", "Isle", "Larch", "Moraine", "Orchard", "Pine", "Rowan",
    "Thistle", "Upland", "Voyager", "Wren", "Arbor", "Bracken", "Cirrus", "Delta", "Foxglove", "Gale",
    "Haven", "Ibex", "Jasper", "Lichen", "Marlow", "Ptarmigan", "Redwood", "Solstice", "Tundra", "Vista",
    "Yukon", "Bramble", "Corrie", "Eider", "Fell", "Gorse", "Heron", "Kelp", "Loch", "Moss", "Nettle",
]


@dataclass(frozen=True)
class ProductType:
    key: str  # also the stem of its demo pictures
    category: str  # leaf category slug
    noun: str
    initials: str  # drawn on its pictures, and the SKU prefix
    descriptors: tuple[str, ...]
    colours: tuple[str, ...]  # the colourways it comes in (or pictures are drawn in)
    colour_option: bool  # whether colour is a variant option
    sizes: str | None  # a SIZE_SCALES key, or None
    materials: tuple[str, ...]
    price: tuple[int, int]
    weight: tuple[float, float]  # kg
    shape: str  # what pictures.py draws
    features: tuple[str, ...]
    care: str = ""


T = ProductType
PRODUCT_TYPES = [
    T("tent", "tents", "Tent", "TE", ("2-Person", "3-Person", "Ultralight", "Dome", "Backpacking"),
      ("forest", "sand", "rust"), True, None, ("Ripstop nylon", "Recycled polyester"), (149, 649), (1.2, 4.5),
      "tent", ("Freestanding frame pitches in under five minutes", "Two doors and two porches for gear",
               "Fully taped seams and a 3,000 mm flysheet", "Colour-coded poles and clips",
               "Mesh inner for still summer nights")),
    T("sleeping-bag", "sleeping-bags", "Sleeping Bag", "SB", ("Three-Season", "Summer", "Mummy", "Winter", "Down"),
      ("navy", "rust", "olive"), True, "bag", ("Down", "Synthetic insulation"), (89, 429), (0.7, 2.1),
      "bag", ("Comfort rated to -4 °C", "Draught collar and zip baffle", "Stuff sack and storage sack included",
              "Two-way zip for venting on warm nights", "Hood shaped to move with you")),
    T("camp-stove", "camp-kitchen", "Camp Stove", "CS", ("Compact", "Canister", "Two-Burner", "Windproof"),
      ("charcoal", "sky"), False, None, ("Stainless steel", "Aluminium"), (39, 159), (0.2, 3.5),
      "circle", ("Boils a litre of water in about four minutes", "Piezo ignition, no matches needed",
                 "Folding pot supports", "Packs into its own pot")),
    T("cook-set", "camp-kitchen", "Cook Set", "CK", ("Solo", "Two-Person", "Nesting", "Ultralight"),
      ("stone", "rust"), False, None, ("Titanium", "Aluminium", "Stainless steel"), (29, 139), (0.2, 1.1),
      "pot", ("Pot, pan and two mugs that nest together", "Folding handles that lock", "Measuring marks inside",
              "Mesh carry bag")),
    T("backpack", "backpacks", "Backpack", "BP",
      ("Daypack 20 L", "Trek 45 L", "Trek 60 L", "Commuter 28 L", "Roll-Top 30 L"),
      ("charcoal", "forest", "rust", "sky"), True, "pack", ("Recycled polyester", "Ripstop nylon", "Canvas"),
      (59, 289), (0.6, 2.1), "pack", ("Adjustable back system", "Padded hip belt with zip pockets",
                                      "Hydration sleeve and hose port", "Integrated rain cover",
                                      "Stretch side pockets for bottles")),
    T("trekking-poles", "trekking-poles", "Trekking Poles", "TP", ("Folding", "Carbon", "Telescopic", "Trail"),
      ("black", "sky"), True, None, ("Carbon fibre", "Aluminium"), (49, 169), (0.3, 0.6),
      "poles", ("Sold as a pair", "Flick-lock length adjustment", "Cork grips that stay cool",
                "Tungsten tips and rubber feet included")),
    T("headlamp", "headlamps", "Headlamp", "HL", ("350 Lumen", "Rechargeable", "Trail", "Reactive"),
      ("black", "mustard", "sky"), True, None, ("Aluminium",), (19, 89), (0.08, 0.15),
      "circle", ("USB-C rechargeable battery", "Red light mode that keeps night vision",
                 "Lock mode so it never switches on in your pack", "Rated IPX4 against rain")),
    T("rain-jacket", "rain-jackets", "Rain Jacket", "RJ", ("Waterproof", "Packable", "3-Layer", "Storm", "Hooded"),
      ("navy", "rust", "mustard", "forest", "black"), True, "apparel", ("Recycled polyester", "Ripstop nylon"),
      (89, 349), (0.25, 0.6), "jacket", ("Waterproof, breathable membrane", "Hood adjusts with one hand",
                                         "Pit zips for venting on climbs", "Packs into its own pocket",
                                         "PFC-free water repellent finish"),
      "Machine wash at 30 °C; tumble dry low to refresh the water repellency."),
    T("down-jacket", "insulated-jackets", "Down Jacket", "DJ", ("Hooded", "Lightweight", "Expedition", "Packable"),
      ("black", "olive", "berry", "navy"), True, "apparel", ("Down", "Recycled polyester"), (129, 399), (0.3, 0.8),
      "jacket", ("Responsibly sourced 700-fill down", "Baffles that keep the down where it warms",
                 "Two zipped hand pockets", "Elasticated cuffs and hem"),
      "Wash rarely, with down cleaner; tumble dry with clean tennis balls."),
    T("insulated-vest", "insulated-jackets", "Insulated Vest", "IV", ("Lightweight", "Quilted", "Packable"),
      ("black", "olive", "rust"), True, "apparel", ("Synthetic insulation", "Recycled polyester"), (69, 179),
      (0.2, 0.4), "vest", ("Warm even when damp", "Wind-resistant shell", "Two zipped hand pockets",
                           "Layers under a shell or over a fleece")),
    T("fleece", "fleece", "Fleece Pullover", "FP", ("Grid", "Half-Zip", "Heavyweight", "Sherpa"),
      ("sand", "forest", "berry", "charcoal"), True, "apparel", ("Recycled polyester", "Merino wool"), (49, 129),
      (0.3, 0.6), "jacket", ("Grid fleece that breathes on the move", "Kangaroo pocket",
                             "Stretch binding at cuffs and hem", "Made from recycled bottles"),
      "Machine wash cold, inside out."),
    T("t-shirt", "t-shirts", "T-Shirt", "TS", ("Organic", "Pocket", "Everyday", "Heavyweight"),
      ("cream", "navy", "forest", "rust", "stone", "black"), True, "apparel", ("Organic cotton", "Merino wool"),
      (19, 59), (0.12, 0.25), "shirt", ("Soft, midweight jersey", "Relaxed fit with a straight hem",
                                        "Taped shoulder seams keep their shape", "Pre-washed to limit shrinking"),
      "Machine wash at 30 °C; dry flat."),
    T("base-layer", "base-layers", "Base Layer Top", "BL", ("Merino 150", "Merino 250", "Crew", "Zip-Neck"),
      ("black", "charcoal", "berry"), True, "apparel", ("Merino wool",), (49, 119), (0.15, 0.3),
      "shirt", ("Fine merino that does not itch", "Stays fresh for days on the trail",
                "Flatlock seams that do not chafe under a pack", "Thumb loops")),
    T("flannel-shirt", "shirts", "Flannel Shirt", "FS", ("Brushed", "Heavyweight", "Camp", "Check"),
      ("rust", "forest", "navy"), True, "apparel", ("Organic cotton",), (49, 99), (0.3, 0.5),
      "shirt", ("Brushed on both sides for warmth", "Two button-down chest pockets", "Curved hem",
                "Corozo buttons")),
    T("hiking-trousers", "trousers", "Hiking Trousers", "HT", ("Stretch", "Convertible", "Softshell", "Canvas"),
      ("stone", "olive", "charcoal", "black"), True, "apparel", ("Organic cotton", "Recycled polyester", "Canvas"),
      (59, 149), (0.3, 0.6), "trousers", ("Four-way stretch for scrambling", "Articulated knees",
                                          "Zipped thigh pocket for a phone", "Adjustable hems")),
    T("trail-shorts", "shorts", "Trail Shorts", "SH", ("Lightweight", "Stretch", "Cargo"),
      ("sand", "olive", "navy"), True, "apparel", ("Recycled polyester", "Organic cotton"), (35, 79), (0.15, 0.3),
      "trousers", ("Quick-drying fabric", "Built-in belt", "Zipped back pocket", "Seven-inch inseam")),
    T("hiking-boots", "hiking-boots", "Hiking Boots", "HB", ("Waterproof", "Mid", "Leather", "Lightweight"),
      ("stone", "charcoal", "rust"), True, "shoes", ("Leather", "Recycled polyester"), (119, 279), (0.9, 1.5),
      "boot", ("Waterproof, breathable lining", "Grippy lugged outsole", "Padded ankle collar",
               "Resoleable construction")),
    T("trail-shoes", "trail-shoes", "Trail Shoes", "TR", ("Grip", "Cushioned", "Speed", "All-Terrain"),
      ("sky", "black", "berry", "mustard"), True, "shoes", ("Recycled polyester",), (89, 169), (0.5, 0.7),
      "boot", ("Sticky rubber for wet rock", "Rock plate under the forefoot", "Quick-lace system",
               "6 mm drop")),
    T("beanie", "hats", "Beanie", "BN", ("Ribbed", "Fisherman", "Merino", "Watch"),
      ("mustard", "rust", "navy", "cream"), True, None, ("Merino wool", "Organic cotton"), (19, 45), (0.05, 0.1),
      "beanie", ("Ribbed knit with a turn-up", "Soft against the forehead", "One size fits most")),
    T("gloves", "gloves", "Gloves", "GL", ("Liner", "Insulated", "Touchscreen", "Work"),
      ("black", "charcoal"), True, "apparel", ("Merino wool", "Leather"), (25, 79), (0.05, 0.2),
      "glove", ("Touchscreen-friendly fingertips", "Grippy palm", "Elastic cuff keeps snow out")),
    T("socks", "socks", "Hiking Socks", "SK", ("Cushioned", "Crew", "Lightweight", "Expedition"),
      ("charcoal", "forest", "berry"), True, "apparel", ("Merino wool",), (14, 29), (0.05, 0.1),
      "sock", ("Cushioned under heel and toe", "Seamless toe", "Merino blend that stays fresh",
               "Guaranteed for life")),
    T("mug", "mugs", "Enamel Mug", "MG", ("Speckled", "Camp", "Insulated", "Classic"),
      ("cream", "navy", "forest", "rust"), True, None, ("Enamelled steel", "Ceramic", "Stainless steel"),
      (12, 29), (0.2, 0.4), "mug", ("Holds 350 ml", "Rolled rim", "Safe on a camp stove and in the dishwasher",
                                    "Handmade, so each one is slightly different")),
    T("skillet", "cookware", "Cast Iron Skillet", "CI", ("10-Inch", "12-Inch", "Pre-Seasoned", "Deep"),
      ("black", "charcoal"), False, None, ("Cast iron",), (29, 119), (1.8, 3.6),
      "pan", ("Pre-seasoned with vegetable oil", "Works on gas, induction and over a fire",
              "Pouring spouts on both sides", "Gets better with every use")),
    T("dutch-oven", "cookware", "Dutch Oven", "DO", ("4 L", "6 L", "Camp", "Enamelled"),
      ("rust", "navy", "cream"), True, None, ("Cast iron", "Enamelled steel"), (59, 229), (3.5, 6.5),
      "pot", ("Heavy lid that keeps moisture in", "Oven safe to 260 °C", "Wide loop handles",
              "Made to be handed down")),
    T("wool-blanket", "blankets", "Wool Blanket", "WB", ("Herringbone", "Striped", "Heritage", "Waffle"),
      ("cream", "rust", "forest", "stone"), True, "bed", ("Merino wool", "Organic cotton"), (69, 249),
      (0.9, 2.4), "blanket", ("Woven in a family-run mill", "Whipstitched edges", "Warm without weight",
                              "Naturally flame resistant"),
      "Air it outside; dry clean only when truly needed."),
    T("cushion-cover", "cushions", "Cushion Cover", "CC", ("Linen", "Woven", "Stonewashed", "Embroidered"),
      ("sand", "rust", "sky", "berry"), True, None, ("Linen", "Organic cotton"), (19, 49), (0.1, 0.3),
      "cushion", ("Fits a 50 × 50 cm insert", "Hidden zip", "Softens with every wash")),
    T("lantern", "lanterns", "Lantern", "LT", ("LED", "Rechargeable", "Solar", "Hanging"),
      ("black", "mustard", "forest"), True, None, ("Aluminium", "Stainless steel"), (29, 119), (0.2, 0.8),
      "lantern", ("Dimmable warm-white light", "Up to 60 hours on low", "Folding hanging handle",
                  "Doubles as a power bank")),
    T("table-lamp", "table-lamps", "Table Lamp", "TL", ("Ceramic", "Linen Shade", "Reading", "Globe"),
      ("cream", "black"), False, None, ("Ceramic", "Linen"), (49, 199), (1.0, 3.5),
      "lamp", ("E27 bulb fitting (bulb not included)", "Braided fabric cable", "Inline dimmer switch")),
]
del T

PRODUCT_TYPES_BY_KEY = {product_type.key: product_type for product_type in PRODUCT_TYPES}
# Leaf category slug -> its root ("family"): which brands make it, which lead sentence describes it.
FAMILY_OF = {leaf: root for _, root, children in CATEGORIES for _, _, leaves in children for _, leaf in leaves}
BRAND_NAMES = {slug: name for name, slug, _ in BRANDS}
BRANDS_BY_FAMILY = {
    family: [slug for _, slug, families in BRANDS if family in families] for family in ("outdoor", "clothing", "home")
}

LEADS = {
    "outdoor": "The {title} from {brand} is built for long days outside and the nights that follow. "
               "Made from {material_lower}, it is tested in wind, rain and grit before it reaches you.",
    "clothing": "The {title} is a {brand} layer you will reach for in every season. "
                "Cut from {material_lower}, it moves with you on the trail and looks right in town.",
    "home": "The {title} brings the calm of a cabin to your home. {brand} makes it from {material_lower} "
            "to be used every day and kept for years.",
}

# Korean names and a line per family, added to every KOREAN_EVERY-th product's description, as a
# store with Korean-speaking customers might: search must find "재킷" (and "재킷을") in them.
KOREAN_EVERY = 5
KOREAN_NAMES = {
    "tent": "텐트", "sleeping-bag": "침낭", "camp-stove": "캠핑 스토브", "cook-set": "캠핑 코펠",
    "backpack": "배낭", "trekking-poles": "등산 스틱", "headlamp": "헤드랜턴", "rain-jacket": "방수 재킷",
    "down-jacket": "다운 재킷", "insulated-vest": "패딩 조끼", "fleece": "플리스 풀오버", "t-shirt": "티셔츠",
    "base-layer": "베이스 레이어", "flannel-shirt": "플란넬 셔츠", "hiking-trousers": "등산 바지",
    "trail-shorts": "트레일 반바지", "hiking-boots": "등산화", "trail-shoes": "트레일 러닝화", "beanie": "비니",
    "gloves": "장갑", "socks": "등산 양말", "mug": "법랑 머그", "skillet": "무쇠 프라이팬",
    "dutch-oven": "더치 오븐", "wool-blanket": "울 담요", "cushion-cover": "쿠션 커버", "lantern": "랜턴",
    "table-lamp": "테이블 램프",
}
# {name} is followed by its topic particle (은 after a final consonant, 는 after a vowel).
KOREAN_LEADS = {
    "outdoor": "{name} 바람과 비, 거친 길에서 시험을 마친 장비입니다. 오래 쓰도록 튼튼하게 만들었습니다.",
    "clothing": "{name} 사계절 내내 손이 가는 옷입니다. 산길에서도 도심에서도 편안합니다.",
    "home": "{name} 집에 오두막의 여유를 더해 줍니다. 매일 쓰고 오래 간직하도록 만들었습니다.",
}
