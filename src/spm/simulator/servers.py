"""Run the three simulated sources on localhost.

    with SimulatorServers(SimulatorConfig(kode_wilayah=("32.71",), scale=0.002)) as sim:
        sim.dapodik_url, sim.dukcapil_url, sim.satusehat_url     # base URLs (ephemeral ports by default)
        sim.credentials                                     # token, API key, client id/secret
        sim.faults.set(error_share=0.2)                      # switch faults while running
        sim.counts("satusehat")["errors"]                         # what was injected
"""

from __future__ import annotations

from spm.simulator.config import SimulatorConfig
from spm.simulator.dapodik import DapodikApp
from spm.simulator.dukcapil import DukcapilApp
from spm.simulator.faults import Faults
from spm.simulator.satusehat import SatusehatApp
from spm.simulator.http_base import SourceServer
from spm.simulator.world import World


class SimulatorServers:
    def __init__(self, config: SimulatorConfig | None = None, faults: Faults | None = None,
                 world: World | None = None):
        self.config = config or SimulatorConfig()
        self.world = world or World(self.config)
        if self.world.config != self.config:
            raise ValueError("the world was generated from another SimulatorConfig")
        self.faults = faults or Faults()
        self.apps = {
            "dapodik": DapodikApp(self.world, self.faults),
            "dukcapil": DukcapilApp(self.world, self.faults),
            "satusehat": SatusehatApp(self.world, self.faults),
        }
        self._servers: dict[str, SourceServer] = {}

    def start(self) -> "SimulatorServers":
        if self._servers:
            return self  # already listening
        ports = {"dapodik": self.config.dapodik_port, "dukcapil": self.config.dukcapil_port,
                 "satusehat": self.config.satusehat_port}
        try:
            for name, app in self.apps.items():
                server = SourceServer(app, self.config.host, ports[name])
                self._servers[name] = server
                server.start()
        except OSError:
            self.stop()
            raise
        return self

    def stop(self):
        for server in self._servers.values():
            server.stop()
        self._servers.clear()

    def __enter__(self) -> "SimulatorServers":
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def _url(self, name: str) -> str:
        if name not in self._servers:
            raise RuntimeError("the simulator servers are not running: use start() or a with block")
        return self._servers[name].base_url

    @property
    def dapodik_url(self) -> str:
        return self._url("dapodik")

    @property
    def dukcapil_url(self) -> str:
        return self._url("dukcapil")

    @property
    def satusehat_url(self) -> str:
        return self._url("satusehat")

    @property
    def credentials(self) -> dict[str, str]:
        c = self.config
        return {
            "dapodik_token": c.dapodik_token,
            "dukcapil_api_key": c.dukcapil_api_key,
            "satusehat_client_id": c.satusehat_client_id,
            "satusehat_client_secret": c.satusehat_client_secret,
        }

    def airflow_connections(self) -> dict[str, dict]:
        """The DESIGN §10 connections to these servers (host = base URL; secrets in login/password)."""
        c = self.config
        return {
            "spm_dapodik": {"conn_type": "http", "host": self.dapodik_url, "password": c.dapodik_token},
            "spm_dukcapil": {"conn_type": "http", "host": self.dukcapil_url, "password": c.dukcapil_api_key},
            "spm_satusehat": {"conn_type": "http", "host": self.satusehat_url, "login": c.satusehat_client_id,
                              "password": c.satusehat_client_secret},
        }

    def expire_tokens(self):
        """Make every FHIR access token issued so far invalid (the next request gets 401)."""
        self.apps["satusehat"].tokens.expire_all()

    def counts(self, source: str) -> dict[str, int]:
        """What a source did: requests served and faults injected (dapodik, dukcapil or fhir)."""
        return self.apps[source].log.snapshot()
