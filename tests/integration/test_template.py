"""template.yaml and its companions (samconfig.toml, events/, the Dockerfile), checked without AWS or Docker.

- `sam validate --lint` (the SAM CLI in .venv-sam, `make sam-cli`) and cfn-lint with its informational
  rules report nothing;
- the template's security properties: private encrypted bucket, TLS-only bucket policy, lifecycle on
  tasks/, least-privilege function policy scoped to the bucket, the API key on every route but
  GET /health and GET /openapi.json (conditions resolved both ways), reserved concurrency, access logs
  with retention, presigned URLs capped at the role credentials' lifetime;
- every parameter is in the console's parameter groups and the README's parameter table;
- what SAM makes of it: the transformed template (every route a Lambda proxy integration of the
  generator, one invoke permission per event) and the routes `sam local start-api` would serve;
- the sample events are API Gateway REST proxy events for routes the API has.
Without .venv-sam the SAM checks are skipped locally and fail in CI.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
EVENTS = ROOT / "events"
DOCKERFILE = ROOT / "functions" / "api" / "Dockerfile"
SAM_VENV = ROOT / ".venv-sam"
SAM_ENV = {"SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "us-east-1"}
ANY = "x-amazon-apigateway-any-method"
FUNCTION = "GeneratorFunction"
README = ROOT / "README.md"
# The only routes callers reach without an API key when RequireApiKey=true; every other method needs one.
OPEN = {("/health", "get"), ("/openapi.json", "get")}
NO_VALUE = {"Ref": "AWS::NoValue"}

# Runs in .venv-sam: SAM's own transform of the template, and the routes `sam local start-api` finds.
SAM_PROBE = r"""
import json, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse
from samcli.lib.providers.api_provider import ApiProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

class NoManagedPolicies:
    def load(self):
        return {}

path = sys.argv[1]
template = yaml_parse(open(path).read())
for resource in template["Resources"].values():
    properties = resource.get("Properties", {})
    if resource["Type"] == "AWS::Serverless::Function" and properties.get("PackageType") == "Image":
        properties["ImageUri"] = "123456789012.dkr.ecr.us-east-1.amazonaws.com/hng:built"  # as sam build does
transformed = transform(template, {}, NoManagedPolicies())
stacks, _ = SamLocalStackProvider.get_stacks(path)
api = ApiProvider(stacks).api
routes = [{"path": r.path, "methods": sorted(r.methods), "function": r.function_name} for r in api.routes]
print(json.dumps({"transformed": transformed, "routes": routes, "binary": list(api.binary_media_types)}))
"""


class TemplateLoader(yaml.SafeLoader):
    """Reads CloudFormation's short-form tags (!Ref, !Sub, !GetAtt, !If ...) as their long forms."""


