"""template.yaml and its companions (samconfig.toml, events/, the Dockerfile), checked without AWS or Docker.

- `sam validate --lint` (the SAM CLI in .venv-sam, `make sam-cli`) and cfn-lint with its informational
  rules report nothing;
- the template's security properties: private encrypted bucket, TLS-only bucket policy, lifecycle on
  tasks/, least-privilege function policy scoped to the bucket, the API key on every route but
  GET /health, GET /openapi.json and the browser pages (conditions resolved both ways), reserved
  concurrency, access logs with retention, presigned URLs capped at the role credentials' lifetime;
- the dataset state machine: its definition (statemachines/dataset.asl.json) after CloudFormation's
  substitutions (a Distributed Map reading items.json from S3, MaxConcurrency and the tolerated failure
  percentage bound to parameters, retries with backoff and jitter, the failure path), the shard worker and
  finalizer from the generator's image, and the IAM scoping of all three roles (no wildcard actions);
- every parameter is in the console's parameter groups and the README's parameter table;
- what SAM makes of it: the transformed template (every route a Lambda proxy integration of the
  generator, one invoke permission per event) and the routes `sam local start-api` would serve;
- the sample events are API Gateway REST proxy events for routes the API has.
Without .venv-sam the SAM checks are skipped locally and fail in CI.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.paths import REPO as ROOT

TEMPLATE = ROOT / "template.yaml"
EVENTS = ROOT / "events"
DOCKERFILE = ROOT / "functions" / "api" / "Dockerfile"
DEFINITION = ROOT / "statemachines" / "dataset.asl.json"
SAM_VENV = ROOT / ".venv-sam"
SAM_ENV = {"SAM_CLI_TELEMETRY": "0", "AWS_DEFAULT_REGION": "us-east-1"}
ANY = "x-amazon-apigateway-any-method"
FUNCTION = "GeneratorFunction"
STATE_MACHINE = "DatasetStateMachine"
# The dataset functions: logical id -> the handler ImageConfig.Command names in the generator's image.
DATASET_FUNCTIONS = {
    "ShardWorkerFunction": "functions.datasets.worker.lambda_handler",
    "DatasetFinalizerFunction": "functions.datasets.finalizer.lambda_handler",
}
QUEUE_FUNCTION = "QueueFunction"  # the request queue's (issue 18), on when EventDriven is true
IMAGE_FUNCTIONS = (FUNCTION, *DATASET_FUNCTIONS, QUEUE_FUNCTION)  # one container image
LAMBDA_RETRY_ERRORS = {
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
}
# The only Allow statements that may name Resource "*": actions without resource-level permissions.
UNSCOPED_ACTIONS = {
    "logs:CreateLogDelivery",
    "logs:GetLogDelivery",
    "logs:UpdateLogDelivery",
    "logs:DeleteLogDelivery",
    "logs:ListLogDeliveries",
    "logs:PutResourcePolicy",
    "logs:DescribeResourcePolicies",
    "logs:DescribeLogGroups",
    "xray:PutTraceSegments",
    "xray:PutTelemetryRecords",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
}
EXECUTIONS_ARN = (
    "arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:execution:${DatasetStateMachine.Name}"
)
DEPLOY_DOCS = ROOT / "docs" / "aws" / "deploy.md"  # the docs page with the parameter table
# The only routes callers reach without an API key when RequireApiKey=true; every other method needs one.
# The browser pages (the playground, the API docs and the docs' files) are opened by navigation, which
# cannot send x-api-key; they hold no data and send the key themselves on the API calls they make.
OPEN = {
    ("/health", "get"),
    ("/openapi.json", "get"),
    ("/", "get"),
    ("/docs", "get"),
    ("/docs/{asset}", "get"),
}
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
    if resource["Type"] == "AWS::Serverless::StateMachine":  # a local DefinitionUri, uploaded by sam package
        properties["DefinitionUri"] = "s3://artifacts/hng/" + properties["DefinitionUri"]
transformed = transform(template, {}, NoManagedPolicies())
stacks, _ = SamLocalStackProvider.get_stacks(path)
api = ApiProvider(stacks).api
routes = [{"path": r.path, "methods": sorted(r.methods), "function": r.function_name} for r in api.routes]
print(json.dumps({"transformed": transformed, "routes": routes, "binary": list(api.binary_media_types)}))
"""

# Runs in .venv-sam: the build graph `sam build` would follow (one entry per image or zip it builds).
SAM_BUILD_PROBE = r"""
import json, sys
from samcli.lib.build.app_builder import ApplicationBuilder
from samcli.lib.providers.provider import ResourcesToBuildCollector
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

template, build_dir = sys.argv[1], sys.argv[2]
stacks, _ = SamLocalStackProvider.get_stacks(template)
collector = ResourcesToBuildCollector()
collector.add_functions(list(SamFunctionProvider(stacks).get_all()))
builder = ApplicationBuilder(collector, build_dir, ".", build_dir + "/cache")
graph = builder._get_build_graph()
print(json.dumps([sorted(f.name for f in d.functions) for d in graph.get_function_build_definitions()]))
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


PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")


def sample_function_arn(logical_id: str) -> str:
    return f"arn:aws:lambda:us-east-1:123456789012:function:hng-{logical_id}-0A1B2C3D4E5F"


def substitution_values(template: dict[str, Any], parameters: dict[str, Any]) -> dict[str, str]:
    """What CloudFormation puts for each DefinitionSubstitutions key: parameter values (their defaults unless
    given) and sample ARNs for the functions' GetAtt Arn."""
    substitutions = template["Resources"][STATE_MACHINE]["Properties"]["DefinitionSubstitutions"]
    values = {}
    for key, value in substitutions.items():
        if set(value) == {"Ref"} and value["Ref"] in template["Parameters"]:
            values[key] = str(parameters.get(value["Ref"], template["Parameters"][value["Ref"]]["Default"]))
        elif set(value) == {"Fn::GetAtt"} and value["Fn::GetAtt"][1] == "Arn":
            values[key] = sample_function_arn(value["Fn::GetAtt"][0])
        else:
            raise AssertionError(f"unexpected substitution {key}: {value}")
    return values


