"""Realistic request bodies for tests: the portal's Premium Family Plan order for John Doe (TMF622 v4)."""

from __future__ import annotations

import copy
from typing import Any

OMIT: Any = object()
"""Pass as an override value to leave the attribute out of the payload."""

PREMIUM_FAMILY_PLAN_OFFERING = "po-premium-family-plan"
POSTPAID_MOBILE_OFFERING = "po-postpaid-mobile-100gb-unlimited"
JOHN_DOE_ID = "cust-john-doe-0001"
BUNDLE_ITEM_ID = "1"
SIM_ITEM_IDS = ("2", "3", "4")

# Date-times are written in the service's canonical form (UTC, milliseconds, `Z`) so they read back unchanged.
REQUESTED_START = "2030-03-01T08:00:00.000Z"
REQUESTED_COMPLETION = "2030-03-05T18:00:00.000Z"

_SHIPPING_ADDRESS: dict[str, Any] = {
    "role": "shippingAddress",
    "name": "John Doe home",
    "@type": "GeographicAddress",
    "streetNr": "742",
    "streetName": "Evergreen Terrace",
    "city": "Springfield",
    "postcode": "49007",
    "stateOrProvince": "OR",
    "country": "US",
}


def _money(value: float, unit: str = "EUR") -> dict[str, Any]:
    return {"unit": unit, "value": value}


def bundle_item(item_id: str = BUNDLE_ITEM_ID) -> dict[str, Any]:
    """The Premium Family Plan bundle line: the subscription John pays for each month."""
    return {
        "id": item_id,
        "action": "add",
        "quantity": 1,
        "@type": "ProductOrderItem",
        "productOffering": {
            "id": PREMIUM_FAMILY_PLAN_OFFERING,
            "name": "Premium Family Plan",
            "@referredType": "ProductOffering",
        },
        "product": {
            "@type": "Product",
            "isBundle": True,
            "isCustomerVisible": True,
            "name": "Premium Family Plan",
            "productSpecification": {"id": "ps-family-plan", "name": "Family plan", "version": "2.1"},
            "productCharacteristic": [
                {"name": "planTier", "valueType": "string", "value": "premium"},
                {"name": "maxLines", "valueType": "integer", "value": 5},
                {"name": "sharedDataPool", "valueType": "boolean", "value": False},
                {"name": "familyDiscountRate", "valueType": "number", "value": 0.15},
            ],
        },
        "itemPrice": [
            {
                "name": "Family plan monthly fee",
                "priceType": "recurring",
                "recurringChargePeriod": "month",
                "price": {"taxRate": 20.0, "dutyFreeAmount": _money(74.99), "taxIncludedAmount": _money(89.99)},
                "priceAlteration": [
                    {
                        "name": "Welcome discount",
                        "priceType": "recurring",
                        "applicationDuration": 3,
                        "priority": 1,
                        "price": {"percentage": 10.0},
                    }
                ],
            }
        ],
        "itemTerm": [
            {
                "name": "24-month commitment",
                "description": "Early termination fee applies",
                "duration": {"amount": 24, "units": "month"},
            }
        ],
    }


def sim_item(item_id: str, role: str, msisdn: str, bundle_id: str = BUNDLE_ITEM_ID) -> dict[str, Any]:
    """One SIM of the plan (Postpaid Mobile 100 GB + unlimited calls), shipped to John, bundled in `bundle_id`."""
    return {
        "id": item_id,
        "action": "add",
        "quantity": 1,
        "@type": "ProductOrderItem",
        "productOffering": {
            "id": POSTPAID_MOBILE_OFFERING,
            "name": "Postpaid Mobile 100 GB + unlimited calls",
            "@referredType": "ProductOffering",
        },
        "productOrderItemRelationship": [{"id": bundle_id, "relationshipType": "bundled"}],
        "product": {
            "@type": "Product",
            "isBundle": False,
            "name": f"Mobile line ({role})",
            "productSpecification": {"id": "ps-mobile-line", "name": "Mobile line", "version": "1.4"},
            "productCharacteristic": [
                {"name": "simRole", "valueType": "string", "value": role},
                {"name": "simFormat", "valueType": "string", "value": "eSIM" if role == "primary" else "nanoSIM"},
                {"name": "dataAllowanceGB", "valueType": "integer", "value": 100},
                {"name": "unlimitedCalls", "valueType": "boolean", "value": True},
                {"name": "roamingZones", "valueType": "array", "value": ["EU", "UK", "CH"]},
                {
                    "name": "numberSelection",
                    "valueType": "object",
                    "value": {"msisdn": msisdn, "portIn": False, "reservedUntil": None},
                },
                {"name": "monthlySpendCap", "valueType": "number", "value": 49.5},
            ],
            "place": [copy.deepcopy(_SHIPPING_ADDRESS)],
        },
        "itemPrice": [
            {
                "name": "SIM activation",
                "priceType": "oneTime",
                "price": {"taxRate": 20.0, "dutyFreeAmount": _money(8.33), "taxIncludedAmount": _money(10.0)},
            }
        ],
        "itemTerm": [{"name": "Follows the plan commitment", "duration": {"amount": 24, "units": "month"}}],
    }


def family_plan_order(**overrides: Any) -> dict[str, Any]:
    """John Doe's Premium Family Plan order as the portal posts it: 1 bundle item and 3 SIM items related to it.

    Each keyword replaces that top-level attribute; `OMIT` removes it. The result is a fresh deep copy.
    """
    order: dict[str, Any] = {
        "@type": "ProductOrder",
        "externalId": "PORTAL-2030-000123",
        "description": "Premium Family Plan with 3 SIMs for the Doe household",
        "category": "residential",
        "priority": "1",
        "notificationContact": "john.doe@example.com",
        "requestedStartDate": REQUESTED_START,
        "requestedCompletionDate": REQUESTED_COMPLETION,
        "relatedParty": [
            {
                "id": JOHN_DOE_ID,
                "href": f"https://crm.example.com/partyManagement/v4/individual/{JOHN_DOE_ID}",
                "name": "John Doe",
                "role": "customer",
                "@referredType": "Individual",
            }
        ],
        "billingAccount": {"id": "ba-doe-household-77", "name": "Doe household", "@referredType": "BillingAccount"},
        "payment": [{"id": "pay-card-4242", "name": "Visa ending 4242", "@referredType": "PaymentMethod"}],
        "agreement": [{"id": "agr-consumer-2030", "name": "Consumer terms and conditions 2030"}],
        "channel": [{"id": "chan-web-portal", "name": "Customer web portal", "role": "order placement"}],
        "note": [
            {
                "id": "n1",
                "author": "John Doe",
                "date": "2030-02-27T19:45:00.000Z",
                "text": "Please deliver the SIM cards after 5 pm.",
            }
        ],
        "productOfferingQualification": [
            {"id": "poq-5517", "href": "https://portal.example.com/poq/poq-5517", "name": "Family plan eligibility"}
        ],
        "productOrderItem": [
            bundle_item(),
            sim_item(SIM_ITEM_IDS[0], "primary", "+15415550101"),
            sim_item(SIM_ITEM_IDS[1], "secondary", "+15415550102"),
            sim_item(SIM_ITEM_IDS[2], "secondary", "+15415550103"),
        ],
    }
    for attribute, value in overrides.items():
        if value is OMIT:
            order.pop(attribute, None)
        else:
            order[attribute] = copy.deepcopy(value)
    return order
