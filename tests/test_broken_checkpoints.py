"""Every way a checkpoint can be broken ends in a one-line error naming the file, at load time.

Covers the project format (rl_tuner.plumbing.checkpoint), TF1 Magenta checkpoints and .mag bundles
(note_rnn.tf1_checkpoint / magenta), tuned-policy directories (rl_tuner.runner.policy) and the
training runs' own saved state, through the loaders and through each command.
"""

import json
import os
import shutil

import numpy as np
import pytest

import rl_tuner  # noqa: F401  (selects Keras 2 before TensorFlow)
import note_rnn  # noqa: E402
from rl_tuner.plumbing import checkpoint  # noqa: E402
from note_rnn import magenta
from note_rnn import cli as note_cli  # noqa: E402
from rl_tuner.models import sequence_model as model_lib  # noqa: E402
from rl_tuner.plumbing.cli_utils import run_main  # noqa: E402
from rl_tuner import cli as rl_cli  # noqa: E402
from rl_tuner.runner import policy as policy_lib  # noqa: E402

import tensorflow as tf  # noqa: E402  (after note_rnn)
from test_magenta_import import make_network, save_tf1  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore:'audioop' is deprecated:DeprecationWarning"),  # note_seq -> pydub
              pytest.mark.filterwarnings("ignore:Couldn't find ffmpeg:RuntimeWarning")]

LFS_POINTER = (b"version https://git-lfs.github.com/spec/v1\n"
               b"oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 16664\n")
LFS = "git-lfs pointer, not the file itself"
NOT_A_MELODY_MODEL = ("the model has 40 classes and no melody encoder; a melody model is needed (the 38-token "
                      "encoding or a Magenta melody_rnn configuration)")
DATA_SHARD = "model.ckpt.data-00000-of-00001"


def _tiny(num_classes=38, seed=0):
    return model_lib.build(model_lib.SequenceRNNConfig(num_classes=num_classes, layer_sizes=(4,)), seed=seed)


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    """Intact checkpoints of every kind, copied and then damaged by each test."""
    root = tmp_path_factory.mktemp("intact")
    out = {"project": checkpoint.save_model(str(root / "project"), _tiny()),
           "classes40": checkpoint.save_model(str(root / "classes40"), _tiny(num_classes=40))}
    variables = make_network(np.random.default_rng(0), "tf13_lstm", [4])[0]
    out["v2"] = os.path.dirname(save_tf1(root / "v2" / "model.ckpt", variables, "V2"))
    out["v1"] = os.path.dirname(save_tf1(root / "v1" / "model.ckpt", variables, "V1"))
    variables["fully_connected/bias"][3] = np.nan
    out["v2_nan"] = os.path.dirname(save_tf1(root / "v2_nan" / "model.ckpt", variables, "V2"))
    from note_seq.protobuf import generator_pb2  # pylint: disable=import-outside-toplevel
    bundle = generator_pb2.GeneratorBundle()
    with open(os.path.join(out["v1"], "model.ckpt"), "rb") as f:
        bundle.checkpoint_file.append(f.read())
    (root / "mag").mkdir()
    out["mag"] = str(root / "mag" / "basic_rnn.mag")
    with open(out["mag"], "wb") as f:
        f.write(bundle.SerializeToString())
    policy_dir = str(root / "policy")
    policy_lib.save_policy(policy_dir, _tiny(seed=1), _tiny(), "psi")
    out["policy"] = policy_dir
    return out


@pytest.fixture()
def copy(originals, tmp_path):
    """copy(kind) -> path of a fresh copy of an intact checkpoint (a directory, or the .mag file)."""
    copies = []

    def _copy(kind):
        source = originals[kind]
        copies.append(kind)
        target = tmp_path / f"{kind}_{len(copies)}"
        if os.path.isdir(source):
            shutil.copytree(source, target)
            return str(target)
        target.mkdir()
        return shutil.copy(source, target)
    return _copy


def _truncate(path, keep=0.5):
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[:int(len(data) * keep)])


def _overwrite(path, data):
    with open(path, "wb") as f:
        f.write(data)


def _flip_bytes(path, start, stop):
    with open(path, "rb") as f:
        data = bytearray(f.read())
    for i in range(start, stop):
        data[i] ^= 0xFF
    _overwrite(path, bytes(data))


def _rewrite_weights(path, **changes):
    weights = dict(np.load(os.path.join(path, "weights.npz")))
    weights.update(changes)
    np.savez(os.path.join(path, "weights.npz"), **weights)


# --- the project format ----------------------------------------------------------------------
def _project_error(path, exception=ValueError):
    with pytest.raises(exception) as error:
        note_rnn.load(path)
    message = str(error.value)
    assert "\n" not in message
    return message