def _intrinsic(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


TemplateLoader.add_multi_constructor("!", _intrinsic)


def _missing(what: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{what} (required in CI; `make sam-cli` installs it)")
    pytest.skip(f"{what}; `make sam-cli` installs it")


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return yaml.load(TEMPLATE.read_text(), Loader=TemplateLoader)  # a SafeLoader subclass


@pytest.fixture(scope="module")
def resources(template) -> dict[str, Any]:
    return template["Resources"]


@pytest.fixture(scope="module")
def sam_bin() -> Path:
    bin_dir = SAM_VENV / "bin"
    if not (bin_dir / "sam").is_file():
        _missing(f"the SAM CLI is not installed in {SAM_VENV}")
    return bin_dir


def run_tool(command: list[str]) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **SAM_ENV}
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def sam_probe(sam_bin) -> dict[str, Any]:
    result = run_tool([str(sam_bin / "python"), "-c", SAM_PROBE, str(TEMPLATE)])
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def function_properties(resources: dict[str, Any]) -> dict[str, Any]:
    return resources[FUNCTION]["Properties"]


def refers_to_bucket(value: Any) -> bool:
    text = json.dumps(value)
    return '"Fn::GetAtt": ["Bucket", "Arn"]' in text or "${Bucket.Arn}" in text or "${Bucket}" in text


def api_events(resources: dict[str, Any]) -> dict[str, dict[str, Any]]:
    events = function_properties(resources)["Events"]
    return {name: event["Properties"] for name, event in events.items() if event["Type"] == "Api"}


def swagger_method(method: str) -> str:
    return ANY if method.lower() == "any" else method.lower()


def resolve(value: Any, conditions: dict[str, bool]) -> Any:
    """`value` with every Fn::If decided by `conditions`; keys and items that resolve to AWS::NoValue go."""
    if isinstance(value, dict):
        if set(value) == {"Fn::If"}:
            name, when_true, when_false = value["Fn::If"]
            return resolve(when_true if conditions[name] else when_false, conditions)
        resolved = {key: resolve(item, conditions) for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item != NO_VALUE}
    if isinstance(value, list):
        items = [resolve(item, conditions) for item in value]
        return [item for item in items if item != NO_VALUE]
    return value


def fill_context_variables(text: str) -> str:
    """An API Gateway log or response template with sample values, as API Gateway substitutes them."""
    quoted = {"$context.error.messageString": '"Forbidden"'}  # API Gateway adds the quotes itself
    return re.sub(r"\$context(\.[A-Za-z]+)+", lambda match: quoted.get(match.group(), "sample"), text)


def accepts(parameter: dict[str, Any], value: str) -> bool:
    """Whether CloudFormation would accept `value` for a String parameter with an AllowedPattern."""
    return re.fullmatch(parameter["AllowedPattern"], value) is not None


# --- lint ---------------------------------------------------------------------------------------------


def test_sam_validate_lint_reports_nothing(sam_bin):
    result = run_tool([str(sam_bin / "sam"), "validate", "--lint", "--template", str(TEMPLATE)])
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    assert result.stdout.strip() == f"{TEMPLATE} is a valid SAM Template", result.stdout


def test_cfn_lint_with_informational_rules_reports_nothing(sam_bin):
    result = run_tool([str(sam_bin / "cfn-lint"), "--include-checks", "I", "--", str(TEMPLATE)])
    assert result.returncode == 0 and not result.stdout.strip(), f"{result.stdout}\n{result.stderr}"


# --- parameters and outputs ---------------------------------------------------------------------------


def test_parameters_have_the_documented_defaults_and_limits(template):
    parameters = template["Parameters"]
    defaults = {name: str(spec.get("Default")) for name, spec in parameters.items()}
    assert defaults["Stage"] == "dev" and defaults["RetentionDays"] == "7"
    assert defaults["UrlExpirySeconds"] == "3600" and parameters["UrlExpirySeconds"]["MaxValue"] == 21600
    assert defaults["MemorySize"] == "1024" and defaults["LogLevel"] == "INFO"
    assert defaults["RequireApiKey"] == "false"
    assert parameters["RequireApiKey"]["AllowedValues"] == ["true", "false"]
    assert {"ThrottlingRateLimit", "ThrottlingBurstLimit", "LogRetentionDays"} <= set(parameters)
    assert defaults["ReservedConcurrency"] == "50" and defaults["CreateApiGatewayAccountRole"] == "false"


def test_url_expiry_is_capped_at_the_lifetime_of_the_role_credentials(template):
    # The function signs with its role's temporary credentials: a URL outlives them by nothing, and a role
    # session lasts at most 6 hours. SigV4's 7 days hold only for long-term (IAM user) keys.
    expiry = template["Parameters"]["UrlExpirySeconds"]
    assert expiry["Type"] == "Number" and expiry["MinValue"] == 1 and expiry["MaxValue"] == 6 * 3600
    assert expiry["Default"] <= expiry["MaxValue"]
    rule = expiry["ConstraintDescription"]
    assert "21600" in rule and "temporary credentials" in rule


def test_every_parameter_is_in_exactly_one_parameter_group(template):
    groups = template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    grouped = [name for group in groups for name in group["Parameters"]]
    assert sorted(grouped) == sorted(template["Parameters"])


def test_readme_parameter_table_names_every_parameter(template):
    text = README.read_text()
    start = text.index("## Deploying to AWS (SAM)")
    section = text[start : text.index("\n## ", start + 1)]
    documented: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            documented.update(re.findall(r"`([A-Za-z]+)`", line.split("|")[1]))
    assert set(template["Parameters"]) <= documented, set(template["Parameters"]) - documented


def test_outputs_name_the_api_url_bucket_function_and_key(template):
    outputs = template["Outputs"]
    assert outputs["ApiUrl"]["Value"] == {
        "Fn::Sub": "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${Stage}"
    }
    assert outputs["BucketName"]["Value"] == {"Ref": "Bucket"}
    assert outputs["GeneratorFunctionArn"]["Value"] == {"Fn::GetAtt": [FUNCTION, "Arn"]}
    assert outputs["ApiAccessLogGroupName"]["Value"] == {"Ref": "ApiAccessLogGroup"}
    assert outputs["ApiKeyId"]["Condition"] == "UseApiKey"
    assert outputs["ApiKeyId"]["Value"] == {"Ref": "ApiKey"}


# --- the bucket ---------------------------------------------------------------------------------------


def test_bucket_is_private_encrypted_and_owner_enforced(resources):
    bucket = resources["Bucket"]["Properties"]
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (encryption,) = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert bucket["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    assert "BucketName" not in bucket  # CloudFormation names it: no clash between stacks or accounts


def test_bucket_policy_denies_requests_without_tls(resources):
    policy = resources["BucketPolicy"]["Properties"]
    assert policy["Bucket"] == {"Ref": "Bucket"}
    denials = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    insecure = [s for s in denials if s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}]
    assert len(insecure) == 1
    (statement,) = insecure
    assert statement["Principal"] == "*" and statement["Action"] == "s3:*"
    assert statement["Resource"] == [{"Fn::GetAtt": ["Bucket", "Arn"]}, {"Fn::Sub": "${Bucket.Arn}/*"}]


def test_lifecycle_expires_tasks_after_the_retention_days(resources):
    rules = resources["Bucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert all(rule["Status"] == "Enabled" for rule in rules)
    expiring = [rule for rule in rules if "ExpirationInDays" in rule]
    assert expiring == [{**expiring[0], "Prefix": "tasks/", "ExpirationInDays": {"Ref": "RetentionDays"}}]
    assert any(rule.get("AbortIncompleteMultipartUpload") for rule in rules)


# --- the function -------------------------------------------------------------------------------------


def test_function_is_the_image_built_by_the_dockerfile(template, resources):
    function = resources[FUNCTION]
    assert function["Properties"]["PackageType"] == "Image"
    assert function["Metadata"]["DockerContext"] == "."
    assert ROOT / function["Metadata"]["Dockerfile"] == DOCKERFILE
    assert function["Metadata"]["DockerTag"]
    settings = {**template["Globals"]["Function"], **function["Properties"]}
    assert settings["MemorySize"] == {"Ref": "MemorySize"} and 3 <= settings["Timeout"] <= 900
    assert settings["Tracing"] == "Active"
    assert settings["LoggingConfig"] == {"LogGroup": {"Ref": "GeneratorLogGroup"}}
    assert resources["GeneratorLogGroup"]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_function_environment_configures_the_handler(template, resources):
    env = {
        **template["Globals"]["Function"]["Environment"]["Variables"],
        **function_properties(resources)["Environment"]["Variables"],
    }
    assert env["HNG_BUCKET"] == {"Ref": "Bucket"}
    assert env["HNG_URL_EXPIRES"] == {"Ref": "UrlExpirySeconds"}
    assert env["POWERTOOLS_SERVICE_NAME"] == "hng" and env["POWERTOOLS_METRICS_NAMESPACE"] == "hng"
    assert env["POWERTOOLS_LOG_LEVEL"] == env["LOG_LEVEL"] == {"Ref": "LogLevel"}
    assert env["NO_ALBUMENTATIONS_UPDATE"] == "1"
    assert env["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"  # no presigned URL or image in X-Ray
    assert "HNG_MNIST_PATH" not in env  # the code finds /opt/mnist/mnist.npz in the image by itself


def test_function_s3_permissions_are_least_privilege_on_the_bucket(resources):
    policies = function_properties(resources)["Policies"]
    assert all(isinstance(policy, dict) and "Statement" in policy for policy in policies), (
        "inline statements only: SAM policy templates such as S3CrudPolicy grant more than needed"
    )
    statements = [statement for policy in policies for statement in policy["Statement"]]
    actions: set[str] = set()
    for statement in statements:
        assert statement["Effect"] == "Allow"
        names = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        actions.update(names)
        if any(name.startswith("s3:") for name in names):
            assert "*" not in json.dumps(statement["Resource"]).replace("/tasks/*", ""), statement
            assert refers_to_bucket(statement["Resource"]), statement
    assert actions == {"s3:PutObject", "s3:GetObject", "s3:DeleteObject", "s3:ListBucket"}
    objects = next(s for s in statements if "s3:GetObject" in s["Action"])
    assert objects["Resource"] == {"Fn::Sub": "${Bucket.Arn}/tasks/*"}
    listing = next(s for s in statements if s["Action"] in ("s3:ListBucket", ["s3:ListBucket"]))
    assert listing["Resource"] == {"Fn::GetAtt": ["Bucket", "Arn"]}
    # Unconditioned: S3 evaluates ListBucket for a GetObject of a missing key without any s3:prefix, so a
    # prefix condition would turn every missing task into a 403, which the handler answers 503.
    assert "Condition" not in listing


# --- the API ------------------------------------------------------------------------------------------


def test_api_stage_throttles_traces_and_passes_png_through(resources):
    api = resources["Api"]["Properties"]
    assert resources["Api"]["Type"] == "AWS::Serverless::Api"
    assert api["StageName"] == {"Ref": "Stage"} and api["TracingEnabled"] is True
    assert "image~1png" in api["BinaryMediaTypes"]
    (settings,) = api["MethodSettings"]
    assert (settings["ResourcePath"], settings["HttpMethod"]) == ("/*", "*")
    assert settings["ThrottlingRateLimit"] == {"Ref": "ThrottlingRateLimit"}
    assert settings["ThrottlingBurstLimit"] == {"Ref": "ThrottlingBurstLimit"}


def test_api_key_and_usage_plan_exist_only_when_required(template, resources):
    assert template["Conditions"]["UseApiKey"] == {"Fn::Equals": [{"Ref": "RequireApiKey"}, "true"]}
    for name in ("ApiKey", "UsagePlan", "UsagePlanKey"):
        assert resources[name]["Condition"] == "UseApiKey", name
    plan = resources["UsagePlan"]["Properties"]
    assert plan["ApiStages"] == [{"ApiId": {"Ref": "Api"}, "Stage": {"Ref": "Api.Stage"}}]
    paths = resources["Api"]["Properties"]["DefinitionBody"]["paths"]
    for path, methods in paths.items():
        for method, spec in methods.items():
            expected = None if (path, method) in OPEN else {"Fn::If": ["UseApiKey", [{"api_key": []}], []]}
            assert spec.get("security") == expected, (path, method)


@pytest.mark.parametrize("key_required", [True, False], ids=["RequireApiKey=true", "RequireApiKey=false"])
def test_api_key_guards_every_route_to_the_function_but_health_and_openapi_get(resources, key_required):
    # A route without the key requirement lets anyone without a key invoke (and bill) the function: the
    # ANY methods, /{proxy+} and / included. Only GET /health and GET /openapi.json stay open.
    body = resolve(resources["Api"]["Properties"]["DefinitionBody"], {"UseApiKey": key_required})
    assert body["securityDefinitions"]["api_key"] == {"type": "apiKey", "name": "x-api-key", "in": "header"}
    assert "security" not in body  # no API-wide default for a method to fall back on
    paths = body["paths"]
    routes = {(path, method): spec for path, methods in paths.items() for method, spec in methods.items()}
    assert set(routes) > OPEN and ("/{proxy+}", ANY) in routes and ("/", ANY) in routes
    for route, spec in routes.items():
        if route in OPEN:
            assert "security" not in spec, route
        elif key_required:
            assert spec.get("security") == [{"api_key": []}], route
        else:
            assert spec.get("security") == [], route


def test_function_reserved_concurrency_follows_the_parameter(template, resources):
    parameter = template["Parameters"]["ReservedConcurrency"]
    assert parameter["Type"] == "String" and parameter["Default"] == "50"
    assert all(accepts(parameter, value) for value in ("none", "1", "50", "99999"))
    assert not any(accepts(parameter, value) for value in ("0", "-1", "", "050", "50.5", "None", "100000"))
    assert template["Conditions"]["HasReservedConcurrency"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ReservedConcurrency"}, "none"]}]
    }
    settings = {**template["Globals"]["Function"], **function_properties(resources)}
    reserved = resolve(settings, {"HasReservedConcurrency": True})
    assert reserved["ReservedConcurrentExecutions"] == {"Ref": "ReservedConcurrency"}
    assert "ReservedConcurrentExecutions" not in resolve(settings, {"HasReservedConcurrency": False})


def test_api_access_logs_go_to_a_log_group_with_retention(resources):
    group = resources["ApiAccessLogGroup"]
    assert group["Type"] == "AWS::Logs::LogGroup" and group["DeletionPolicy"] == "Delete"
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    setting = resources["Api"]["Properties"]["AccessLogSetting"]
    arn = "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${ApiAccessLogGroup}"
    assert setting["DestinationArn"] == {"Fn::Sub": arn}  # the group's plain ARN, without GetAtt's ":*"
    record = json.loads(fill_context_variables(setting["Format"]))  # one JSON object per request
    expected = {"requestId", "ip", "method", "path", "status", "latency", "responseLength", "userAgent"}
    assert expected | {"apiKeyId"} <= set(record)
    assert "$context.requestId" in setting["Format"]  # API Gateway rejects a format without it
    assert '$context.identity.apiKey"' not in setting["Format"]  # the key itself must never be logged


def test_api_gateway_log_role_is_set_only_when_asked(template, resources):
    parameter = template["Parameters"]["CreateApiGatewayAccountRole"]
    assert parameter["AllowedValues"] == ["true", "false"] and parameter["Default"] == "false"
    assert template["Conditions"]["CreateApiGatewayAccount"] == {
        "Fn::Equals": [{"Ref": "CreateApiGatewayAccountRole"}, "true"]
    }
    role, account = resources["ApiGatewayCloudWatchRole"], resources["ApiGatewayAccount"]
    assert role["Condition"] == account["Condition"] == "CreateApiGatewayAccount"
    # The account-wide setting outlives the stack; deleting the role would stop every API's logs.
    assert role["DeletionPolicy"] == "Retain"
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert trust["Effect"] == "Allow" and trust["Action"] == "sts:AssumeRole"
    assert role["Properties"]["ManagedPolicyArns"] == [
        {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"}
    ]
    assert "Policies" not in role["Properties"]
    assert account["Properties"] == {"CloudWatchRoleArn": {"Fn::GetAtt": ["ApiGatewayCloudWatchRole", "Arn"]}}
    # The stage (with its access logs) is created only after the role is set, when this stack sets it.
    metadata = resources["Api"]["Metadata"]
    assert resolve(metadata, {"CreateApiGatewayAccount": True}) == {
        "ApiGatewayAccount": {"Ref": "ApiGatewayAccount"}
    }
    assert resolve(metadata, {"CreateApiGatewayAccount": False}) == {}


def test_function_invocation_failure_answers_503_in_the_api_error_format(resources):
    # At its reserved concurrency the function is throttled; API Gateway would answer a bare 500.
    response = resources["Api"]["Properties"]["GatewayResponses"]["INTEGRATION_FAILURE"]
    assert response["StatusCode"] == "503"
    assert response["ResponseParameters"] == {"Headers": {"Retry-After": "'1'"}}
    body = json.loads(fill_context_variables(response["ResponseTemplates"]["application/json"]))
    assert set(body) == {"statusCode", "message", "errors", "requestId"} and body["statusCode"] == 503


def test_definition_body_and_function_events_name_the_same_routes(resources):
    paths = resources["Api"]["Properties"]["DefinitionBody"]["paths"]
    declared = {(path, method) for path, methods in paths.items() for method in methods}
    events = api_events(resources)
    routed = {(event["Path"], swagger_method(event["Method"])) for event in events.values()}
    assert declared == routed
    assert all(event["RestApiId"] == {"Ref": "Api"} for event in events.values())
    # Every documented route, and ANY on each path so the handler answers 404/405 instead of API Gateway.
    documented = {
        ("/health", "get"),
        ("/openapi.json", "get"),
        ("/generate", "post"),
        ("/generate/{taskId}", "get"),
    }
    assert documented <= declared
    assert {(path, ANY) for path in paths} <= declared
    for path, methods in paths.items():
        for method, spec in methods.items():
            integration = spec["x-amazon-apigateway-integration"]
            assert (integration["type"], integration["httpMethod"]) == ("aws_proxy", "POST"), (path, method)
            assert f"${{{FUNCTION}.Arn}}" in integration["uri"]["Fn::Sub"], (path, method)


def test_sam_transform_keeps_routes_permissions_and_conditions(sam_probe, resources):
    transformed = sam_probe["transformed"]["Resources"]
    body = transformed["Api"]["Properties"]["Body"]
    assert body["x-amazon-apigateway-binary-media-types"] == ["image/png"]
    assert body["paths"] == resources["Api"]["Properties"]["DefinitionBody"]["paths"]
    permissions = [r for r in transformed.values() if r["Type"] == "AWS::Lambda::Permission"]
    assert len(permissions) == len(api_events(resources))
    assert all(p["Properties"]["FunctionName"] == {"Ref": FUNCTION} for p in permissions)
    stages = [r for r in transformed.values() if r["Type"] == "AWS::ApiGateway::Stage"]
    assert len(stages) == 1 and stages[0]["Properties"]["StageName"] == {"Ref": "Stage"}
    assert transformed[FUNCTION]["Properties"]["PackageType"] == "Image"
    for name in ("ApiKey", "UsagePlan", "UsagePlanKey"):
        assert transformed[name]["Condition"] == "UseApiKey"
    stage = stages[0]["Properties"]
    assert stage["AccessLogSetting"] == resources["Api"]["Properties"]["AccessLogSetting"]
    assert stage["TracingEnabled"] is True
    # The reference that orders the API after the account's log role survives the transform.
    assert transformed["Api"]["Type"] == "AWS::ApiGateway::RestApi"
    assert transformed["Api"]["Metadata"] == resources["Api"]["Metadata"]
    deployment = stages[0]["Properties"]["DeploymentId"]["Ref"]
    assert transformed[deployment]["Properties"]["RestApiId"] == {"Ref": "Api"}
    assert body["x-amazon-apigateway-gateway-responses"]["INTEGRATION_FAILURE"]["statusCode"] == "503"
    reserved = transformed[FUNCTION]["Properties"]["ReservedConcurrentExecutions"]
    assert reserved == {"Fn::If": ["HasReservedConcurrency", {"Ref": "ReservedConcurrency"}, NO_VALUE]}


def test_sam_local_serves_every_path_from_the_generator(sam_probe, resources):
    paths = set(resources["Api"]["Properties"]["DefinitionBody"]["paths"])
    routes = sam_probe["routes"]
    assert {route["path"] for route in routes} == paths
    assert all(route["function"] == FUNCTION for route in routes)
    assert all({"GET", "POST", "DELETE"} <= set(route["methods"]) for route in routes)
    assert "image/png" in sam_probe["binary"]


# --- sample events ------------------------------------------------------------------------------------


def test_sample_events_are_valid_json():
    names = sorted(path.name for path in EVENTS.glob("*.json"))
    assert {"api_health.json", "api_generate.json", "api_get_task.json", "direct_generate.json"} <= set(names)
    for path in EVENTS.glob("*.json"):
        assert isinstance(json.loads(path.read_text()), dict), path.name


def test_api_events_are_rest_proxy_events_for_declared_routes(resources):
    paths = resources["Api"]["Properties"]["DefinitionBody"]["paths"]
    for path in sorted(EVENTS.glob("api_*.json")):
        event = json.loads(path.read_text())
        context = event["requestContext"]
        assert event["httpMethod"] == context["httpMethod"], path.name
        assert event["resource"] == context["resourcePath"], path.name
        assert context["requestId"] and context["stage"] and event["path"].startswith("/"), path.name
        assert event["httpMethod"].lower() in paths[event["resource"]], path.name
        template_path = re.sub(r"\{[^}]+\}", "[^/]+", event["resource"])
        assert re.fullmatch(template_path, event["path"]), path.name
        assert event["isBase64Encoded"] is False and isinstance(event["headers"], dict), path.name
        if event["httpMethod"] == "POST":
            assert event["headers"]["Content-Type"] == "application/json"
            assert json.loads(event["body"])["number"] == 42


def test_direct_event_carries_the_generate_fields():
    event = json.loads((EVENTS / "direct_generate.json").read_text())
    assert "httpMethod" not in event
    assert event == {"augment": "true", "number": 42, "spacing_min": 5, "spacing_max": 10, "image_width": 56}


# --- samconfig.toml and the Dockerfile ----------------------------------------------------------------


def test_samconfig_defaults_deploy_the_template(template):
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    assert config["version"] == 0.1
    default = config["default"]
    assert default["global"]["parameters"]["stack_name"] == "hng"
    assert default["validate"]["parameters"]["lint"] is True
    deploy = default["deploy"]["parameters"]
    assert deploy["capabilities"] == "CAPABILITY_IAM" and deploy["confirm_changeset"] is True
    assert deploy["resolve_s3"] is True and deploy["resolve_image_repos"] is True
    overrides = dict(item.split("=", 1) for item in deploy["parameter_overrides"])
    assert set(overrides) == set(template["Parameters"])
    for name, value in overrides.items():
        assert value == str(template["Parameters"][name]["Default"]), name
    assert default["local_start_api"]["parameters"]["port"] == 3000


def test_dockerfile_only_copies_the_bundle_into_the_python312_base_image():
    lines = [
        line.strip()
        for line in DOCKERFILE.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert "ARG BASE_IMAGE=public.ecr.aws/lambda/python:3.12" in lines and "FROM ${BASE_IMAGE}" in lines
    assert "COPY build/bundle/task/ ${LAMBDA_TASK_ROOT}/" in lines
    assert "COPY build/bundle/opt/ /opt/" in lines
    assert not [line for line in lines if line.startswith(("ADD", "COPY")) and "build/bundle/" not in line]
    runs = [line for line in lines if line.startswith("RUN")]
    assert all("compileall" in line and "pip" not in line for line in runs), runs
    assert lines[-1] == 'CMD ["functions.api.app.lambda_handler"]'
    handler = ROOT / "functions" / "api" / "app.py"
    assert re.search(r"^def lambda_handler\(", handler.read_text(), re.MULTILINE)
