import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from tmf_common.openapi_bundle import api_spec_path, bundle

SPECS = {
    "tmf620": "tmf620-product-catalog.yaml",
    "tmf622": "tmf622-product-ordering.yaml",
    "tmf641": "tmf641-service-ordering.yaml",
}
SCHEMAS = {name: schemathesis.openapi.from_dict(bundle(api_spec_path(f))) for name, f in SPECS.items()}


@schemathesis.pytest.parametrize(**SCHEMAS)
@settings(max_examples=20, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_fuzz(case, server, database, http):
    base = case.operation.schema.raw_schema["servers"][0]["url"]
    case.call_and_validate(base_url=server.url + base, session=http, excluded_checks=[positive_data_acceptance])