def test_truncated_weights(copy):
    path = copy("project")
    _truncate(os.path.join(path, "weights.npz"))
    message = _project_error(path)
    assert message.startswith(os.path.join(path, "weights.npz") + ": the weights archive is truncated or corrupt (")


def test_empty_weights(copy):
    path = copy("project")
    _overwrite(os.path.join(path, "weights.npz"), b"")
    assert _project_error(path) == (f"{path}/weights.npz: the weights archive is empty (0 bytes; an interrupted "
                                    "download or copy?)")


def test_corrupt_weights_archive(copy):
    path = copy("project")
    _flip_bytes(os.path.join(path, "weights.npz"), 200, 240)  # inside the first array's data: bad CRC
    message = _project_error(path)
    assert message.startswith(f"{path}/weights.npz: the weights archive is truncated or corrupt")
    assert "Bad CRC-32" in message


@pytest.mark.parametrize("name", ["weights.npz", "config.json", "card.json"])
def test_git_lfs_pointer_instead_of_a_file(copy, name):
    path = copy("project")
    _overwrite(os.path.join(path, name), LFS_POINTER)
    assert _project_error(path) == f"{path}/{name}: it is a {LFS} (fetch the real file with `git lfs pull`)"


@pytest.mark.parametrize("content, problem", [
    (b'{"format": "note_rnn/1", "num_classes": 38,', "the checkpoint config is not valid JSON (Expecting "
                                                    "property name enclosed in double quotes at line 1 column 44)"),
    (b"[38, [4]]", "the checkpoint config must hold a JSON object, got array"),
    (b"\xff\xfe{}", "the checkpoint config is not UTF-8 text (invalid start byte at byte 0)"),
    (b'{"format": "note_rnn/2", "num_classes": 38, "layer_sizes": [4]}', "unknown checkpoint format 'note_rnn/2'"),
    (b'{"format": "note_rnn/1", "num_classes": "38", "layer_sizes": [4]}', "num_classes must be an integer >= 2, "
                                                                           "got '38'"),
    (b'{"format": "note_rnn/1", "num_classes": 1, "layer_sizes": [4]}', "num_classes must be an integer >= 2"),
    (b'{"format": "note_rnn/1", "num_classes": 38, "layer_sizes": []}', "layer_sizes must be a non-empty list of "
                                                                        "positive integers, got []"),
    (b'{"format": "note_rnn/1", "num_classes": 38, "layer_sizes": [4.5]}', "got [4.5]"),
    (b'{"format": "note_rnn/1", "num_classes": 38, "layer_sizes": [1000000000]}', "lstm_0/recurrent_kernel has "
                                                                                  "shape [4, 16], expected"),
])
def test_wrong_or_malformed_config(copy, content, problem):
    path = copy("project")
    _overwrite(os.path.join(path, "config.json"), content)
    message = _project_error(path)
    assert message.startswith(path) and problem in message


def test_malformed_card(copy):
    path = copy("project")
    _overwrite(os.path.join(path, "card.json"), b'{"metrics": ')
    assert _project_error(path).startswith(f"{path}/card.json: the checkpoint card is not valid JSON")
    with pytest.raises(ValueError, match="card.json: the checkpoint card is not valid JSON"):
        checkpoint.read_card(path)


@pytest.mark.parametrize("value, counts", [(np.nan, "1 NaN and 0 infinite"), (np.inf, "0 NaN and 1 infinite")])
def test_nan_or_inf_weights(copy, value, counts):
    path = copy("project")
    kernel = np.load(os.path.join(path, "weights.npz"))["lstm_0/kernel"].copy()
    kernel[5, 2] = value
    _rewrite_weights(path, **{"lstm_0/kernel": kernel})
    assert _project_error(path) == (f"{path}/weights.npz: weight lstm_0/kernel holds {counts} value(s) out of "
                                    "608; the checkpoint is unusable")


def test_wrong_weight_shape_names_the_weights_file(copy):
    path = copy("project")
    _rewrite_weights(path, **{"dense/bias": np.zeros(37, np.float32)})
    assert _project_error(path) == (f"{path}/weights.npz does not fit a sequence model with 38 classes and layer sizes "
                                    "[4]: dense/bias has shape [37], expected [38]")


