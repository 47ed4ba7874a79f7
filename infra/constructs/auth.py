"""Cognito user pool for staff sign-in, one group per role, and the staff console's app client."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from infra.constructs.nag import acknowledge


class StaffAuth(Construct):
    def __init__(
        self, scope: Construct, construct_id: str, *, property_id: str, roles: tuple[str, ...]
    ) -> None:
        super().__init__(scope, construct_id)
        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            user_pool_name=f"propdesk-{property_id}-staff",
            self_sign_up_enabled=False,  # administrators create staff accounts
            sign_in_aliases=cognito.SignInAliases(email=True, username=True),
            sign_in_case_sensitive=False,
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            feature_plan=cognito.FeaturePlan.ESSENTIALS,
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.user_pool,
            "AwsSolutions-COG2",
            "MFA is optional (TOTP) so a front-desk cashier without a phone can still sign in; "
            "administrators are expected to enrol TOTP, and staff accounts are created by admins only.",
        )
        acknowledge(
            self.user_pool,
            "AwsSolutions-COG8",
            "The Plus feature plan (threat protection, compromised-credential checks) is priced per "
            "active user; the staff pool holds a few admin-created accounts with a strong password policy "
            "and optional TOTP, so Essentials is enough for now.",
        )
        self.groups: dict[str, cognito.CfnUserPoolGroup] = {}
        for role in roles:
            self.groups[role] = cognito.CfnUserPoolGroup(
                self,
                f"Group-{role}",
                user_pool_id=self.user_pool.user_pool_id,
                group_name=role,
                description=f"PropDesk staff role {role}",
            )
        self.client = self.user_pool.add_client(
            "StaffConsole",
            user_pool_client_name="staff-console",
            generate_secret=False,  # a browser app cannot keep a secret
            auth_flows=cognito.AuthFlow(user_srp=True),
            prevent_user_existence_errors=True,
            access_token_validity=Duration.hours(1),
            id_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(30),
        )

    @property
    def issuer_url(self) -> str:
        return self.user_pool.user_pool_provider_url
