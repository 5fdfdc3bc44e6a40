"""Toxiproxy in front of the broker and S3, without servers: where the proxies listen and forward to, the
settings a routed product gets, the broker's listener for proxied clients, and what happens without Go."""

from __future__ import annotations

import json
import os
from pathlib import Path

import psutil
import pytest

from mesh_config import load_settings
from mesh_stack.errors import MissingDependency
from mesh_stack.isolated import isolated_settings
from mesh_stack.toxiproxy import Toxic, binary_path, install, proxy_address, through_proxies, upstream_address


def test_a_routed_product_reaches_only_the_proxied_upstreams_through_toxiproxy() -> None:
    settings = isolated_settings("unit-toxiproxy", 30000)
    kafka = through_proxies(settings, ["kafka"])
    assert kafka.bootstrap_servers == f"127.0.0.1:{settings.toxiproxy_kafka_port}"
    assert kafka.s3_url == settings.s3_url
    assert kafka.environment({})["MESH_KAFKA_BOOTSTRAP"] == kafka.bootstrap_servers
    s3 = through_proxies(settings, ["s3"])
    assert s3.s3_url == f"http://127.0.0.1:{settings.toxiproxy_s3_port}"
    assert s3.bootstrap_servers == settings.bootstrap_servers
    assert through_proxies(settings, []) == settings
    with pytest.raises(ValueError, match="no proxy for postgres"):
        through_proxies(settings, ["postgres"])


def test_the_kafka_proxy_forwards_to_the_listener_that_advertises_the_proxy() -> None:
    from mesh_stack.components.kafka import Kafka

    settings = isolated_settings("unit-toxiproxy", 30000)
    assert upstream_address(settings, "kafka") == f"127.0.0.1:{settings.kafka_proxied_listener_port}"
    assert upstream_address(settings, "s3") == f"127.0.0.1:{settings.s3_port}"
    assert proxy_address(settings, "s3") == f"127.0.0.1:{settings.toxiproxy_s3_port}"
    properties = dict(line.split("=", 1) for line in Kafka(settings)._properties().splitlines())
    assert f"PROXIED://127.0.0.1:{settings.kafka_proxied_listener_port}" in properties["listeners"]
    # A client bootstrapped on the proxy must be told the proxy's address, or it would bypass it.
    assert f"PROXIED://{proxy_address(settings, 'kafka')}" in properties["advertised.listeners"]
    assert "PROXIED:SASL_PLAINTEXT" in properties["listener.security.protocol.map"]
    assert "listener.name.proxied.plain.sasl.jaas.config" in properties
    assert "listener.name.proxied.scram-sha-256.sasl.jaas.config" in properties
    assert settings.kafka_proxied_listener_port in Kafka(settings).ports()


def test_a_private_stack_keeps_every_port_apart() -> None:
    settings = isolated_settings("unit-toxiproxy", 30000)
    ports = [v for k, v in settings.model_dump().items() if k.endswith("_port")]
    assert len(ports) == len(set(ports))
    servers = [p for p in ports if p not in (settings.products_http_port, settings.products_sql_port)]
    assert all(30000 <= p < settings.products_http_port for p in servers)
    defaults = [v for k, v in load_settings().model_dump().items() if k.endswith("_port")]
    assert len(defaults) == len(set(defaults))


def test_a_toxic_is_sent_as_toxiproxys_api_takes_it() -> None:
    toxic = Toxic("latency-upstream", "latency", "upstream", (("jitter", 100), ("latency", 500)))
    assert toxic.as_json() == {
        "name": "latency-upstream",
        "type": "latency",
        "stream": "upstream",
        "toxicity": 1.0,
        "attributes": {"jitter": 100, "latency": 500},
    }


def test_without_go_the_error_says_what_is_missing_and_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("shutil.which", lambda _name: None)
    monkeypatch.setattr(os, "access", lambda _path, _mode: False)
    with pytest.raises(MissingDependency, match=r"Go \(`go`\) is missing.*apt-get install golang-go"):
        install(tmp_path, tmp_path / "build.log")
    built = binary_path(tmp_path)
    built.parent.mkdir(parents=True)
    built.write_text("")
    assert install(tmp_path, tmp_path / "build.log") == built  # built once: Go is not needed again


def test_a_product_restarted_by_anything_else_is_on_the_direct_path(tmp_path: Path) -> None:
    from mesh_chaos.network import routed_through

    settings = load_settings(home=tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    me = psutil.Process()
    (run / "product-playback.events.pid").write_text(json.dumps({"pid": me.pid, "create_time": me.create_time()}))
    route = run / "product-playback.events.route.json"
    route.write_text(json.dumps({"through": ["kafka"], "pid": me.pid}))
    assert routed_through(settings, "playback.events") == ["kafka"]
    route.write_text(json.dumps({"through": ["kafka"], "pid": me.pid + 1}))
    assert routed_through(settings, "playback.events") == []
    assert routed_through(settings, "content.titles") == []
