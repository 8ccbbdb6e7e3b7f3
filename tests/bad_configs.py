"""The corpus of bad configs: name -> (config text, the line of the mistake, what its message or hint says).
The fast tier loads each in-process (tests/unit/test_config_errors_unit.py); the end-to-end tests
(tests/test_config_errors.py) run the CLI on a few, and on those that only the workers' torch can find."""

from __future__ import annotations

MODELS = """
import torch
def double(x):
    return x * 2
class Net(torch.nn.Module):
    def forward(self, x):
        return x + 1
"""

GOOD_ENTRY = """\
  - name: ok
    function: models.py:double
    inputs:
      - args: [{shape: [3]}]
"""

BAD = {
    "yaml_syntax": ("version: 1\nmodels:\n  - name: a\n    function: [unclosed\n", 5, "YAML syntax error"),
    "misspelt_key": ("version: 1\nmodels:\n" + GOOD_ENTRY + "    backend: [eager]\n", 7, "did you mean 'backends'"),
    "wrong_type": ("version: 1\nmodels:\n" + GOOD_ENTRY + "    timeout: fast\n", 7, "must be a number"),
    "missing_model_file": ("version: 1\nmodels:\n  - name: a\n    model: nowhere.py:Net\n", 4,
                           "file 'nowhere.py' not found"),
    "duplicate_name": ("version: 1\nmodels:\n" + GOOD_ENTRY + GOOD_ENTRY, 7, "duplicate model name 'ok'"),
    "unknown_dist": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n    inputs:\n"
                     "      - args: [{shape: [3], dist: gaussian}]\n", 6, "unknown dist 'gaussian'"),
    "misspelt_dist": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n    inputs:\n"
                      "      - args: [{shape: [3], dist: randm}]\n", 6, "did you mean 'rand"),
    "no_version": ("models:\n" + GOOD_ENTRY, 1, "start the file with 'version: 1'"),
    "unknown_dtype": ("version: 1\ndefaults:\n  dtype: float31\nmodels:\n" + GOOD_ENTRY, 3, "did you mean 'float32'"),
    "unknown_device": ("version: 1\ndefaults:\n  device: gpu\nmodels:\n" + GOOD_ENTRY, 3, "use auto, cpu, cuda"),
    "xfail_unknown_backend": ("version: 1\nmodels:\n" + GOOD_ENTRY + "    xfail: {inductr: bug}\n", 7,
                              "did you mean 'inductor'"),
    "duplicate_key": ("version: 1\nversion: 1\nmodels:\n" + GOOD_ENTRY, 2, "duplicate key 'version'"),
    "shape_not_ints": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n    inputs:\n"
                       "      - args: [{shape: [3, x]}]\n", 6, "list of non-negative integers"),
    "both_model_and_function": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n"
                                "    model: models.py:Net\n", 3, "exactly one of"),
    "unknown_module": ("version: 1\nmodels:\n  - name: a\n    model: no_such_package.sub:Net\n", 4,
                       "no module named 'no_such_package'"),
    "python_tag_not_executed": ("version: 1\nmodels: !!python/object/apply:os.system ['touch PWNED']\n", 2,
                                "YAML"),
    "randint_empty_range": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n    inputs:\n"
                            "      - args: [{shape: [3], dist: randint, low: 5, high: 5}]\n", 6,
                            "'low' (5) must be below 'high' (5)"),
    "int_requires_grad": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n    inputs:\n"
                          "      - args: [{shape: [3], dtype: int64, requires_grad: true}]\n", 6,
                          "only floating-point tensors can require grad"),
    "value_without_full": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n    inputs:\n"
                           "      - args: [{shape: [3], value: 2}]\n", 6, "'value' only applies to dist 'full'"),
    "unknown_mode": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n    inputs:\n"
                     "      - args: [{shape: [3]}]\n    backends: [{backend: inductor, mode: max-autotun}]\n", 7,
                     "did you mean 'max-autotune'"),
    "unknown_inductor_option": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n    inputs:\n"
                                "      - args: [{shape: [3]}]\n"
                                "    backends: [{backend: inductor, options: {max_autotun: true}}]\n", 7,
                                "unknown inductor option 'max_autotun'"),
    "mode_and_options": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n    inputs:\n"
                         "      - args: [{shape: [3]}]\n    backends:\n"
                         "      - {backend: inductor, mode: max-autotune,\n"
                         "         options: {max_autotune: true}}\n", 9,
                         "'mode' and 'options' together"),
    "unknown_dynamo_option": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n    inputs:\n"
                              "      - args: [{shape: [3]}]\n    dynamo_config: {alow_rnn: true}\n", 7,
                              "did you mean 'allow_rnn'"),
    "unknown_dim_in_shape": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n"
                             "    dims: {B: 4}\n    inputs:\n      - args: [{shape: [b, 3]}]\n", 7,
                             "unknown dim 'b'"),
    "dim_zero": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n    dims:\n      B: 0\n"
                 "    inputs:\n      - args: [{shape: [B]}]\n", 6, "dim 'B' must be a positive integer"),
    "dim_bool": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n    dims: {B: true}\n"
                 "    inputs:\n      - args: [{shape: [3]}]\n", 5, "got True"),
    "sweep_unknown_dim": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n    dims: {B: 4}\n"
                          "    inputs:\n      - args: [{shape: [B]}]\n    sweep: {C: [1]}\n", 8,
                          "sweep of unknown dim 'C'"),
    "sweep_not_a_list": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n    dims: {B: 4}\n"
                         "    inputs:\n      - args: [{shape: [B]}]\n    sweep: {B: 2}\n", 8,
                         "must be a non-empty list of positive integers"),
    "sweep_value_negative": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n"
                             "    dims: {B: 4}\n    inputs:\n      - args: [{shape: [B]}]\n    sweep:\n"
                             "      B:\n        - 1\n        - -2\n", 11,
                             "sweep value of 'B' must be a positive integer, got -2"),
    "sweep_of_an_unused_dim": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n"
                               "    dims: {B: 4, T: 8}\n    inputs:\n      - args: [{shape: [B]}]\n"
                               "    sweep:\n      B: [1]\n      T: [3]\n", 10,
                               "sweep of 'T', which no shape of input set 1 uses"),
    "sweep_without_inputs": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n"
                             "    dims: {B: 4}\n    sweep: {B: [1]}\n", 6, "'sweep' needs listed 'inputs:'"),
    "sweep_as_default": ("version: 1\ndefaults:\n  sweep: {B: [1]}\nmodels:\n" + GOOD_ENTRY, 3,
                         "'sweep' cannot be a default"),
    "unknown_backend": ("version: 1\nmodels:\n  - name: a\n    function: models.py:double\n    inputs:\n"
                        "      - args: [{shape: [3]}]\n    backends: [aot_eagre]\n", 7, "did you mean 'aot_eager'"),
}


# Found after the workers start, by their torch (config/torchcheck.py): only a run of the CLI sees these.
TORCH_CHECKED = frozenset({"unknown_mode", "unknown_inductor_option", "unknown_dynamo_option", "unknown_backend"})