def test_a_config_with_many_more_layers_than_the_weights_is_a_short_line(copy):
    """46 layer sizes for a one-layer checkpoint printed 135 missing weights on one line."""
    path = copy("project")
    with open(os.path.join(path, "config.json"), "w") as f:
        json.dump({"format": "note_rnn/1", "num_classes": 38, "layer_sizes": [4] * 46}, f)
    assert _project_error(path) == (
        f"{path}/weights.npz does not fit a sequence model with 38 classes and layer sizes {[4] * 46}: "
        "missing lstm_1/kernel "
        "(expected shape [4, 16]); missing lstm_1/recurrent_kernel (expected shape [4, 16]); missing lstm_1/bias "
        "(expected shape [16]); missing lstm_2/kernel (expected shape [4, 16]); and 131 more")


def test_weights_that_are_not_float_or_are_pickled(copy):
    path = copy("project")
    _rewrite_weights(path, **{"dense/bias": np.arange(38)})
    assert "weight dense/bias has dtype int64, expected floating point" in _project_error(path)
    weights = dict(np.load(os.path.join(path, "weights.npz")))
    weights["dense/bias"] = np.array([object()] * 38)
    np.savez(os.path.join(path, "weights.npz"), **weights)
    assert "holds pickled Python objects, not plain arrays; refusing to unpickle it" in _project_error(path)


def test_weights_without_config_names_the_missing_file(copy):
    path = copy("project")
    os.remove(os.path.join(path, "config.json"))
    assert _project_error(path, FileNotFoundError).endswith("config.json is missing")


def test_a_vocabulary_that_does_not_fit_the_task(copy):
    path = copy("classes40")
    assert note_rnn.load(path).config.num_classes == 40  # any vocabulary, when the caller does not care
    with pytest.raises(ValueError) as error:
        note_rnn.load(path, num_classes=38)
    assert str(error.value) == (f"{path}/config.json: the model has 40 classes, but this task needs 38 "
                                "(the 38-token melody encoding)")


def test_a_magenta_melody_model_for_a_task_of_another_vocabulary(originals):
    path = os.path.join(originals["v2"], "model.ckpt")
    assert note_rnn.load(path, num_classes=38).config.num_classes == 38
    with pytest.raises(ValueError, match=f"^{path}: the model has 38 classes, but this task needs 40$"):
        note_rnn.load(path, num_classes=40)


# --- TF1 Magenta checkpoints and .mag bundles ------------------------------------------------
def _magenta_error(path):
    return _project_error(path, magenta.MagentaCheckpointError)


def test_truncated_v2_data_shard_is_named_not_an_index_error(copy):
    path = copy("v2")
    _truncate(os.path.join(path, DATA_SHARD))
    size = os.path.getsize(os.path.join(path, DATA_SHARD))
    message = _magenta_error(os.path.join(path, "model.ckpt"))
    assert "could not read variable" in message and "(Read less bytes than requested)" in message
    assert f"the checkpoint is truncated or corrupt: {path}/model.ckpt.index (" in message
    assert message.endswith(f"{path}/{DATA_SHARD} ({size} bytes)")


@pytest.mark.parametrize("kind, name", [("v2", DATA_SHARD), ("v2", "model.ckpt.index"), ("v1", "model.ckpt")])
def test_git_lfs_pointer_checkpoint_files(copy, kind, name):
    path = copy(kind)
    _overwrite(os.path.join(path, name), LFS_POINTER)
    assert _magenta_error(os.path.join(path, "model.ckpt")) == (
        f"{path}/{name}: it is a {LFS} (fetch the real file with `git lfs pull`)")


@pytest.mark.parametrize("kind, name", [("v2", DATA_SHARD), ("v2", "model.ckpt.index"), ("v1", "model.ckpt")])
def test_empty_checkpoint_files(copy, kind, name):
    path = copy(kind)
    _overwrite(os.path.join(path, name), b"")
    assert _magenta_error(os.path.join(path, "model.ckpt")) == (
        f"{path}/{name}: the checkpoint file is empty (0 bytes; an interrupted download or copy?)")


def test_missing_v2_data_shard(copy):
    path = copy("v2")
    os.remove(os.path.join(path, DATA_SHARD))
    assert _magenta_error(os.path.join(path, "model.ckpt")) == (
        f"{path}/model.ckpt: data shard(s) ['{DATA_SHARD}'] missing (a V2 checkpoint is model.ckpt.index plus "
        "its data shards)")


def test_corrupt_v2_data_shard(copy):
    path = copy("v2")
    _flip_bytes(os.path.join(path, DATA_SHARD), 100, 140)
    message = _magenta_error(os.path.join(path, "model.ckpt"))
    assert "Checksum does not match" in message and "the checkpoint is truncated or corrupt" in message


