"""A serverless API on AWS: a Lambda function behind an API Gateway REST API (IAM
authorization, access logs) and an HTTP API (a JWT authorizer), a function URL for
service-to-service calls signed with SigV4, and the static front end in a private
bucket that only CloudFront reads (origin access control)."""

import json

import pulumi
import pulumi_aws as aws

TAGS = {"team": "checkout", "cost-center": "cc-3100", "environment": "dev", "service": "checkout-api"}
ACCOUNT = "123456789012"

key = aws.kms.Key(
    "checkout",
    description="checkout logs and front end",
    enable_key_rotation=True,
    policy=json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AccountAdministers",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                    "Action": "kms:*",
                    "Resource": "*",
                }
            ],
        }
    ),
    tags=TAGS,
)

role = aws.iam.Role(
    "checkout-fn",
    assume_role_policy=json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
            ],
        }
    ),
    tags=TAGS,
)
aws.iam.RolePolicyAttachment(
    "checkout-fn-logs",
    role=role.name,
    policy_arn="arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
)
function_logs = aws.cloudwatch.LogGroup(
    "checkout-fn", name="/aws/lambda/checkout", retention_in_days=14, kms_key_id=key.arn, tags=TAGS
)
function = aws.lambda_.Function(
    "checkout",
    name="checkout",
    role=role.arn,
    runtime="python3.12",
    handler="app.handler",
    code=pulumi.AssetArchive({"app.py": pulumi.StringAsset("def handler(event, context):\n    return {}\n")}),
    memory_size=256,
    timeout=10,
    kms_key_arn=key.arn,
    logging_config={"log_format": "JSON", "log_group": function_logs.name},
    tracing_config={"mode": "Active"},
    tags=TAGS,
)
aws.lambda_.FunctionUrl("checkout", function_name=function.name, authorization_type="AWS_IAM")

access_logs = aws.cloudwatch.LogGroup("checkout-api-access", retention_in_days=14, kms_key_id=key.arn, tags=TAGS)
rest = aws.apigateway.RestApi("checkout", endpoint_configuration={"types": "REGIONAL"}, tags=TAGS)
orders = aws.apigateway.Resource("orders", rest_api=rest.id, parent_id=rest.root_resource_id, path_part="orders")
integrations = []
for verb in ("GET", "POST"):
    method = aws.apigateway.Method(
        f"orders-{verb.lower()}", rest_api=rest.id, resource_id=orders.id, http_method=verb, authorization="AWS_IAM"
    )
    integrations.append(
        aws.apigateway.Integration(
            f"orders-{verb.lower()}",
            rest_api=rest.id,
            resource_id=orders.id,
            http_method=method.http_method,
            integration_http_method="POST",
            type="AWS_PROXY",
            uri=function.invoke_arn,
        )
    )
# Browsers' CORS preflight carries no credentials.
preflight = aws.apigateway.Method(
    "orders-options", rest_api=rest.id, resource_id=orders.id, http_method="OPTIONS", authorization="NONE"
)
integrations.append(
    aws.apigateway.Integration(
        "orders-options",
        rest_api=rest.id,
        resource_id=orders.id,
        http_method=preflight.http_method,
        type="MOCK",
        request_templates={"application/json": '{"statusCode": 200}'},
    )
)
deployment = aws.apigateway.Deployment(
    "checkout", rest_api=rest.id, opts=pulumi.ResourceOptions(depends_on=integrations)
)
aws.apigateway.Stage(
    "checkout-v1",
    rest_api=rest.id,
    deployment=deployment.id,
    stage_name="v1",
    xray_tracing_enabled=True,
    access_log_settings={
        "destination_arn": access_logs.arn,
        "format": json.dumps({"requestId": "$context.requestId", "status": "$context.status"}),
    },
    tags=TAGS,
)
aws.lambda_.Permission(
    "checkout-from-rest",
    action="lambda:InvokeFunction",
    function=function.name,
    principal="apigateway.amazonaws.com",
    source_arn=rest.id.apply(lambda api: f"arn:aws:execute-api:eu-west-1:{ACCOUNT}:{api}/*/*"),
)

