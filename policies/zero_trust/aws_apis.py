"""Zero-trust rules for AWS API Gateway (REST methods and HTTP/WebSocket routes need an
authorizer; stages keep access logs) and CloudTrail (every region, validated, encrypted,
logging, S3 data events)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from pulumi_policy.proxy import UnknownValueError

from policies.core.props import as_list, get, items
from policies.core.rule import Params, Resource, Stack, rule
from policies.zero_trust import PACK
from policies.zero_trust.aws import known

REST_METHOD = "aws:apigateway/method:Method"
ROUTE = "aws:apigatewayv2/route:Route"
HTTP_API = "aws:apigatewayv2/api:Api"
STAGES = ("aws:apigateway/stage:Stage", "aws:apigatewayv2/stage:Stage")
TRAIL = "aws:cloudtrail/trail:Trail"


def _protocol(stack: Stack, route: Resource) -> str:
    """The protocol (HTTP or WEBSOCKET) of the API a route depends on (its apiId is that
    API's id), or "" when the API is not in the stack."""
    apis = [api for api in stack.of_type(HTTP_API) if api.urn in route.dependencies]
    return str(known(apis[0].props, "protocolType") or "").upper() if len(apis) == 1 else ""


def _open_route(stack: Stack, route: Resource) -> str | None:
    key = str(get(route.props, "routeKey", "")).strip()
    if str(get(route.props, "authorizationType", "NONE")).upper() != "NONE":
        return None
    if key.split(" ", 1)[0].upper() == "OPTIONS":
        return None  # CORS preflight carries no credentials
    # A WebSocket API authorizes on $connect alone; its other routes take no authorizer.
    websocket = _protocol(stack, route) == "WEBSOCKET" or (" " not in key and key != "$default")
    if websocket and key != "$connect":
        return None
    return f"route '{key}' has no authorization (authorizationType NONE)"


@rule(
    PACK,
    name="aws-apigateway-authorization",
    description=(
        "API Gateway REST methods and HTTP API routes (and quick-create HTTP APIs), and WebSocket $connect routes, "
        "have an authorizer: authorization NONE only for OPTIONS (CORS preflight)."
    ),
    severity="high",
    remediation=(
        "Set authorization (REST) or authorizationType (HTTP, WebSocket $connect) to AWS_IAM, COGNITO_USER_POOLS, "
        "JWT or CUSTOM with an authorizerId; API keys identify clients, they do not authorize them."
    ),
)
def apigateway_authorization(stack: Stack, params: Params) -> Iterable[tuple[str, str]]:
    for method in stack.of_type(REST_METHOD):
        verb = str(known(method.props, "httpMethod") or "").upper()
        if str(known(method.props, "authorization") or "").upper() == "NONE" and verb != "OPTIONS":
            yield method.urn, f"method {verb or '?'} of {method.name} has no authorization (authorization NONE)"
    for route in stack.of_type(ROUTE):
        try:
            found = _open_route(stack, route)
        except UnknownValueError:
            continue  # not known until deployment: the other routes are still judged
        if found:
            yield route.urn, f"{route.name}: {found}"
    for api in stack.of_type(HTTP_API):
        # Quick create: `target` makes a default route with no authorizer.
        if known(api.props, "target") and str(known(api.props, "protocolType") or "").upper() == "HTTP":
            yield api.urn, f"{api.name}: the quick-create route (target) has no authorization"


@rule(
    PACK,
    name="aws-apigateway-access-logging",
    description="API Gateway stages (REST, HTTP and WebSocket) write access logs.",
    severity="medium",
    remediation=(
        "Set accessLogSettings: {destinationArn: <a CloudWatch log group or Firehose ARN>, format: <a JSON "
        "format with $context.requestId, identity and status>}."
    ),
    types=STAGES,
)
def apigateway_access_logging(resource: Resource, params: Params) -> Iterable[str]:
    if not get(resource.props, "accessLogSettings.destinationArn"):
        yield "no access logs (accessLogSettings.destinationArn)"


@rule(
    PACK,
    name="aws-cloudtrail-hardened",
    description="CloudTrail trails log every region, validate their log files, encrypt them with KMS and are on.",
    severity="high",
    remediation=(
        "Set isMultiRegionTrail: true, enableLogFileValidation: true, kmsKeyId: <a customer-managed key> and "
        "leave enableLogging true."
    ),
    types=(TRAIL,),
)
def cloudtrail_hardened(resource: Resource, params: Params) -> Iterable[str]:
    if get(resource.props, "enableLogging") is False:
        yield "logging is switched off (enableLogging false)"
    if get(resource.props, "isMultiRegionTrail") is not True:
        yield "only one region is logged (isMultiRegionTrail is not true)"
    if get(resource.props, "enableLogFileValidation") is not True:
        yield "log files are not validated (enableLogFileValidation is not true)"
    if not get(resource.props, "kmsKeyId"):
        yield "log files are not encrypted with a KMS key (kmsKeyId)"


# An S3 data resource for every bucket: arn:aws:s3 or arn:aws:s3::: (in any partition).
_ALL_BUCKETS = re.compile(r"arn:[\w-]+:s3(:::)?")
# Advanced selector fields that do not narrow S3 data events to some buckets or calls.
_BROAD_FIELDS = ("eventcategory", "resources.type", "readonly")
_EXCLUDING = ("notEquals", "notStartsWiths", "notEndsWiths")


def _classic_s3(trail: Resource) -> set[str]:
    """Which of "read" and "write" a trail's event selectors log for every bucket's objects."""
    logged: set[str] = set()
    for selector in items(trail.props, "eventSelectors"):
        every = any(
            get(data, "type") == "AWS::S3::Object"
            and any(_ALL_BUCKETS.fullmatch(str(value)) for value in as_list(get(data, "values")))
            for data in items(selector, "dataResources")
        )
        kind = str(get(selector, "readWriteType", "All"))
        if every:
            logged |= {"read", "write"} if kind == "All" else {"read"} if kind == "ReadOnly" else {"write"}
    return logged


def _advanced_s3(trail: Resource) -> set[str]:
    logged: set[str] = set()
    for selector in items(trail.props, "advancedEventSelectors"):
        fields = {str(get(f, "field", "")).lower(): f for f in items(selector, "fieldSelectors")}
        equals = {name: [str(v) for v in as_list(get(f, "equals"))] for name, f in fields.items()}
        arn = fields.pop("resources.arn", None)
        only_excludes = arn is None or all(key in _EXCLUDING for key in arn if key != "field" and get(arn, key))
        if (
            equals.get("eventcategory") == ["Data"]
            and equals.get("resources.type") == ["AWS::S3::Object"]
            and set(fields) <= set(_BROAD_FIELDS)
            and only_excludes
        ):
            read_only = [v.lower() for v in equals.get("readonly", [])]
            logged |= {"read", "write"} if not read_only else {"read"} if read_only == ["true"] else {"write"}
    return logged


@rule(
    PACK,
    name="aws-cloudtrail-s3-data-events",
    description=(
        "A stack that declares CloudTrail trails logs S3 object-level reads and writes (data events) for every "
        "bucket in at least one of them."
    ),
    severity="medium",
    remediation=(
        "Add eventSelectors [{readWriteType: All, dataResources: [{type: AWS::S3::Object, values: "
        "['arn:aws:s3']}]}], or an advanced event selector with eventCategory Data and resources.type "
        "AWS::S3::Object, to an enabled trail."
    ),
)
def cloudtrail_s3_data_events(stack: Stack, params: Params) -> Iterable[tuple[str, str]]:
    trails = [t for t in stack.of_type(TRAIL) if known(t.props, "enableLogging") is not False]
    logged: set[str] = set()
    for trail in trails:
        try:
            logged |= _classic_s3(trail) | _advanced_s3(trail)
        except UnknownValueError:
            logged |= {"read", "write"}  # not known until deployment: not judged
    missing = [kind for kind in ("write", "read") if kind not in logged]
    if trails and missing:
        first = min(trails, key=lambda trail: trail.name)
        kinds = " or ".join(f"{kind}s" for kind in missing)
        yield first.urn, f"no trail logs S3 object-level {kinds} (data events) for every bucket"
