"""The fake secrets the tests provision (conftest's ``aws`` fixture) and sign with. A module of
its own: importing ``tests.conftest`` as a module would run its set-up a second time."""

TEST_WEBHOOK_SECRET = "whsec_test_secret"
TEST_STRIPE_KEY = "sk_test_local"
TEST_LINK_KEY = "test-link-signing-key-0123456789abcdef"
