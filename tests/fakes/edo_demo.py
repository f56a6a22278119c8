"""`make demo`'s EDO part: fakes of Didox and Faktura.uz and one seeded connected integration each.

Each provider gets a REGOS firm with an account at the fake provider, one incoming invoice to
import and outgoing REGOS invoices to export (README, "EDO: a walk-through with `make demo`").
"""

from __future__ import annotations

from typing import Any

from tests.fakes.didox import FakeDidox
from tests.fakes.fakturauz import FakeFaktura
from tests.fakes.regos import FakeRegos
from tests.fakes.regos_edo import add_firm, add_item, add_outgoing_invoice, add_partner

DIDOX_CID = "d0000000000000000000000000000005"
FAKTURA_CID = "d0000000000000000000000000000006"
DIDOX_FIRM, FAKTURA_FIRM = 1, 2
DEMO_PARTNER_TOKEN = "demo-didox-partner-token"
CEMENT_ICPS = "02523001001000000"


def start_edo_demo(regos: FakeRegos, env: dict[str, str]) -> list[Any]:
    """Start both fakes, seed them and REGOS, point the gateway at them (env); print the ids."""
    didox = FakeDidox(port=9106, partner_token=DEMO_PARTNER_TOKEN).start()
    faktura = FakeFaktura(port=9107).start()
    cement = add_item(regos, "Cement", CEMENT_ICPS, "4780000000011")
    buyer = add_partner(regos, "309999999", "OMEGA MCHJ")

    add_firm(regos, DIDOX_FIRM, "310529901", "BETA MCHJ")
    didox.add_account("310529901", "demo-didox-password")
    didox_doc = didox.add_incoming(
        "310529901",
        "302936161",
        '"ALFA" MCHJ',
        [{"name": "Cement", "catalogcode": CEMENT_ICPS, "barcode": "4780000000011", "count": 10, "summa": 1000}],
    )
    regos.add_connected_integration(
        DIDOX_CID, "edo_didox", settings={"DIDOX_PASSWORD": "demo-didox-password", "EDO_AUTO_IMPORT": "true"}
    )
    didox_out = [add_outgoing_invoice(regos, DIDOX_FIRM, buyer, [(cement, 4, 250.0)])["id"] for _ in range(2)]

    add_firm(regos, FAKTURA_FIRM, "310529902", "GAMMA MCHJ")
    faktura.add_account("demo", "demo-faktura-password", "demo-client", "demo-private-key")
    faktura_doc = faktura.add_incoming(
        "310529902",
        "302936170",
        "SIGMA MCHJ",
        [{"title": "Cement", "catalog": {"code": CEMENT_ICPS}, "quantity": 10, "pricePerItem": 1000, "vatRate": 12}],
    )
    regos.add_connected_integration(
        FAKTURA_CID,
        "edo_fakturauz",
        settings={
            "FAKTURA_UZ_CLIENT_ID": "demo-client",
            "FAKTURA_UZ_LOGIN": "demo",
            "FAKTURA_UZ_PASSWORD": "demo-faktura-password",
            "FAKTURA_UZ_PRIVATE_KEY": "demo-private-key",
        },
    )
    faktura_out = add_outgoing_invoice(regos, FAKTURA_FIRM, buyer, [(cement, 2, 1000.0)])["id"]

    env.update(
        DIDOX_BASE_URL=didox.url,
        DIDOX_PARTNER_TOKEN=DEMO_PARTNER_TOKEN,
        FAKTURA_UZ_API_URL=faktura.url + "/Api",
        FAKTURA_UZ_TOKEN_URL=faktura.url + "/token",
    )
    print(
        f"demo EDO: Didox {didox.url} (connected integration {DIDOX_CID}, firm {DIDOX_FIRM}, incoming {didox_doc}, "
        f"outgoing invoices {didox_out}); Faktura.uz {faktura.url} (connected integration {FAKTURA_CID}, "
        f"firm {FAKTURA_FIRM}, incoming {faktura_doc}, outgoing invoice {faktura_out})"
    )
    return [didox, faktura]