def load_definition(template: dict[str, Any], **parameters: Any) -> dict[str, Any]:
    """The state machine definition as Step Functions gets it: the file with the substitutions made."""
    text = DEFINITION.read_text()
    values = substitution_values(template, parameters)
    missing = set(PLACEHOLDER.findall(text)) - set(values)
    assert not missing, f"placeholders without a DefinitionSubstitutions entry: {missing}"
    return json.loads(PLACEHOLDER.sub(lambda match: values[match.group(1)], text))


def distributed_map(definition: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    maps = [
        (name, state)
        for name, state in definition["States"].items()
        if state["Type"] == "Map"
        and state.get("ItemProcessor", {}).get("ProcessorConfig", {}).get("Mode") == "DISTRIBUTED"
    ]
    assert len(maps) == 1, maps
    return maps[0]


def all_states(states: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every state, those inside a Map's ItemProcessor (or Iterator) and a Parallel's Branches included."""
    found = dict(states)
    for state in states.values():
        for inner in (state.get("ItemProcessor"), state.get("Iterator"), *state.get("Branches", [])):
            if inner:
                found.update(all_states(inner["States"]))
    return found


def lambda_tasks(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    states = all_states(definition["States"])
    return {
        name: state
        for name, state in states.items()
        if state.get("Resource") == "arn:aws:states:::lambda:invoke"
    }


def actions_of(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def inline_statements(policies: list[Any], conditions: dict[str, bool] | None = None) -> list[dict[str, Any]]:
    """The statements of SAM Policies; every entry must be an inline document (SAM policy templates such as
    S3CrudPolicy or LambdaInvokePolicy grant more than needed). Conditional statements are resolved with
    `conditions`, by default those of a stack with the default parameters (no MnistS3Uri)."""
    policies = resolve(policies, {"HasMnistS3Uri": False} if conditions is None else conditions)
    assert all(isinstance(policy, dict) and "Statement" in policy for policy in policies), policies
    return [statement for policy in policies for statement in policy["Statement"]]


def allow_statements(value: Any) -> list[dict[str, Any]]:
    """Every Allow statement anywhere in `value`: roles, policies, functions' Policies, trust policies."""
    found = []
    if isinstance(value, dict):
        if "Effect" in value and "Action" in value:
            return [value] if value["Effect"] == "Allow" else []
        for item in value.values():
            found += allow_statements(item)
    elif isinstance(value, list):
        for item in value:
            found += allow_statements(item)
    return found


def assert_no_wildcard_actions(resources: dict[str, Any]) -> None:
    statements = allow_statements(resources)
    assert statements
    # In a KMS key's own policy, Resource "*" is that key: the form key policies must use.
    key_policies = allow_statements({n: r for n, r in resources.items() if r.get("Type") == "AWS::KMS::Key"})
    for statement in statements:
        actions = actions_of(statement)
        assert not any("*" in action for action in actions), statement
        if statement in key_policies:
            assert all(action.startswith("kms:") for action in actions), statement
        elif statement.get("Resource") == "*" or "*" in statement.get("Resource", []):
            assert set(actions) <= UNSCOPED_ACTIONS, statement


@pytest.fixture(scope="module")
def definition(template) -> dict[str, Any]:
    return load_definition(template)


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


def test_dataset_parameters_have_the_documented_defaults_and_limits(template):
    parameters = template["Parameters"]
    expected = {
        # name: (default, min, max)
        "MaxDatasetImages": (10_000_000, 1, 1_000_000_000),
        "MaxConcurrency": (100, 1, 10_000),  # a Distributed Map runs at most 10,000 child executions at once
        "ToleratedFailurePercentage": (0, 0, 100),
        "WorkerMemorySize": (2048, 512, 10240),
        "WorkerTimeout": (300, 30, 900),  # Lambda's limit: 900 s
        "FinalizerMemorySize": (2048, 512, 10240),
        "FinalizerTimeout": (900, 30, 900),
    }
    for name, (default, low, high) in expected.items():
        spec = parameters[name]
        assert spec["Type"] == "Number", name
        assert (spec["Default"], spec["MinValue"], spec["MaxValue"]) == (default, low, high), name
        assert spec["Description"], name


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
    section = DEPLOY_DOCS.read_text()  # the whole "Deploying to AWS (SAM)" page
    documented: set[str] = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            documented.update(re.findall(r"`([A-Za-z][A-Za-z0-9]*)`", line.split("|")[1]))
    assert set(template["Parameters"]) <= documented, set(template["Parameters"]) - documented


def test_outputs_name_the_api_url_bucket_function_and_key(template):
    outputs = template["Outputs"]
    assert outputs["ApiUrl"]["Value"] == {
        "Fn::Sub": "https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${Stage}"
    }
    assert outputs["BucketName"]["Value"] == {"Ref": "Bucket"}
    assert outputs["GeneratorFunctionArn"]["Value"] == {"Fn::GetAtt": [FUNCTION, "Arn"]}
    assert outputs["ApiAccessLogGroupName"]["Value"] == {"Ref": "ApiAccessLogGroup"}
    assert outputs["DatasetStateMachineArn"]["Value"] == {"Ref": STATE_MACHINE}
    assert outputs["ShardWorkerFunctionName"]["Value"] == {"Ref": "ShardWorkerFunction"}
    assert outputs["DatasetFinalizerFunctionName"]["Value"] == {"Ref": "DatasetFinalizerFunction"}
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
    assert env["HNG_DATASET_STATE_MACHINE_ARN"] == {"Ref": STATE_MACHINE}  # Ref gives the ARN
    assert env["HNG_MAX_DATASET_IMAGES"] == {"Ref": "MaxDatasetImages"}
    assert env["POWERTOOLS_SERVICE_NAME"] == "hng" and env["POWERTOOLS_METRICS_NAMESPACE"] == "hng"
    assert env["POWERTOOLS_LOG_LEVEL"] == env["LOG_LEVEL"] == {"Ref": "LogLevel"}
    assert env["NO_ALBUMENTATIONS_UPDATE"] == "1"
    assert env["POWERTOOLS_TRACER_CAPTURE_RESPONSE"] == "false"  # no presigned URL or image in X-Ray
    assert "HNG_MNIST_PATH" not in env  # the code finds /opt/mnist/mnist.npz in the image by itself


def test_function_s3_permissions_are_least_privilege_on_the_bucket(resources):
    statements = inline_statements(function_properties(resources)["Policies"])
    assert all(statement["Effect"] == "Allow" for statement in statements)
    s3 = [statement for statement in statements if any(a.startswith("s3:") for a in actions_of(statement))]
    assert all(refers_to_bucket(statement["Resource"]) for statement in s3), s3
    objects = {
        json.dumps(s["Resource"]): set(actions_of(s)) for s in s3 if "s3:ListBucket" not in actions_of(s)
    }
    assert objects == {
        # Tasks: put the PNG and metadata, read them back, delete an image whose metadata failed.
        json.dumps({"Fn::Sub": "${Bucket.Arn}/tasks/*"}): {"s3:PutObject", "s3:GetObject", "s3:DeleteObject"},
        # Datasets: write the plan, items and job, read the manifest and sign the shards; no deleting.
        json.dumps({"Fn::Sub": "${Bucket.Arn}/datasets/*"}): {"s3:PutObject", "s3:GetObject"},
        # A restart removes the failed run's failure.json, and nothing else.
        json.dumps({"Fn::Sub": "${Bucket.Arn}/datasets/*/failure.json"}): {"s3:DeleteObject"},
        # style background: the user's paper images, read only.
        json.dumps({"Fn::Sub": "${Bucket.Arn}/backgrounds/*"}): {"s3:GetObject"},
    }
    (listing,) = [s for s in s3 if "s3:ListBucket" in actions_of(s)]
    assert actions_of(listing) == ["s3:ListBucket"]
    assert listing["Resource"] == {"Fn::GetAtt": ["Bucket", "Arn"]}
    # Unconditioned: S3 evaluates ListBucket for a GetObject of a missing key without any s3:prefix, so a
    # prefix condition would turn every missing task into a 403, which the handler answers 503.
    assert "Condition" not in listing
    others = {a for s in statements for a in actions_of(s) if not a.startswith(("s3:", "dynamodb:", "kms:"))}
    assert others == {
        "states:StartExecution",
        "states:DescribeExecution",
        "states:StopExecution",
        "events:PutEvents",
    }
    (announce,) = [s for s in statements if "events:PutEvents" in actions_of(s)]
    assert "event-bus/${EventBusName}" in announce["Resource"]["Fn::Sub"]
    # Idempotency-Key: its item's four calls on the one table, nothing else of DynamoDB.
    (keys,) = [s for s in statements if any(a.startswith("dynamodb:") for a in actions_of(s))]
    assert set(actions_of(keys)) == {
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
        "dynamodb:DeleteItem",
    }
    assert keys["Resource"] == {"Fn::GetAtt": ["IdempotencyTable", "Arn"]}


def test_the_idempotency_table_matches_the_code_and_expires_its_items(resources):
    from hng.service.idempotency import TABLE_KEY, TTL_ATTRIBUTE

    table = resources["IdempotencyTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": TABLE_KEY, "KeyType": "HASH"}]
    assert table["AttributeDefinitions"] == [{"AttributeName": TABLE_KEY, "AttributeType": "S"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["SSESpecification"] == {
        "SSEEnabled": True,
        "SSEType": "KMS",
        "KMSMasterKeyId": {"Ref": "DataKey"},
    }
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    # Its key: rotated, administered by the account, usable by EventBridge (for the queues) in this account.
    key = resources["DataKey"]["Properties"]
    assert key["EnableKeyRotation"] is True
    principals = [s["Principal"] for s in key["KeyPolicy"]["Statement"]]
    assert {"Service": "events.amazonaws.com"} in principals and "*" not in json.dumps(principals)
    statements = inline_statements(function_properties(resources)["Policies"])
    (use,) = [s for s in statements if any(a.startswith("kms:") for a in actions_of(s))]
    assert set(actions_of(use)) == {"kms:Decrypt", "kms:GenerateDataKey"}
    assert use["Resource"] == {"Fn::GetAtt": ["DataKey", "Arn"]}
    env = function_properties(resources)["Environment"]["Variables"]
    assert env["HNG_IDEMPOTENCY_TABLE"] == {"Ref": "IdempotencyTable"}


# --- the API ------------------------------------------------------------------------------------------


def test_api_stage_throttles_traces_and_passes_png_through(resources):
    api = resources["Api"]["Properties"]
    assert resources["Api"]["Type"] == "AWS::Serverless::Api"
    assert api["StageName"] == {"Ref": "Stage"} and api["TracingEnabled"] is True
    assert {"image~1png", "image~1jpeg"} <= set(api["BinaryMediaTypes"])
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
def test_api_key_guards_every_route_to_the_function_but_health_openapi_and_pages_get(resources, key_required):
    # A route without the key requirement lets anyone without a key invoke (and bill) the function: the
    # ANY methods, /{proxy+} and / included. Only GET on /health, /openapi.json and the pages stays open.
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
    others = {"HasMnistS3Uri": False}  # the conditional statement of the function's Policies
    reserved = resolve(settings, {"HasReservedConcurrency": True, **others})
    assert reserved["ReservedConcurrentExecutions"] == {"Ref": "ReservedConcurrency"}
    unreserved = resolve(settings, {"HasReservedConcurrency": False, **others})
    assert "ReservedConcurrentExecutions" not in unreserved


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
    metadata = {key: value for key, value in resources["Api"]["Metadata"].items() if key != "checkov"}
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
        ("/", "get"),
        ("/docs", "get"),
        ("/docs/{asset}", "get"),
        ("/generate", "post"),
        ("/generate/{taskId}", "get"),
        ("/datasets", "post"),
        ("/datasets/{datasetId}", "get"),
        ("/datasets/{datasetId}", "delete"),
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
    assert body["x-amazon-apigateway-binary-media-types"] == ["image/png", "image/jpeg"]
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


def test_sam_transform_makes_the_state_machine_with_its_role_and_the_image_functions(sam_probe, resources):
    transformed = sam_probe["transformed"]["Resources"]
    machine = transformed[STATE_MACHINE]
    assert machine["Type"] == "AWS::StepFunctions::StateMachine"
    source = resources[STATE_MACHINE]["Properties"]
    properties = machine["Properties"]
    assert properties["StateMachineType"] == "STANDARD"
    assert properties["DefinitionS3Location"]["Key"].endswith(source["DefinitionUri"])
    assert properties["DefinitionSubstitutions"] == source["DefinitionSubstitutions"]
    # The role written in the template, not one SAM generates (whose rights no test would see).
    assert properties["RoleArn"] == {"Fn::GetAtt": ["DatasetStateMachineRole", "Arn"]}
    roles = [name for name, r in transformed.items() if r["Type"] == "AWS::IAM::Role"]
    assert sorted(roles) == sorted(
        ["ApiGatewayCloudWatchRole", "DatasetStateMachineRole"] + [f"{f}Role" for f in IMAGE_FUNCTIONS]
    )
    assert properties["TracingConfiguration"] == {"Enabled": True}
    assert properties["LoggingConfiguration"] == source["Logging"]
    for name, handler in DATASET_FUNCTIONS.items():
        function = transformed[name]["Properties"]
        assert function["PackageType"] == "Image" and function["ImageConfig"] == {"Command": [handler]}
        assert function["TracingConfig"] == {"Mode": "Active"}
    # No event, so no invoke permission: only the state machine's role may invoke them.
    permissions = [r for r in transformed.values() if r["Type"] == "AWS::Lambda::Permission"]
    assert all(p["Properties"]["FunctionName"] == {"Ref": FUNCTION} for p in permissions)
    assert (
        transformed[FUNCTION]["DependsOn"] == ["DatasetStateMachineMapRunPolicy"]
        or transformed[FUNCTION]["DependsOn"] == "DatasetStateMachineMapRunPolicy"
    )


def test_sam_build_builds_one_image_for_the_four_functions(sam_bin, tmp_path):
    command = [str(sam_bin / "python"), "-c", SAM_BUILD_PROBE, str(TEMPLATE), str(tmp_path)]
    result = run_tool(command)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [sorted(IMAGE_FUNCTIONS)]


def test_sam_transform_leaves_no_wildcard_action(sam_probe):
    assert_no_wildcard_actions(sam_probe["transformed"]["Resources"])


def test_sam_local_serves_every_path_from_the_generator(sam_probe, resources):
    paths = set(resources["Api"]["Properties"]["DefinitionBody"]["paths"])
    routes = sam_probe["routes"]
    assert {route["path"] for route in routes} == paths
    assert all(route["function"] == FUNCTION for route in routes)
    assert all({"GET", "POST", "DELETE"} <= set(route["methods"]) for route in routes)
    assert "image/png" in sam_probe["binary"]


# --- the dataset state machine -----------------------------------------------------------------------


def test_state_machine_definition_file_and_substitutions(template, resources):
    machine = resources[STATE_MACHINE]
    assert machine["Type"] == "AWS::Serverless::StateMachine"
    properties = machine["Properties"]
    assert properties["Type"] == "STANDARD"  # a Distributed Map runs in a standard workflow
    assert ROOT / properties["DefinitionUri"] == DEFINITION
    substitutions = properties["DefinitionSubstitutions"]
    assert substitutions == {
        "ShardWorkerFunctionArn": {"Fn::GetAtt": ["ShardWorkerFunction", "Arn"]},
        "FinalizerFunctionArn": {"Fn::GetAtt": ["DatasetFinalizerFunction", "Arn"]},
        "MaxConcurrency": {"Ref": "MaxConcurrency"},
        "ToleratedFailurePercentage": {"Ref": "ToleratedFailurePercentage"},
        "EventBusName": {"Ref": "EventBusName"},
    }
    # Every placeholder is substituted (else Step Functions gets "${...}" literally) and every substitution
    # is used (else a parameter silently configures nothing).
    assert set(PLACEHOLDER.findall(DEFINITION.read_text())) == set(substitutions)


def test_dataset_map_is_distributed_and_reads_the_items_from_s3(definition):
    name, state = distributed_map(definition)
    assert definition["StartAt"] == name
    # The shard list comes from datasets/{datasetId}/items.json, never from the execution input (256 KiB).
    reader = state["ItemReader"]
    assert reader["Resource"] == "arn:aws:states:::s3:getObject"
    assert reader["ReaderConfig"]["InputType"] == "JSON"
    assert reader["Parameters"]["Bucket.$"] == "$.bucket"
    key = reader["Parameters"]["Key.$"]
    assert "items.json" in key and "$.prefix" in key, key
    assert not {"ItemsPath", "Items", "Iterator"} & set(state)
    processor = state["ItemProcessor"]["ProcessorConfig"]
    assert processor == {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"}
    # Each child execution gets the worker's event: the dataset and its shard index.
    selector = state["ItemSelector"]
    assert {field.removesuffix(".$") for field in selector} == {"datasetId", "bucket", "prefix", "shard"}
    assert selector["shard.$"] == "$$.Map.Item.Value.shard"
    # 10^4 shard results would exceed the 256 KiB state payload: the Map passes its input on, unchanged,
    # and each child's output is {} (the Map still gathers them into one array before discarding it).
    assert "ResultPath" in state and state["ResultPath"] is None
    (task,) = [s for s in state["ItemProcessor"]["States"].values() if s["Type"] == "Task"]
    assert "OutputPath" in task and task["OutputPath"] is None


@pytest.mark.parametrize(
    "parameters, concurrency, tolerated",
    [({}, 100, 0), ({"MaxConcurrency": 250, "ToleratedFailurePercentage": 12.5}, 250, 12.5)],
    ids=["defaults", "overridden"],
)
def test_dataset_map_limits_follow_the_parameters(template, parameters, concurrency, tolerated):
    _, state = distributed_map(load_definition(template, **parameters))
    assert state["MaxConcurrency"] == concurrency and isinstance(state["MaxConcurrency"], int)
    assert state["ToleratedFailurePercentage"] == tolerated
    assert "ToleratedFailureCount" not in state


def test_lambda_tasks_retry_lambda_errors_with_exponential_backoff_and_jitter(definition):
    _, state = distributed_map(definition)
    processor = state["ItemProcessor"]
    shard_task = processor["States"][processor["StartAt"]]
    assert shard_task["Type"] == "Task" and shard_task["Resource"] == "arn:aws:states:::lambda:invoke"
    assert shard_task["Parameters"]["FunctionName"] == sample_function_arn("ShardWorkerFunction")
    finalize = definition["States"][state["Next"]]
    for task in (shard_task, finalize):
        retriers = task["Retry"]
        (lambda_retrier,) = [r for r in retriers if set(r["ErrorEquals"]) == LAMBDA_RETRY_ERRORS]
        assert lambda_retrier["BackoffRate"] > 1  # exponential
        assert lambda_retrier["JitterStrategy"] == "FULL"
        assert lambda_retrier["MaxAttempts"] >= 2 and lambda_retrier["IntervalSeconds"] >= 1
        # A retrier for States.ALL must come last (Step Functions rejects it elsewhere), so the Lambda
        # errors are never swallowed by a catch-all with other settings.
        assert all("States.ALL" not in r["ErrorEquals"] for r in retriers[:-1])


def test_lambda_tasks_retry_only_what_may_succeed_on_retry(definition):
    # hng.handlers.step_errors: HngUnavailable may pass on retry; a permanent error (a plan made from
    # other MNIST data, corrupt data, an invalid event) fails at once and is recorded.
    from hng.handlers.step_errors import RETRYABLE, HngPermanentlyUnavailable, StepError

    _, state = distributed_map(definition)
    processor = state["ItemProcessor"]
    shard_task = processor["States"][processor["StartAt"]]
    finalize = definition["States"][state["Next"]]
    record = definition["States"][finalize["Catch"][0]["Next"]]
    permanent = {cls.__name__ for cls in StepError.__subclasses__()} - {RETRYABLE}
    assert HngPermanentlyUnavailable.__name__ in permanent
    for task in (shard_task, finalize, record):
        retried = {name for retrier in task["Retry"] for name in retrier["ErrorEquals"]}
        assert RETRYABLE in retried
        assert retried <= LAMBDA_RETRY_ERRORS | {RETRYABLE, "States.Timeout"}, retried
        assert not retried & (permanent | {"States.ALL", "States.TaskFailed"})


def test_failures_are_recorded_by_the_finalizer_before_the_execution_fails(definition):
    map_name, state = distributed_map(definition)
    finalize_name = state["Next"]
    finalize = definition["States"][finalize_name]
    finalizer = sample_function_arn("DatasetFinalizerFunction")
    assert finalize["Resource"] == "arn:aws:states:::lambda:invoke"
    assert finalize["Parameters"]["FunctionName"] == finalizer
    assert "failed" not in finalize["Parameters"]["Payload"]
    # After the finalizer: the Dataset Job Succeeded event, then success, even if the event is not put.
    announce = definition["States"][finalize["Next"]]
    assert announce["Resource"] == "arn:aws:states:::events:putEvents"
    (entry,) = announce["Parameters"]["Entries"]
    assert entry["DetailType"] == "Dataset Job Succeeded" and entry["Source"] == "hng"
    assert definition["States"][announce["Next"]]["Type"] == "Succeed"
    assert {c["Next"] for c in announce["Catch"]} == {announce["Next"]}
    record_names = set()
    for name, task in ((map_name, state), (finalize_name, finalize)):
        (catcher,) = task["Catch"]
        assert catcher["ErrorEquals"] == ["States.ALL"], name  # tolerated-failure overruns included
        # The error goes beside the input, which keeps the datasetId, bucket and prefix the record needs.
        assert catcher["ResultPath"].startswith("$."), name
        record_names.add(catcher["Next"])
    (record_name,) = record_names
    record = definition["States"][record_name]
    assert record["Type"] == "Task" and record["Resource"] == "arn:aws:states:::lambda:invoke"
    assert record["Parameters"]["FunctionName"] == finalizer
    payload = record["Parameters"]["Payload"]
    assert payload["failed"] is True
    assert {"datasetId.$", "bucket.$", "prefix.$", "error.$", "cause.$"} <= set(payload)
    # Then the Dataset Job Failed event with the recorded reason, then the failure, event or not.
    announce = definition["States"][record["Next"]]
    assert announce["Resource"] == "arn:aws:states:::events:putEvents"
    (entry,) = announce["Parameters"]["Entries"]
    assert entry["DetailType"] == "Dataset Job Failed"
    assert {"error.$", "cause.$"} <= set(entry["Detail"])
    assert definition["States"][announce["Next"]]["Type"] == "Fail"
    assert {c["Next"] for c in announce["Catch"]} == {announce["Next"]}


def test_definition_invokes_only_its_two_functions_and_reads_only_s3(definition):
    tasks = lambda_tasks(definition)
    invoked = {task["Parameters"]["FunctionName"] for task in tasks.values()}
    assert invoked == {sample_function_arn(name) for name in DATASET_FUNCTIONS}
    states = all_states(definition["States"])
    resources = {state["Resource"] for state in states.values() if state["Type"] == "Task"}
    # What the role grants, nothing more: its two functions, and the events on the one bus.
    assert resources == {"arn:aws:states:::lambda:invoke", "arn:aws:states:::events:putEvents"}
    buses = {
        entry["EventBusName"]
        for state in states.values()
        if state.get("Resource") == "arn:aws:states:::events:putEvents"
        for entry in state["Parameters"]["Entries"]
    }
    assert buses == {"default"}  # the EventBusName parameter, substituted with its default
    assert not any("ResultWriter" in state for state in states.values())  # it would need s3:PutObject


def test_dataset_functions_run_the_generators_image_with_their_own_handler(template, resources):
    generator = resources[FUNCTION]
    for name, handler in DATASET_FUNCTIONS.items():
        function = resources[name]
        properties = function["Properties"]
        assert function["Type"] == "AWS::Serverless::Function"
        # The same Metadata as the generator, so `sam build` builds the image once for all three.
        assert function["Metadata"] == generator["Metadata"], name
        assert properties["PackageType"] == "Image"
        assert properties["ImageConfig"] == {"Command": [handler]}
        module, function_name = handler.rsplit(".", 1)
        source = ROOT / (module.replace(".", "/") + ".py")
        assert source.is_file(), f"{name}: {source} is missing"
        packaged = entry_point_target(module, function_name)
        assert packaged.__module__.startswith("hng.handlers."), packaged.__module__
        prefix = "Worker" if name == "ShardWorkerFunction" else "Finalizer"
        assert properties["MemorySize"] == {"Ref": f"{prefix}MemorySize"}
        assert properties["Timeout"] == {"Ref": f"{prefix}Timeout"}
        expected_env = {"HNG_BUCKET": {"Ref": "Bucket"}}
        if name == "DatasetFinalizerFunction":
            # The finalizer checks the Map's tolerance again (hng.settings reads it for the handler).
            expected_env["HNG_TOLERATED_FAILURE_PERCENTAGE"] = {"Ref": "ToleratedFailurePercentage"}
            handler_source = Path(sys.modules[packaged.__module__].__file__).read_text()
            assert "tolerated_failure_percentage" in handler_source
            assert "HNG_TOLERATED_FAILURE_PERCENTAGE" in (ROOT / "hng" / "settings.py").read_text()
        assert properties["Environment"]["Variables"] == expected_env, name
        assert "Events" not in properties  # invoked by the state machine only
        group = properties["LoggingConfig"]["LogGroup"]["Ref"]
        assert group != "GeneratorLogGroup"
        assert resources[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert template["Globals"]["Function"]["Tracing"] == "Active"


def test_dataset_functions_may_touch_only_dataset_objects(resources):
    for name in DATASET_FUNCTIONS:
        statements = inline_statements(resources[name]["Properties"]["Policies"])
        grants = {json.dumps(s["Resource"]): set(actions_of(s)) for s in statements if s["Effect"] == "Allow"}
        assert grants == {
            json.dumps({"Fn::Sub": "${Bucket.Arn}/datasets/*"}): {
                "s3:GetObject",
                "s3:PutObject",
                "s3:DeleteObject",
            },
            json.dumps({"Fn::GetAtt": ["Bucket", "Arn"]}): {"s3:ListBucket"},
            # The shard worker inks digits onto the paper images of style background; read only.
            **(
                {json.dumps({"Fn::Sub": "${Bucket.Arn}/backgrounds/*"}): {"s3:GetObject"}}
                if name == "ShardWorkerFunction"
                else {}
            ),
        }, name


def test_state_machine_role_invokes_its_two_functions_and_reads_only_the_items(resources):
    properties = resources[STATE_MACHINE]["Properties"]
    assert properties["Role"] == {"Fn::GetAtt": ["DatasetStateMachineRole", "Arn"]}
    assert "Policies" not in properties
    role = resources["DatasetStateMachineRole"]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "states.amazonaws.com"} and trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    assert "ManagedPolicyArns" not in role
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    assert all(s["Effect"] == "Allow" for s in statements)
    (invoke,) = [s for s in statements if "lambda:InvokeFunction" in actions_of(s)]
    assert actions_of(invoke) == ["lambda:InvokeFunction"]
    assert invoke["Resource"] == [{"Fn::GetAtt": [name, "Arn"]} for name in DATASET_FUNCTIONS]
    (read,) = [s for s in statements if any(a.startswith("s3:") for a in actions_of(s))]
    assert actions_of(read) == ["s3:GetObject"]
    assert read["Resource"] == {"Fn::Sub": "${Bucket.Arn}/datasets/*/items.json"}
    (announce,) = [s for s in statements if "events:PutEvents" in actions_of(s)]
    assert actions_of(announce) == ["events:PutEvents"]
    assert announce["Resource"]["Fn::Sub"].endswith(":event-bus/${EventBusName}")
    rest = [s for s in statements if s not in (invoke, read, announce)]
    assert all(set(actions_of(s)) <= UNSCOPED_ACTIONS and s["Resource"] == "*" for s in rest), rest
    # Its own child executions, in a separate policy (inline, the role would depend on the state machine).
    policy = resources["DatasetStateMachineMapRunPolicy"]
    assert policy["Type"] == "AWS::IAM::Policy"
    assert policy["Properties"]["Roles"] == [{"Ref": "DatasetStateMachineRole"}]
    grants = {
        json.dumps(s["Resource"]): sorted(actions_of(s))
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
    }
    assert grants == {
        json.dumps({"Ref": STATE_MACHINE}): ["states:StartExecution"],
        json.dumps({"Fn::Sub": EXECUTIONS_ARN + "/*"}): ["states:DescribeExecution", "states:StopExecution"],
    }


def test_state_machine_logs_with_retention_and_traces(resources):
    properties = resources[STATE_MACHINE]["Properties"]
    assert properties["Tracing"] == {"Enabled": True}
    logging = properties["Logging"]
    assert logging["Level"] in ("ERROR", "ALL")
    (destination,) = logging["Destinations"]
    group_arn = destination["CloudWatchLogsLogGroup"]["LogGroupArn"]
    assert group_arn == {"Fn::GetAtt": ["DatasetStateMachineLogGroup", "Arn"]}
    group = resources["DatasetStateMachineLogGroup"]
    assert group["DeletionPolicy"] == "Delete"
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert group["Properties"]["LogGroupName"]["Fn::Sub"].startswith("/aws/vendedlogs/states/")


def test_api_function_may_start_describe_and_stop_only_this_machines_executions(resources):
    statements = inline_statements(function_properties(resources)["Policies"])
    grants = {
        json.dumps(s["Resource"]): sorted(actions_of(s))
        for s in statements
        if any(a.startswith("states:") for a in actions_of(s))
    }
    assert grants == {
        json.dumps({"Ref": STATE_MACHINE}): ["states:StartExecution"],
        # Executions are named by their datasetId: execution:<state machine name>:<datasetId>.
        json.dumps({"Fn::Sub": EXECUTIONS_ARN + ":*"}): ["states:DescribeExecution", "states:StopExecution"],
    }
    # POST /datasets starts executions only once the state machine may start the Map's child executions.
    assert resources[FUNCTION]["DependsOn"] == "DatasetStateMachineMapRunPolicy"


def test_no_allow_statement_in_the_template_has_a_wildcard_action(resources):
    assert_no_wildcard_actions(resources)


def test_datasets_are_kept_only_tasks_expire(resources):
    rules = resources["Bucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    assert not [rule for rule in rules if "datasets" in json.dumps(rule)]
    assert all(rule.get("Prefix") == "tasks/" for rule in rules if "ExpirationInDays" in rule)


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
            body = json.loads(event["body"])
            assert body["number"] == 42 if event["resource"] == "/generate" else body["count"] > 0


def test_dataset_task_events_name_a_dataset_and_a_shard():
    worker = json.loads((EVENTS / "worker_shard.json").read_text())
    finalizer = json.loads((EVENTS / "finalizer.json").read_text())
    assert set(worker) == {"datasetId", "bucket", "prefix", "shard"}
    assert set(finalizer) == {"datasetId", "bucket", "prefix"}
    assert worker["prefix"] == finalizer["prefix"] == f"datasets/{worker['datasetId']}"
    direct = json.loads((EVENTS / "direct_start_dataset.json").read_text())
    assert set(direct) == {"dataset"} and direct["dataset"]["count"] > 0


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
        value = "" if value == '""' else value  # the SAM CLI takes an empty value only quoted
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
    assert entry_point_target("functions.api.app", "lambda_handler").__module__ == "hng.handlers.api"


def entry_point_target(module: str, name: str):
    """What a functions/ entry point names: the handler it imports from the package (one line, no logic)."""
    source = ROOT / (module.replace(".", "/") + ".py")
    code = [line for line in source.read_text().splitlines() if line and not line.startswith(("#", '"""'))]
    imports = [line for line in code if line.startswith("from hng.handlers.")]
    assert len(imports) == 1 and imports[0].endswith(f" import {name}"), code
    assert all(line == imports[0] or line.startswith("__all__") for line in code), code
    target = getattr(importlib.import_module(module), name)
    assert callable(target)
    return target


# --- MnistS3Uri: another digit set from S3 --------------------------------------------------------------

MNIST_FUNCTIONS = IMAGE_FUNCTIONS
SAMPLE_MNIST_URI = "s3://my-digit-sets/emnist/digits-v2.npz"


def _evaluate(value: Any, parameters: dict[str, str]) -> Any:
    """The string CloudFormation makes of Ref, Fn::Split, Fn::Join and Fn::Sub (list form) over parameters."""
    if isinstance(value, str):
        return value
    if set(value) == {"Ref"}:
        return {"AWS::Partition": "aws", **parameters}[value["Ref"]]
    if set(value) == {"Fn::Split"}:
        delimiter, source = value["Fn::Split"]
        return _evaluate(source, parameters).split(delimiter)
    if set(value) == {"Fn::Join"}:
        delimiter, items = value["Fn::Join"]
        items = _evaluate(items, parameters) if isinstance(items, dict) else items
        return delimiter.join(_evaluate(item, parameters) for item in items)
    if set(value) == {"Fn::Sub"}:
        text, variables = value["Fn::Sub"]
        names = {**{k: _evaluate(v, parameters) for k, v in variables.items()}, "AWS::Partition": "aws"}
        return PLACEHOLDER.sub(lambda match: names[match.group(1)], text.replace("${AWS::Partition}", "aws"))
    raise AssertionError(f"unexpected intrinsic {value}")


def test_mnist_s3_uri_parameter_is_empty_or_one_object(template):
    parameter = template["Parameters"]["MnistS3Uri"]
    assert parameter["Type"] == "String" and parameter["Default"] == ""
    assert parameter["Description"] and parameter["ConstraintDescription"]
    for value in ("", SAMPLE_MNIST_URI, "s3://abc/k", "s3://a.b-c/2024-05-01T10:00/set_v1.npz"):
        assert accepts(parameter, value), value
    for value in (
        "s3://bucket",  # no key
        "s3://bucket/",  # a folder
        "s3://bucket/sets/",
        "s3://ab/k.npz",  # bucket names have 3 to 63 characters
        "s3://My_Bucket/k.npz",
        "https://bucket.s3.amazonaws.com/k.npz",
        "arn:aws:s3:::bucket/k.npz",
        "s3://bucket/*",  # IAM would read these as a wildcard or a policy variable
        "s3://bucket/a?.npz",
        "s3://bucket/${aws:username}.npz",
        "s3://bucket/a b.npz",
        "s3://bucket/x/s3://other/k.npz",  # the ARN is the URI without "s3://": only one may appear
        " s3://bucket/k.npz",
    ):
        assert not accepts(parameter, value), value
    assert template["Conditions"]["HasMnistS3Uri"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "MnistS3Uri"}, ""]}]
    }


def test_every_function_gets_the_mnist_s3_uri(template, resources):
    # The API plans a dataset with the sha256 of its data and the worker and finalizer check it: all three
    # must read the same object, so the variable is global, and no function overrides it.
    from hng.mnist.locate import ENV_S3_URI

    assert template["Globals"]["Function"]["Environment"]["Variables"][ENV_S3_URI] == {"Ref": "MnistS3Uri"}
    functions = [name for name, r in resources.items() if r["Type"] == "AWS::Serverless::Function"]
    assert sorted(functions) == sorted(MNIST_FUNCTIONS)
    for name in functions:
        variables = resources[name]["Properties"].get("Environment", {}).get("Variables", {})
        assert ENV_S3_URI not in variables, name


@pytest.mark.parametrize("name", MNIST_FUNCTIONS)
def test_mnist_s3_uri_grants_get_object_on_that_object_only_when_set(resources, name):
    policies = resources[name]["Properties"]["Policies"]
    unset = inline_statements(policies, {"HasMnistS3Uri": False})
    assert "MnistS3Uri" not in json.dumps(unset)
    granted = [s for s in inline_statements(policies, {"HasMnistS3Uri": True}) if s not in unset]
    assert len(granted) == 1, granted
    (statement,) = granted
    assert statement["Effect"] == "Allow" and actions_of(statement) == ["s3:GetObject"]
    assert "Condition" not in statement
    arn = _evaluate(statement["Resource"], {"MnistS3Uri": SAMPLE_MNIST_URI})
    assert arn == "arn:aws:s3:::my-digit-sets/emnist/digits-v2.npz"
    assert _evaluate(statement["Resource"], {"MnistS3Uri": ""}) == "arn:aws:s3:::"  # never an error


def test_sam_keeps_the_conditional_grant_in_each_functions_role(sam_probe):
    transformed = sam_probe["transformed"]["Resources"]
    for name in MNIST_FUNCTIONS:
        role = transformed[f"{name}Role"]["Properties"]
        statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
        conditional = [s for s in statements if "Fn::If" in s]
        assert len(conditional) == 1, name
        condition, statement, otherwise = conditional[0]["Fn::If"]
        assert condition == "HasMnistS3Uri" and otherwise == NO_VALUE
        assert statement["Action"] == "s3:GetObject"


# --- the Architecture parameter (make deploy ARCH=...) -----------------------------------------------------

# Runs in .venv-sam: the image builds `sam build --parameter-overrides ...` would run, with their platform.
SAM_PLATFORM_PROBE = r"""
import json, sys
from samcli.lib.build.app_builder import ApplicationBuilder
from samcli.lib.providers.provider import ResourcesToBuildCollector
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider
from samcli.local.docker.utils import get_docker_platform

template, build_dir, overrides = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
stacks, _ = SamLocalStackProvider.get_stacks(template, parameter_overrides=overrides)
collector = ResourcesToBuildCollector()
collector.add_functions(list(SamFunctionProvider(stacks).get_all()))
builder = ApplicationBuilder(collector, build_dir, ".", build_dir + "/cache")
graph = builder._get_build_graph()
print(json.dumps([
    {"functions": sorted(f.name for f in d.functions), "platform": get_docker_platform(d.architecture)}
    for d in graph.get_function_build_definitions()
]))
"""


def test_architecture_parameter_sets_every_functions_architecture(template, resources):
    parameter = template["Parameters"]["Architecture"]
    assert parameter["Type"] == "String" and parameter["Default"] == "x86_64"
    assert parameter["AllowedValues"] == ["x86_64", "arm64"]
    assert "20 %" in parameter["Description"] and "GB-second" in parameter["Description"]
    assert template["Globals"]["Function"]["Architectures"] == [{"Ref": "Architecture"}]
    for name in (FUNCTION, *DATASET_FUNCTIONS):
        assert "Architectures" not in resources[name]["Properties"], name  # the global one, for one image


def test_sam_transform_gives_the_three_functions_the_architecture_parameter(sam_probe):
    transformed = sam_probe["transformed"]["Resources"]
    for name in (FUNCTION, *DATASET_FUNCTIONS):
        assert transformed[name]["Properties"]["Architectures"] == [{"Ref": "Architecture"}], name


@pytest.mark.parametrize(
    ("overrides", "platform"),
    [
        ({}, "linux/amd64"),
        ({"Architecture": "x86_64"}, "linux/amd64"),
        ({"Architecture": "arm64"}, "linux/arm64"),
    ],
)
def test_sam_build_builds_the_one_image_for_the_architecture(sam_bin, tmp_path, overrides, platform):
    probe = [str(sam_bin / "python"), "-c", SAM_PLATFORM_PROBE, str(TEMPLATE), str(tmp_path)]
    result = run_tool([*probe, json.dumps(overrides)])
    assert result.returncode == 0, result.stderr
    functions = sorted(IMAGE_FUNCTIONS)
    assert json.loads(result.stdout) == [{"functions": functions, "platform": platform}]


# --- the request queue (issue 18) ---------------------------------------------------------------------------


def test_the_request_queue_has_a_dead_letter_queue_and_reports_partial_batch_failures(template, resources):
    queue, dead = resources["RequestQueue"], resources["RequestDeadLetterQueue"]
    for resource in (queue, dead, resources[QUEUE_FUNCTION], resources["QueueLogGroup"]):
        assert resource["Condition"] == "IsEventDriven"  # EventDriven=false leaves all of it out
    assert template["Conditions"]["IsEventDriven"] == {"Fn::Equals": [{"Ref": "EventDriven"}, "true"]}
    for q in (queue, dead):
        assert q["Properties"]["KmsMasterKeyId"] == {"Ref": "DataKey"}
    assert queue["Properties"]["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["RequestDeadLetterQueue", "Arn"]},
        "maxReceiveCount": 5,
    }
    assert dead["Properties"]["MessageRetentionPeriod"] == 1209600
    function = resources[QUEUE_FUNCTION]["Properties"]
    timeout = function.get("Timeout", template["Globals"]["Function"]["Timeout"])
    assert queue["Properties"]["VisibilityTimeout"] >= 6 * timeout  # AWS's advice for event source mappings
    assert function["ImageConfig"] == {"Command": ["functions.queue.app.lambda_handler"]}
    assert entry_point_target("functions.queue.app", "lambda_handler").__module__ == "hng.handlers.queue"
    (event,) = function["Events"].values()
    assert event["Type"] == "SQS"
    mapping = event["Properties"]
    assert mapping["Queue"] == {"Fn::GetAtt": ["RequestQueue", "Arn"]}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["BatchSize"] == 10 and mapping["MaximumBatchingWindowInSeconds"] == 5
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": {"Ref": "QueueMaximumConcurrency"}}
    env = function["Environment"]["Variables"]
    assert env["HNG_DEAD_LETTER_QUEUE_URL"] == {"Ref": "RequestDeadLetterQueue"}
    assert env["HNG_IDEMPOTENCY_TABLE"] == {"Ref": "IdempotencyTable"}
    statements = inline_statements(function["Policies"])
    (send,) = [s for s in statements if any(a.startswith("sqs:") for a in actions_of(s))]
    assert actions_of(send) == ["sqs:SendMessage"]  # to the dead-letter queue only
    assert send["Resource"] == {"Fn::GetAtt": ["RequestDeadLetterQueue", "Arn"]}
    assert template["Outputs"]["RequestQueueUrl"]["Value"] == {"Ref": "RequestQueue"}


def test_dropped_specs_reach_the_request_queue_through_one_rule(resources):
    from tests.support.queue import spec_dropped_pattern

    bucket = resources["Bucket"]["Properties"]["NotificationConfiguration"]
    assert bucket == {
        "Fn::If": [
            "IsEventDriven",
            {"EventBridgeConfiguration": {"EventBridgeEnabled": True}},
            {"Ref": "AWS::NoValue"},
        ]
    }
    rule = resources["SpecDropped"]
    assert rule["Condition"] == "IsEventDriven" and rule["Properties"]["EventBusName"] == "default"
    assert rule["Properties"]["EventPattern"] == spec_dropped_pattern({"Ref": "Bucket"})
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["RequestQueue", "Arn"]}
    (statement,) = resources["RequestQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["SpecDropped", "Arn"]}}}
    grants = {
        json.dumps(s["Resource"]): actions_of(s)
        for s in inline_statements(resources[QUEUE_FUNCTION]["Properties"]["Policies"])
    }
    assert grants[json.dumps({"Fn::Sub": "${Bucket.Arn}/requests/*"})] == ["s3:GetObject"]
    assert grants[json.dumps({"Fn::Sub": "${Bucket.Arn}/requests/*.result.json"})] == ["s3:PutObject"]
