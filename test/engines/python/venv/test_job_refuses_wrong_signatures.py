"""A SavedModel whose signature differs from the upstream one is refused by the Job, with its exit code and a message
that names the tensor; the other networks' exports are replaced by constant graphs, so each case converts one model."""

from __future__ import annotations

import pytest

from job_run import constant_export, run_job
from omniglue_conversion.errors import EXIT_CONTRACT, EXIT_EXPORT
from savedmodels import saved_model
from omniglue_conversion.termination import termination_reason


@pytest.fixture(scope="module")
def good():
    return {"superpoint": saved_model("superpoint"), "matcher": saved_model("matcher")}


def test_a_superpoint_whose_input_is_not_called_image_fails_the_export(tmp_path, contract_path, good):
    renamed = saved_model("superpoint", "--input-key", "input")
    run = run_job(tmp_path, contract_path, renamed, good["matcher"], replaced={"omniglue": constant_export})
    assert run.code == EXIT_EXPORT
    assert run.error["kind"] == "export"
    assert "graph input for contract tensor 'image': no match among ['input']" in run.error["message"]
    assert not run.published.exists()


def test_a_matcher_taking_an_int64_width_fails_the_contract_check(tmp_path, contract_path, good):
    wrong = saved_model("matcher", "--dtype", "width0=int64")
    run = run_job(tmp_path, contract_path, good["superpoint"], wrong, replaced={"superpoint": constant_export})
    assert run.code == EXIT_CONTRACT
    message = run.error["message"]
    assert "model 'omniglue' input 'width0': element type expected TYPE_INT32 (INT32), ONNX has INT64" in message
    assert message.startswith("1 mismatch(es) between the ONNX models and the contract")
    assert termination_reason("contract", EXIT_CONTRACT, message).startswith("contract (exit 6): 1 mismatch(es)")
    assert not run.published.exists()