def test_truncated_v2_index_and_v1_file(copy):
    path = copy("v2")
    _truncate(os.path.join(path, "model.ckpt.index"))
    assert _magenta_error(os.path.join(path, "model.ckpt")) == (
        f"{path}/model.ckpt: could not read it as a TensorFlow checkpoint (not an sstable (bad magic number))")
    path = copy("v1")
    _truncate(os.path.join(path, "model.ckpt"))
    message = _magenta_error(os.path.join(path, "model.ckpt"))
    assert message.startswith(f"{path}/model.ckpt (") and "a truncated or corrupt download looks like this" in message


def test_nan_in_a_magenta_checkpoint(copy):
    path = copy("v2_nan")
    assert _magenta_error(os.path.join(path, "model.ckpt")) == (
        f"{path}/model.ckpt: weight fully_connected/bias holds 1 NaN and 0 infinite value(s) out of 38; "
        "the checkpoint is unusable")


def test_a_copied_directory_reads_its_own_checkpoint_not_the_original(copy, originals):
    path = copy("v2")  # its state file names the original's absolute path
    with open(os.path.join(path, "checkpoint")) as f:
        assert originals["v2"] in f.read()
    _overwrite(os.path.join(path, DATA_SHARD), LFS_POINTER)
    assert _magenta_error(path) == f"{path}/{DATA_SHARD}: it is a {LFS} (fetch the real file with `git lfs pull`)"


def test_directory_of_git_lfs_pointers(copy):
    path = copy("v1")
    os.remove(os.path.join(path, "checkpoint"))  # no state file: the directory is searched
    _overwrite(os.path.join(path, "model.ckpt"), LFS_POINTER)
    assert _magenta_error(path) == (f"{path}: ['model.ckpt'] are git-lfs pointers, not the files themselves "
                                    "(fetch the real files with `git lfs pull`)")


def test_broken_mag_bundles(copy):
    path = copy("mag")
    _overwrite(path, LFS_POINTER)
    assert _magenta_error(path) == f"{path}: it is a {LFS} (fetch the real file with `git lfs pull`)"
    path = copy("mag")
    _truncate(path, 0.3)
    message = _magenta_error(path)
    assert message.startswith(f"{path} (") and "does not parse as a GeneratorBundle" in message


def test_bundle_errors_name_the_bundle_not_a_temporary_file(copy):
    from note_seq.protobuf import generator_pb2  # pylint: disable=import-outside-toplevel
    path = copy("mag")
    with open(path, "rb") as f:
        bundle = generator_pb2.GeneratorBundle.FromString(f.read())
    data = bytearray(bundle.checkpoint_file[0])
    data[:64] = bytes(64)  # the SSTable footer is intact, the blocks are not
    bundle.checkpoint_file[0] = bytes(data)
    _overwrite(path, bundle.SerializeToString())
    message = _magenta_error(path)
    assert message.startswith(f"{path}: could not read it as a TensorFlow checkpoint (")
    assert "magenta-bundle-" not in message


# --- tuned-policy directories ----------------------------------------------------------------
@pytest.mark.parametrize("content, problem", [
    (b'{"algorithm": ', "policy.json: the policy file is not valid JSON (Expecting value at line 1 column 15)"),
    (LFS_POINTER, f"policy.json: it is a {LFS}"),
    (b'{"algorithm": "sarsa"}', "policy.json: unknown algorithm 'sarsa'; expected one of ['q', 'psi', 'g', "
                                "'pure_rl']"),
    (b'{"format": "rl_tuner_policy/1"}', "policy.json: unknown algorithm None"),
    (b'"psi"', "policy.json: the policy file must hold a JSON object, got string"),
])
def test_broken_policy_file(copy, content, problem):
    path = copy("policy")
    _overwrite(os.path.join(path, "policy.json"), content)
    with pytest.raises(ValueError) as error:
        policy_lib.load_policy(path)
    assert str(error.value).startswith(f"{path}/{problem}")


def test_broken_networks_of_a_policy(copy, originals):
    path = copy("policy")
    _truncate(os.path.join(path, "q_network", "weights.npz"))
    with pytest.raises(ValueError, match=f"^{path}/q_network/weights.npz: the weights archive is truncated"):
        policy_lib.load_policy(path)
    path = copy("policy")
    shutil.rmtree(os.path.join(path, "prior"))
    shutil.copytree(originals["classes40"], os.path.join(path, "prior"))
    with pytest.raises(ValueError, match=f"^{path}/prior/config.json: the model has 40 classes, but this task "
                                         "needs 38"):
        policy_lib.load_policy(path, num_classes=38)
    with pytest.raises(ValueError, match=f"^{path}/q_network/config.json: the model has 38 classes, but this task "
                                         "needs 40"):
        policy_lib.load_policy(path)  # the networks must agree


