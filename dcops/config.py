"""Settings, read from DCOPS_* environment variables and an optional YAML file.

Precedence (highest first): constructor arguments, environment variables, the
file named by ``DCOPS_CONFIG``, then the defaults below.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from platformdirs import user_data_dir
from pydantic import Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)


class Settings(BaseSettings):
    """Runtime configuration of one dcops process."""

    model_config = SettingsConfigDict(env_prefix="DCOPS_", extra="ignore")

    data_dir: Path = Field(default_factory=lambda: Path(user_data_dir("dcops")))
    database_url: str = ""
    secret_key_file: Path | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "info"
    token_ttl_days: int = Field(default=90, ge=1, le=3650)
    timezone: str = "Asia/Jakarta"
    auto_provision: bool = Field(default=True, description="approving a capacity request launches its jobs")
    background: bool = Field(default=True, description="run the poller, trap receiver and job runner in 'serve'")
    api_threads: int = Field(
        default=8, ge=1, le=200,
        description="requests the API serves at once in its thread pool (more only contend for the GIL; the rest "
                    "wait in the event loop, costing nothing)")
    max_upload_mib: int = Field(default=50, ge=1, le=4096, description="largest import file accepted (413 above)")
    trusted_proxies: str = Field(
        default="", description="comma-separated addresses/CIDRs of TLS proxies whose X-Forwarded-* headers count"
    )
    login_max_failures: int = Field(default=5, ge=1, le=1000, description="failed logins per user before backoff")
    login_address_max_failures: int = Field(default=20, ge=1, le=100000,
                                            description="failed logins per source address before backoff")
    login_backoff_seconds: int = Field(default=5, ge=1, le=3600, description="first lockout; doubles each failure")
    broker_url: str = Field(default="", description="Celery broker (amqp://...); empty: all work in one process")
    queue_prefix: str = Field(default="dcops", description="prefix of the Celery queue names (poll, jobs, notify)")
    db_pool_size: int = Field(
        default=10, ge=1, le=100,
        description="PostgreSQL connections kept per process; at least api_threads, or connections beyond the pool are "
                    "closed and reopened all the time under load")
    db_max_overflow: int = Field(default=10, ge=0, le=200, description="extra connections a process may open")

    @model_validator(mode="after")
    def _fill_paths(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir / 'dcops.db'}"
        if self.secret_key_file is None:
            self.secret_key_file = self.data_dir / "secret.key"
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config_file = os.environ.get("DCOPS_CONFIG")
        if config_file:
            sources.append(YamlConfigSettingsSource(settings_cls, yaml_file=config_file))
        return tuple(sources)


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings (cached; call ``get_settings.cache_clear()`` to reload)."""
    return Settings()
