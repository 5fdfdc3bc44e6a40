"""The naming convention every service finds topics and tables by."""

from __future__ import annotations

import pytest

from mesh_config.naming import ProductName, product_of_topic


def test_a_product_id_names_its_topics_and_tables() -> None:
    name = ProductName.of("urn:mesh:content-insights:next-title:v2")
    assert name.topic("stream") == "content-insights.next-title.stream.v2"
    assert name.table("state") == "content_insights.next_title_state_v2"
    assert name.table_name("state") == "next_title_state_v2"
    assert name.id == "urn:mesh:content-insights:next-title:v2"


def test_a_topic_names_its_product_and_others_name_none() -> None:
    assert product_of_topic("content-insights.kpis.stream.v1") == "urn:mesh:content-insights:kpis:v1"
    assert product_of_topic("mesh.access") is None
    assert product_of_topic("cdc.legacy.public.customers") is None


@pytest.mark.parametrize("bad", ["customers", "urn:mesh:Subs:customers:v1", "urn:mesh:subs:customers", "urn:x:a:b:v1"])
def test_a_malformed_id_is_refused_naming_the_expected_form(bad: str) -> None:
    with pytest.raises(ValueError, match="urn:mesh:<domain>:<product>:v<major>"):
        ProductName.of(bad)


def test_the_avro_namespace_is_made_of_identifiers_whatever_hyphens_the_id_has() -> None:
    import re

    avro_name = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")  # the Avro specification's names (the registry's parser)
    name = ProductName.of("urn:mesh:content-insights:top-genres:v2")
    assert name.avro_namespace == "streamline.content_insights.top_genres"
    assert all(avro_name.match(part) for part in name.avro_namespace.split("."))