http = aws.apigatewayv2.Api("checkout-http", protocol_type="HTTP", tags=TAGS)
authorizer = aws.apigatewayv2.Authorizer(
    "checkout-jwt",
    api_id=http.id,
    authorizer_type="JWT",
    identity_sources=["$request.header.Authorization"],
    jwt_configuration={"audiences": ["checkout"], "issuer": "https://auth.example.com/"},
)
http_integration = aws.apigatewayv2.Integration(
    "checkout-http",
    api_id=http.id,
    integration_type="AWS_PROXY",
    integration_uri=function.invoke_arn,
    payload_format_version="2.0",
)
aws.apigatewayv2.Route(
    "checkout-http-orders",
    api_id=http.id,
    route_key="POST /orders",
    authorization_type="JWT",
    authorizer_id=authorizer.id,
    target=pulumi.Output.concat("integrations/", http_integration.id),
)
aws.apigatewayv2.Stage(
    "checkout-http",
    api_id=http.id,
    name="$default",
    auto_deploy=True,
    access_log_settings={
        "destination_arn": access_logs.arn,
        "format": json.dumps({"requestId": "$context.requestId", "status": "$context.status"}),
    },
    tags=TAGS,
)
aws.lambda_.Permission(
    "checkout-from-http",
    action="lambda:InvokeFunction",
    function=function.name,
    principal="apigateway.amazonaws.com",
    source_arn=http.id.apply(lambda api: f"arn:aws:execute-api:eu-west-1:{ACCOUNT}:{api}/*/*"),
)

site = aws.s3.Bucket("checkout-site", tags=TAGS)
aws.s3.BucketPublicAccessBlock(
    "checkout-site",
    bucket=site.id,
    block_public_acls=True,
    block_public_policy=True,
    ignore_public_acls=True,
    restrict_public_buckets=True,
)
aws.s3.BucketServerSideEncryptionConfiguration(
    "checkout-site",
    bucket=site.id,
    rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
)
aws.s3.BucketLifecycleConfiguration(
    "checkout-site",
    bucket=site.id,
    rules=[
        {
            "id": "old-versions",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "noncurrent_version_expiration": {"noncurrent_days": 30},
            "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
        }
    ],
)
oac = aws.cloudfront.OriginAccessControl(
    "checkout-site",
    origin_access_control_origin_type="s3",
    signing_behavior="always",
    signing_protocol="sigv4",
)
cdn = aws.cloudfront.Distribution(
    "checkout-site",
    enabled=True,
    default_root_object="index.html",
    origins=[
        {"origin_id": "site", "domain_name": site.bucket_regional_domain_name, "origin_access_control_id": oac.id}
    ],
    default_cache_behavior={
        "target_origin_id": "site",
        "viewer_protocol_policy": "redirect-to-https",
        "allowed_methods": ["GET", "HEAD"],
        "cached_methods": ["GET", "HEAD"],
        "cache_policy_id": "658327ea-f89d-4fab-a63d-7e88639e58f6",
    },
    restrictions={"geo_restriction": {"restriction_type": "none"}},
    viewer_certificate={"cloudfront_default_certificate": True},
    tags=TAGS,
)
aws.s3.BucketPolicy(
    "checkout-site",
    bucket=site.id,
    policy=pulumi.Output.json_dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [site.arn, pulumi.Output.concat(site.arn, "/*")],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
                {
                    "Sid": "CloudFrontReads",
                    "Effect": "Allow",
                    "Principal": {"Service": "cloudfront.amazonaws.com"},
                    "Action": "s3:GetObject",
                    "Resource": pulumi.Output.concat(site.arn, "/*"),
                    "Condition": {"StringEquals": {"AWS:SourceArn": cdn.arn}},
                },
            ],
        }
    ),
)

aws.budgets.Budget(
    "checkout-monthly",
    budget_type="COST",
    limit_amount="200",
    limit_unit="USD",
    time_unit="MONTHLY",
    notifications=[
        {
            "comparison_operator": "GREATER_THAN",
            "threshold": threshold,
            "threshold_type": "PERCENTAGE",
            "notification_type": "ACTUAL",
            "subscriber_email_addresses": ["checkout@example.com"],
        }
        for threshold in (80, 100)
    ],
    tags=TAGS,
)
