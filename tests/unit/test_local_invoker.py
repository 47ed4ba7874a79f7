"""The local runtime's function processes behave like Lambda instances: a crashed or timed-out
instance answers with an error and is replaced by a fresh one on the next call."""

import os
import time
from dataclasses import replace

import pytest

from infra import manifest
from infra.local.invoker import IMPORT_PATH, FunctionError, Worker

SPEC = replace(manifest.function("overdue"), timeout_s=1)


def _worker(handler: str) -> Worker:
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": IMPORT_PATH, "TZ": ":UTC"}
    worker = Worker(SPEC, env=env, function_name="propdesk-test-overdue", region="ap-southeast-1", log=None,
                    handler=handler)  # fmt: skip
    assert worker.start(0.0) is None
    return worker


def test_a_function_process_answers_with_its_own_environment_and_context():
    worker = _worker("tests.workerfixtures.echo")
    try:
        answer = worker.invoke({"x": 1}, 0.0)
        assert (answer["event"], answer["function"]) == ({"x": 1}, "propdesk-test-overdue")
        assert answer["tz"].lstrip(":") == "UTC"  # as Lambda's (time-machine writes it as "UTC")
    finally:
        worker.stop()
    assert worker.process is None or worker.process.poll() is not None


def test_a_crashed_instance_is_an_error_then_a_fresh_instance_takes_the_next_call():
    worker = _worker("tests.workerfixtures.crash")
    try:
        with pytest.raises(FunctionError) as crashed:
            worker.invoke({}, 0.0)
        assert crashed.value.error_type == "Runtime.ExitError"
        assert "exit code 3" in str(crashed.value)
        # the next call starts a new process (it crashes again, with the same clear error)
        with pytest.raises(FunctionError, match="exit code 3"):
            worker.invoke({}, 0.0)
    finally:
        worker.stop()


def test_an_invocation_past_the_timeout_is_stopped_and_the_next_one_runs():
    worker = _worker("tests.workerfixtures.sleepy")
    try:
        started = time.monotonic()
        with pytest.raises(FunctionError) as timed_out:
            worker.invoke({"seconds": 30}, 0.0)
        assert timed_out.value.error_type == "Task timed out"
        assert time.monotonic() - started < 10
        assert worker.invoke({"seconds": 0}, 0.0) == {"slept": 0}
    finally:
        worker.stop()


def test_a_worker_stopped_before_it_started_leaves_no_process():
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": IMPORT_PATH}
    worker = Worker(SPEC, env=env, function_name="f", region="ap-southeast-1", log=None,
                    handler="tests.workerfixtures.echo")  # fmt: skip
    worker.stop()
    assert worker.process is not None and worker.process.poll() is not None


def test_infrastructure_26_a_function_started_without_a_declared_resource_fails_its_cold_start(demo_config):
    # GIVEN the overdue function's environment as its spec gives it, less one table
    from infra.local.resources import LocalResources

    resources = LocalResources(
        property_id="demo",
        property_config_env=demo_config.to_env_json(),
        queue_urls={"messages": "http://127.0.0.1:1/queue/propdesk-demo-messages"},
    )
    env = resources.function_env(manifest.function("overdue"))
    del env["BILLS_TABLE"]
    env.update(
        {
            "PATH": os.environ["PATH"],
            "PYTHONPATH": IMPORT_PATH,
            "AWS_LAMBDA_FUNCTION_NAME": "propdesk-demo-overdue",
        }
    )
    # WHEN its process starts (as the local runtime starts it)
    worker = Worker(
        manifest.function("overdue"), env=env, function_name="f", region="ap-southeast-1", log=None
    )
    try:
        why = worker.start(0.0)
    finally:
        worker.stop()
    # THEN it does not come up, and says which setting it lacks
    assert why is not None and "BILLS_TABLE" in why and "ConfigurationMissing" in why