# --- a training run's own saved state ---------------------------------------------------------
def test_a_run_checkpoint_that_cannot_be_restored_names_its_files(tmp_path):
    variable = tf.Variable(tf.ones([20, 20]))
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(v=variable), str(tmp_path / "ckpt"), 1)
    prefix = manager.save()
    _truncate(prefix + ".data-00000-of-00001")
    with pytest.raises(ValueError) as error:
        checkpoint.restore_training_state(tf.train.Checkpoint(v=tf.Variable(tf.zeros([20, 20]))), prefix)
    assert str(error.value).startswith(
        f"{prefix}: the run's saved state cannot be restored (IndexError: Read less bytes than requested); its "
        f"files are truncated, corrupt or from another run: {prefix}.data-00000-of-00001 (")
    assert str(error.value).endswith(f"Move {tmp_path / 'ckpt'} away to start the run from scratch")


# --- through each command ----------------------------------------------------------------------
def _command_error(main, argv, capsys):
    assert run_main(main, argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()[-1]
    assert err.startswith("error: ") and "Traceback" not in captured.err
    return err


def test_import_magenta_of_a_truncated_download(copy, tmp_path, capsys):
    path = copy("v2")
    _truncate(os.path.join(path, DATA_SHARD))
    err = _command_error(note_cli.main, ["import-magenta", os.path.join(path, "model.ckpt"),
                                         "--out", str(tmp_path / "out")], capsys)
    assert "(Read less bytes than requested); the checkpoint is truncated or corrupt" in err
    assert not os.path.exists(tmp_path / "out")


def test_generate_with_broken_checkpoints(copy, tmp_path, capsys):
    path = copy("project")
    _overwrite(os.path.join(path, "weights.npz"), LFS_POINTER)
    out = tmp_path / "gen"
    assert _command_error(note_cli.main, ["generate", "--checkpoint", path, "--out", str(out)], capsys) == (
        f"error: {path}/weights.npz: it is a {LFS} (fetch the real file with `git lfs pull`)")
    classes40 = copy("classes40")
    err = _command_error(note_cli.main, ["generate", "--checkpoint", classes40, "--out", str(out)], capsys)
    assert err == f"error: {classes40}: {NOT_A_MELODY_MODEL}"
    mag = copy("mag")
    _truncate(mag, 0.3)
    assert "does not parse as a GeneratorBundle" in _command_error(
        note_cli.main, ["generate", "--checkpoint", mag, "--out", str(out)], capsys)
    assert not os.path.exists(out)


TINY_RUN = ["--steps", "256", "--num-envs", "8", "--eval-every", "256", "--eval-samples", "10",
            "--final-eval-samples", "10", "--num-samples", "0", "--batch-size", "8", "--replay-capacity", "500",
            "--quiet"]


def test_rl_train_with_a_broken_or_unfit_prior(copy, tmp_path, capsys):
    path = copy("v2")
    _overwrite(os.path.join(path, DATA_SHARD), LFS_POINTER)
    err = _command_error(rl_cli.main, ["train", "--note-rnn", path, "--out", str(tmp_path / "run"), *TINY_RUN],
                         capsys)
    assert err == f"error: {path}/{DATA_SHARD}: it is a {LFS} (fetch the real file with `git lfs pull`)"
    err = _command_error(rl_cli.main, ["train", "--note-rnn", copy("classes40"), "--out", str(tmp_path / "run2"),
                                       *TINY_RUN], capsys)
    assert err.endswith(NOT_A_MELODY_MODEL), err
    assert not os.path.exists(tmp_path / "run2" / "ckpt")


@pytest.mark.parametrize("command, extra", [
    ("evaluate", ["--num-melodies", "4", "--out", "stats.json"]),
    ("generate", ["--num", "2", "--no-audio", "--out", "gen"]),
    ("export", ["--out", "exported"]),
])
def test_rl_commands_with_a_broken_model(copy, tmp_path, capsys, command, extra):
    path = copy("policy")
    _overwrite(os.path.join(path, "policy.json"), b'{"algorithm": "psi"')
    extra = [str(tmp_path / e) if e in ("stats.json", "gen", "exported") else e for e in extra]
    err = _command_error(rl_cli.main, [command, "--model", path, *extra], capsys)
    assert err.startswith(f"error: {path}/policy.json: the policy file is not valid JSON")
    err = _command_error(rl_cli.main, [command, "--model", copy("classes40"), *extra], capsys)
    assert err.endswith(NOT_A_MELODY_MODEL), err
    assert not os.path.exists(extra[-1])
