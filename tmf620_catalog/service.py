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


class CatalogService:
    def __init__(self, database: Database, validators: SchemaValidators, settings: Settings) -> None:  # type: ignore[type-arg]
        policy = domain.CatalogPolicy()

        def service(resource_type: ResourceType) -> ResourceService:
            repository = ResourceRepository(database[COLLECTIONS[resource_type.key]])
            return ResourceService(resource_type, repository, validators, settings, policy)

        self.catalogs = service(domain.CATALOG)
        self.categories = service(domain.CATEGORY)
        self.product_specifications = service(domain.PRODUCT_SPECIFICATION)
        self.product_offerings = service(domain.PRODUCT_OFFERING)
        self.product_offering_prices = service(domain.PRODUCT_OFFERING_PRICE)
        self._by_key = {s.type.key: s for s in (
            self.catalogs, self.categories, self.product_specifications, self.product_offerings,
            self.product_offering_prices,
        )}

    def _lookup(self, key: str, entity_id: str) -> dict[str, Any] | None:
        found = self._by_key[key].repository.get(entity_id)
        return None if found is None else found.body

    def resolve_offering(self, offering_id: str, at: str | None = None) -> domain.ResolvedOffering:
        """The offering with its bundle tree and specifications; CatalogResolutionError names what is missing."""
        return domain.resolve_offering(offering_id, at or utc_now(), self._lookup)
