"""The sandbox store's catalog and coupons: a handful of products shaped like BigCommerce's sample data.

Ids, skus and prices are fixed so tests and ``cartwatch simulate`` can name products directly.
Every product has at least one variant (BigCommerce gives each product a base variant);
products with options have one variant per combination of option values.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import Enum

from cartwatch_tools.sandbox.errors import unprocessable


@dataclass(frozen=True)
class OptionValue:
    option_id: int  # "nameId" in cart responses
    option_name: str
    value_id: int  # "valueId"
    label: str

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.option_name,
            "nameId": self.option_id,
            "value": self.label,
            "valueId": self.value_id,
        }


@dataclass(frozen=True)
class Variant:
    id: int
    sku: str
    price: Decimal | None = None  # None: the product's price
    options: tuple[OptionValue, ...] = ()


@dataclass(frozen=True)
class Product:
    id: int
    name: str
    sku: str
    price: Decimal
    slug: str
    image: str
    variants: tuple[Variant, ...]
    sale_price: Decimal | None = None
    digital: bool = False

    def url(self, domain: str) -> str:
        return f"https://{domain}/{self.slug}/"

    def image_url(self, store_hash: str) -> str:
        image_id = self.id + 300
        return f"https://cdn11.bigcommerce.com/s-{store_hash}/products/{self.id}/images/{image_id}/{self.image}?c=2"

    def original_price(self, variant: Variant) -> Decimal:
        return variant.price if variant.price is not None else self.price

    def list_price(self, variant: Variant) -> Decimal:
        """What the shopper pays per unit before coupons: the sale price when the product is on sale."""
        if self.sale_price is not None and variant.price is None:
            return self.sale_price
        return self.original_price(variant)

    def variant_for(
        self, variant_id: int | None = None, selections: Mapping[int, int] | None = None
    ) -> Variant:
        """Resolve a line item request (``variant_id`` or ``option_selections``) to one variant."""
        if variant_id is not None:
            for variant in self.variants:
                if variant.id == variant_id:
                    return variant
            raise unprocessable(
                f"Variant {variant_id} does not belong to product {self.id}.", variant_id="unknown variant"
            )
        if selections:
            for variant in self.variants:
                if all(selections.get(o.option_id) == o.value_id for o in variant.options):
                    return variant
            raise unprocessable(
                f"The option selections do not match a variant of product {self.id}.",
                option_selections="no matching variant",
            )
        if len(self.variants) == 1:
            return self.variants[0]
        raise unprocessable(
            f"Product {self.id} has options: pass variant_id or option_selections.",
            option_selections="required",
        )


class CouponType(Enum):
    # BigCommerce's numeric coupon types (AppliedCoupon.coupon_type in carts.v3.yml).
    PERCENTAGE = 1
    PER_TOTAL = 2

    @property
    def key(self) -> str:
        return "percentage_discount" if self is CouponType.PERCENTAGE else "per_total_discount"


@dataclass(frozen=True)
class Coupon:
    id: int
    code: str
    name: str
    type: CouponType
    amount: Decimal  # percent for PERCENTAGE, currency for PER_TOTAL

    def discount_on(self, subtotal: Decimal) -> Decimal:
        if self.type is CouponType.PERCENTAGE:
            # Half-up, as shoppers and merchants round money (Decimal defaults to banker's rounding).
            return (subtotal * self.amount / 100).quantize(Decimal("0.01"), ROUND_HALF_UP)
        return min(self.amount, subtotal)


# One option axis: (option id, option name, ((value id, label, sku code), ...)).
Axis = tuple[int, str, tuple[tuple[int, str, str], ...]]


def _product(
    product_id: int,
    first_variant_id: int,
    name: str,
    sku: str,
    price: str,
    slug: str,
    axes: tuple[Axis, ...] = (),
    *,
    dearer: Mapping[str, str] | None = None,
    sale_price: str | None = None,
    digital: bool = False,
) -> Product:
    """A product with one variant per combination of option values, numbered from ``first_variant_id``
    (a product without options gets its single base variant).

    ``dearer`` maps an option value label to the price of the variants having it: larger sizes
    cost more, as merchants usually configure them.
    """
    variants = []
    pools = [tuple((oid, oname, value) for value in values) for oid, oname, values in axes]
    for offset, combination in enumerate(itertools.product(*pools)):
        options = tuple(OptionValue(oid, oname, vid, label) for oid, oname, (vid, label, _) in combination)
        codes = [code for _, _, (_, _, code) in combination]
        surcharge = next((dearer[o.label] for o in options if dearer and o.label in dearer), None)
        variants.append(
            Variant(
                id=first_variant_id + offset,
                sku="-".join([sku, *codes]),
                price=Decimal(surcharge) if surcharge is not None else None,
                options=options,
            )
        )
    return Product(
        id=product_id,
        name=name,
        sku=sku,
        price=Decimal(price),
        slug=slug,
        image=f"{slug.replace('-', '_')}__{product_id}01.1534344502.330.500.jpg",
        variants=tuple(variants),
        sale_price=Decimal(sale_price) if sale_price is not None else None,
        digital=digital,
    )


PRODUCTS: dict[int, Product] = {
    p.id: p
    for p in (
        _product(
            77,
            64,
            "[Sample] Fog Linen Chambray Towel - Beige Stripe",
            "SLCTBS",
            "49.00",
            "fog-linen-chambray-towel-beige-stripe",
            ((108, "Size", ((68, "S", "S"), (69, "M", "M"), (70, "L", "L"))),),
            dearer={"L": "54.00"},
        ),
        _product(
            86,
            68,
            "[Sample] Able Brewing System",
            "ABS",
            "225.00",
            "able-brewing-system",
            sale_price="199.00",
        ),
        _product(88, 71, "[Sample] Chemex Coffeemaker 3 Cup", "CC3C", "49.50", "chemex-coffeemaker-3-cup"),
        _product(104, 88, "[Sample] Utility Caddy", "OFSUC", "45.95", "utility-caddy"),
        _product(111, 93, "[Sample] Smith Journal 13", "SM13", "25.00", "smith-journal-13"),
        _product(112, 94, "[Sample] Canvas Laundry Cart", "CLC", "200.00", "canvas-laundry-cart"),
        _product(
            118,
            140,
            "Organic Cotton Tee",
            "OCT",
            "25.00",
            "organic-cotton-tee",
            (
                (125, "Size", ((127, "Small", "S"), (128, "Large", "L"))),
                (133, "Color", ((149, "Red", "RED"), (150, "Blue", "BLUE"))),
            ),
            dearer={"Large": "27.00"},
        ),
        _product(
            126,
            150,
            "Coffee Brewing Guide (PDF)",
            "BREW-GUIDE-PDF",
            "9.99",
            "brewing-guide-pdf",
            digital=True,
        ),
    )
}

COUPONS: dict[str, Coupon] = {
    c.code: c
    for c in (
        Coupon(1, "SAVE10", "10% Off", CouponType.PERCENTAGE, Decimal(10)),
        Coupon(2, "FIVEOFF", "$5 Off", CouponType.PER_TOTAL, Decimal(5)),
        Coupon(3, "WELCOME20", "20% Off", CouponType.PERCENTAGE, Decimal(20)),
    )
}


def product(product_id: int) -> Product:
    found = PRODUCTS.get(product_id)
    if found is None:
        raise unprocessable(f"Product {product_id} does not exist.", product_id="unknown product")
    return found


def coupon(code: str) -> Coupon:
    found = COUPONS.get(code.strip().upper())
    if found is None:
        raise unprocessable(f"The coupon code '{code}' is not valid.", coupon_code="invalid")
    return found


def selections_from(raw: Iterable[Mapping[str, object]]) -> dict[int, int]:
    """``option_selections`` from a request body -> {option_id: value_id}."""
    chosen: dict[int, int] = {}
    for selection in raw:
        try:
            chosen[int(str(selection["option_id"]))] = int(str(selection["option_value"]))
        except (KeyError, ValueError) as exc:
            raise unprocessable(
                "Each option selection needs a numeric option_id and option_value.",
                option_selections="invalid",
            ) from exc
    return chosen
