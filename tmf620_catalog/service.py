"""The catalog's use cases: the five resources' shared behaviour and the offering resolver."""

from __future__ import annotations

from typing import Any

from pymongo.database import Database

from tmf620_catalog import domain
from tmf620_catalog.repository import COLLECTIONS
from tmf_common.clock import utc_now
from tmf_common.repository import ResourceRepository
from tmf_common.resource_service import ResourceService, ResourceType
from tmf_common.schemas import SchemaValidators
from tmf_common.settings import Settings
from tmf_common.write_guard import WriteGuard


class CatalogService:
    def __init__(
        self, database: Database, validators: SchemaValidators, settings: Settings, guard: WriteGuard | None = None
    ) -> None:
        repositories = {key: ResourceRepository(database[name], guard) for key, name in COLLECTIONS.items()}

        def service(resource_type: ResourceType) -> ResourceService:
            policy = domain.CatalogPolicy(self._referrer_finder(repositories, resource_type.key))
            return ResourceService(resource_type, repositories[resource_type.key], validators, settings, policy)

        self.catalogs = service(domain.CATALOG)
        self.categories = service(domain.CATEGORY)
        self.product_specifications = service(domain.PRODUCT_SPECIFICATION)
        self.product_offerings = service(domain.PRODUCT_OFFERING)
        self.product_offering_prices = service(domain.PRODUCT_OFFERING_PRICE)
        self._by_key = {
            s.type.key: s
            for s in (
                self.catalogs,
                self.categories,
                self.product_specifications,
                self.product_offerings,
                self.product_offering_prices,
            )
        }

    def services(self) -> list[ResourceService]:
        return list(self._by_key.values())

    @staticmethod
    def _referrer_finder(repositories: dict[str, ResourceRepository], key: str) -> domain.ReferrerFinder:
        def find_referrer(entity_id: str) -> str | None:
            for referring_key, path in domain.REFERENCES[key]:
                found = repositories[referring_key].find_one({path: entity_id})
                if found is not None:
                    return f"{referring_key} '{found.body['id']}'"
            return None

        return find_referrer

    def _lookup(self, key: str, entity_id: str) -> dict[str, Any] | None:
        found = self._by_key[key].repository.get(entity_id)
        return None if found is None else found.body

    def resolve_offering(self, offering_id: str, at: str | None = None) -> domain.ResolvedOffering:
        """The offering with its bundle tree and specifications; CatalogResolutionError names what is missing."""
        return domain.resolve_offering(offering_id, at or utc_now(), self._lookup)
