"""The packaged SCB list of län and kommuner: complete, consistent, and covering the synthetic world."""

from __future__ import annotations

from collections import Counter

from engine.contract import REGIONS
from engine.places import county_names, municipality_name, municipality_names
from synthetic.regions import region_profiles
from synthetic.structure import _local_municipalities

# SCB's number of kommuner per län in 2024.
KOMMUNER_PER_LAN = {
    "01": 26, "03": 8, "04": 9, "05": 13, "06": 13, "07": 8, "08": 12, "09": 1, "10": 5, "12": 33,
    "13": 6, "14": 49, "17": 16, "18": 12, "19": 10, "20": 15, "21": 10, "22": 7, "23": 8, "24": 15,
    "25": 14,
}  # fmt: skip


def test_the_list_has_290_kommuner_in_21_lan() -> None:
    assert len(municipality_names()) == 290, f"{len(municipality_names())} kommuner, SCB lists 290 (2024)"
    assert set(county_names()) == set(REGIONS), "the län codes must be the contract's region codes"


def test_every_lan_has_its_number_of_kommuner_and_every_code_its_lan_prefix() -> None:
    counts = Counter(code[:2] for code in municipality_names())
    assert counts == KOMMUNER_PER_LAN, f"kommuner per län differ from SCB's: {counts}"
    assert all(code.isdigit() and len(code) == 4 for code in municipality_names())


def test_names_are_unique_and_well_known_codes_have_their_names() -> None:
    names = municipality_names()
    assert len(set(names.values())) == len(names), "two kommuner share a name"
    expected = {"0180": "Stockholm", "0380": "Uppsala", "1280": "Malmö", "1480": "Göteborg", "2584": "Kiruna"}
    assert {code: names[code] for code in expected} == expected


def test_every_code_the_synthetic_world_uses_is_in_the_list() -> None:
    used = {code for profile in region_profiles() for code in _local_municipalities(profile)}
    assert used <= set(municipality_names()), (
        f"codes without a name: {sorted(used - set(municipality_names()))}"
    )
    assert len(used) == 290, "the synthetic world draws from every kommun"


def test_an_unknown_code_is_shown_as_the_code() -> None:
    assert municipality_name("0199") == "0199"
