"""The HTTP API: every route of the route table, a Cognito JWT authorizer on the staff routes."""

from __future__ import annotations

import json

import jsii
from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from infra.constructs.functions import LOG_RETENTION
from infra.constructs.nag import acknowledge
from infra.manifest import FunctionSpec
from propdesk.routes import OwnerLink, ProviderSignature, Public, Route, Staff

# Route keys, not paths: a path would put owners' pay-link tokens into the access log.
_ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "requestTime": "$context.requestTimeEpoch",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "latencyMs": "$context.responseLatency",
        "integrationError": "$context.integrationErrorMessage",
        "authorizerError": "$context.authorizer.error",
    }
)


def _why_no_authorizer(route: Route) -> str:
    """The written reason a route without API Gateway's authorizer is not open to anyone."""
    audience = route.audience
    if isinstance(audience, OwnerLink):
        return (
            "Owner pay pages are opened from a notice without signing in: the function verifies the "
            "signed, expiring pay-link token in the path (scoped to one bill) and answers 404 otherwise."
        )
    if isinstance(audience, ProviderSignature):
        return (
            f"The payment provider ({audience.provider}) cannot present a Cognito token: the function "
            "verifies the provider's signature over the raw body (with a timestamp tolerance) and answers "
            "400 otherwise."
        )
    assert isinstance(audience, Public)
    return f"{route.route_key} is public by design (route table: Public()); it reveals nothing per owner."


class Api(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        property_id: str,
        routes: list[tuple[FunctionSpec, Route]],
        functions: dict[str, lambda_.IFunction],
        jwt_issuer: str,
        jwt_audience: str,
        public_url_parameter_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.http_api = apigwv2.HttpApi(
            self,
            "HttpApi",
            api_name=f"propdesk-{property_id}",
            description=f"PropDesk {property_id}: owner pay pages, staff API, Stripe webhook",
            create_default_stage=False,
        )
        access_logs = logs.LogGroup(
            self, "AccessLogs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY
        )
        self.stage = apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=self.http_api,
            stage_name="$default",
            auto_deploy=True,
            throttle=apigwv2.ThrottleSettings(rate_limit=50, burst_limit=100),
            access_log_settings=_AccessLogSettings(
                apigwv2.LogGroupLogDestination(access_logs), apigw.AccessLogFormat.custom(_ACCESS_LOG_FORMAT)
            ),
        )
        self.staff_authorizer = authorizers.HttpJwtAuthorizer(
            "StaffJwt",
            jwt_issuer,
            jwt_audience=[jwt_audience],
            authorizer_name="staff-cognito",
        )
        integrations_by_function: dict[str, integrations.HttpLambdaIntegration] = {}
        for spec, route in routes:
            if spec.name not in integrations_by_function:
                integrations_by_function[spec.name] = integrations.HttpLambdaIntegration(
                    f"{spec.name}-integration", functions[spec.name]
                )
            staff = isinstance(route.audience, Staff)
            authorizer = self.staff_authorizer if staff else apigwv2.HttpNoneAuthorizer()
            (created,) = self.http_api.add_routes(
                path=route.path,
                methods=[apigwv2.HttpMethod(route.method)],
                integration=integrations_by_function[spec.name],
                authorizer=authorizer,
            )
            if not staff:
                acknowledge(created, "AwsSolutions-APIG4", _why_no_authorizer(route))
        # Functions read the public URL at run time from here: passing the endpoint in their
        # environment would make each function depend on the API that depends on it.
        self.public_url = ssm.StringParameter(
            self,
            "PublicUrl",
            parameter_name=public_url_parameter_name,
            description="Public base URL of the PropDesk API (owners' pay links start here)",
            string_value=self.http_api.api_endpoint,
        )

    @property
    def url(self) -> str:
        return self.http_api.api_endpoint


@jsii.implements(apigwv2.IAccessLogSettings)
class _AccessLogSettings:
    """``IAccessLogSettings`` (an interface without a concrete class in aws-cdk-lib)."""

    def __init__(self, destination: apigwv2.IAccessLogDestination, log_format: apigw.AccessLogFormat) -> None:
        self._destination = destination
        self._format = log_format

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat:
        return self._format
