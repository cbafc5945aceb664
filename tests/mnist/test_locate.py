import importlib.util
import sys
import tempfile
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from hng.mnist import locate
from hng.mnist.locate import (
    BUILD_RELPATH,
    DEFAULT_OPT_PATH,
    MnistLocation,
    MnistSourceUnavailable,
    configured_source,
    default_build_path,
    find_mnist_npz,
    forget_download,
    locate_mnist,
    parse_s3_uri,
    s3_cache_path,
)
from tests.support.paths import REPO


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No real /opt file, environment variable or local build may leak into these tests."""
    for name in ("HNG_MNIST_PATH", "HNG_MNIST_S3_URI", "XDG_CACHE_HOME"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(locate, "DEFAULT_OPT_PATH", tmp_path / "opt" / "mnist" / "mnist.npz")
    monkeypatch.setattr(locate, "default_build_path", lambda: tmp_path / "build" / "mnist.npz")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    monkeypatch.setattr(locate, "_downloaded", {})  # this process's downloads: none yet


def touch(path: Path, content: bytes = b"npz") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    return path


def test_the_fetched_file_is_where_the_code_looks_once_the_layer_is_mounted(monkeypatch):
    """`hng data fetch` writes into the layer content (tools/build_bundle.py's LAYER_RELPATH), which
    Lambda mounts and the image copies at /opt: the file it writes must land on DEFAULT_OPT_PATH."""
    spec = importlib.util.spec_from_file_location("build_bundle", REPO / "tools" / "build_bundle.py")
    build_bundle = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "build_bundle", build_bundle)  # its dataclasses look it up there
    spec.loader.exec_module(build_bundle)
    assert build_bundle.MNIST_RELPATH == BUILD_RELPATH
    assert Path("/opt") / BUILD_RELPATH.relative_to(build_bundle.LAYER_RELPATH) == DEFAULT_OPT_PATH


def test_explicit_path(tmp_path):
    path = touch(tmp_path / "mine.npz")
    assert find_mnist_npz(path) == path
    assert find_mnist_npz(str(path)) == path
    assert locate_mnist(path) == MnistLocation(path, str(path), builtin=False)  # a chosen file: a digit set


def test_explicit_missing_path_is_named(tmp_path, monkeypatch):
    touch(locate.DEFAULT_OPT_PATH)  # must not be used instead
    with pytest.raises(FileNotFoundError, match=r"given path: .*missing\.npz"):
        find_mnist_npz(tmp_path / "missing.npz")


def test_env_path_wins_over_opt(tmp_path, monkeypatch):
    env_file = touch(tmp_path / "env.npz")
    touch(locate.DEFAULT_OPT_PATH)
    monkeypatch.setenv("HNG_MNIST_PATH", str(env_file))
    assert find_mnist_npz() == env_file


def test_env_path_missing_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("HNG_MNIST_PATH", str(tmp_path / "gone.npz"))
    with pytest.raises(FileNotFoundError, match=r"HNG_MNIST_PATH=.*gone\.npz"):
        find_mnist_npz()


def test_opt_wins_over_the_build():
    opt = touch(locate.DEFAULT_OPT_PATH)
    touch(locate.default_build_path())
    assert find_mnist_npz() == opt
    assert locate_mnist() == MnistLocation(opt, str(opt), builtin=True)


def test_env_path_wins_over_s3(tmp_path, monkeypatch):
    env_file = touch(tmp_path / "env.npz")
    monkeypatch.setenv("HNG_MNIST_PATH", str(env_file))
    monkeypatch.setenv("HNG_MNIST_S3_URI", "s3://never/used.npz")  # not downloaded: no credentials needed
    assert locate_mnist() == MnistLocation(env_file, str(env_file), builtin=False)


def test_build_path_is_the_last_resort():
    build = touch(locate.default_build_path())
    assert find_mnist_npz() == build


def test_nothing_found_says_to_run_fetch():
    with pytest.raises(FileNotFoundError, match="run `hng data fetch`") as info:
        find_mnist_npz()
    message = str(info.value)
    assert str(locate.DEFAULT_OPT_PATH) in message and str(locate.default_build_path()) in message
    assert "HNG_MNIST_PATH" in message and "HNG_MNIST_S3_URI" in message


@pytest.fixture
def s3_object(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket="hng-data")
        s3.put_object(Bucket="hng-data", Key="mnist/mnist.npz", Body=b"the npz bytes")
        yield s3


def test_s3_download_once(s3_object, monkeypatch):
    uri = "s3://hng-data/mnist/mnist.npz"
    monkeypatch.setenv("HNG_MNIST_S3_URI", uri)
    path = find_mnist_npz()
    assert path == s3_cache_path(uri)
    assert path.parent == Path(tempfile.gettempdir())
    assert path.read_bytes() == b"the npz bytes"
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no partial file left

    s3_object.delete_object(Bucket="hng-data", Key="mnist/mnist.npz")
    assert find_mnist_npz() == path  # this process's copy: no second download


def test_a_new_process_downloads_again_rather_than_trusting_an_old_file(s3_object, monkeypatch):
    # A file an earlier process left in the temp dir may hold an object since replaced.
    uri = "s3://hng-data/mnist/mnist.npz"
    monkeypatch.setenv("HNG_MNIST_S3_URI", uri)
    touch(s3_cache_path(uri), b"stale bytes")
    assert find_mnist_npz().read_bytes() == b"the npz bytes"


def test_forget_download_removes_the_copy_and_the_next_find_downloads_again(s3_object, monkeypatch):
    uri = "s3://hng-data/mnist/mnist.npz"
    monkeypatch.setenv("HNG_MNIST_S3_URI", uri)
    path = find_mnist_npz()
    s3_object.put_object(Bucket="hng-data", Key="mnist/mnist.npz", Body=b"fixed bytes")
    forget_download(uri)
    assert not path.exists()
    assert find_mnist_npz().read_bytes() == b"fixed bytes"


def test_s3_wins_over_opt_and_the_build(s3_object, monkeypatch):
    # The image carries MNIST at /opt; a stack's MnistS3Uri must replace it, not be shadowed by it.
    touch(locate.DEFAULT_OPT_PATH)
    touch(locate.default_build_path())
    uri = "s3://hng-data/mnist/mnist.npz"
    monkeypatch.setenv("HNG_MNIST_S3_URI", uri)
    assert find_mnist_npz() == s3_cache_path(uri)
    assert locate_mnist() == MnistLocation(s3_cache_path(uri), uri, builtin=False, s3_uri=uri)
    assert configured_source() == uri


def test_s3_missing_object(s3_object, monkeypatch):
    monkeypatch.setenv("HNG_MNIST_S3_URI", "s3://hng-data/nope.npz")
    with pytest.raises(MnistSourceUnavailable, match=r"HNG_MNIST_S3_URI=s3://hng-data/nope\.npz"):
        find_mnist_npz()
    assert list(Path(tempfile.gettempdir()).iterdir()) == []


def test_s3_missing_bucket(s3_object, monkeypatch):
    monkeypatch.setenv("HNG_MNIST_S3_URI", "s3://no-such-bucket/mnist.npz")
    with pytest.raises(FileNotFoundError, match=r"no object at HNG_MNIST_S3_URI=s3://no-such-bucket/"):
        find_mnist_npz()


def test_s3_access_denied_names_the_uri_and_the_permission(s3_object, monkeypatch):
    from botocore.stub import Stubber

    client = boto3.client("s3", region_name="us-east-1")
    stubber = Stubber(client)
    stubber.add_client_error("get_object", service_error_code="AccessDenied", http_status_code=403)
    stubber.activate()
    monkeypatch.setattr(boto3, "client", lambda *args, **kwargs: client)
    monkeypatch.setenv("HNG_MNIST_S3_URI", "s3://hng-data/mnist/mnist.npz")
    with pytest.raises(MnistSourceUnavailable) as info:
        find_mnist_npz()
    message = str(info.value)
    assert "access denied reading HNG_MNIST_S3_URI=s3://hng-data/mnist/mnist.npz" in message
    assert "s3:GetObject on arn:aws:s3:::hng-data/mnist/mnist.npz" in message
    assert list(Path(tempfile.gettempdir()).iterdir()) == []


def test_s3_without_credentials_is_a_clear_error(monkeypatch):
    for name in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("HNG_MNIST_S3_URI", "s3://hng-data/mnist/mnist.npz")
    with pytest.raises(MnistSourceUnavailable, match=r"could not read HNG_MNIST_S3_URI=s3://hng-data/"):
        find_mnist_npz()


def test_configured_source_names_the_choice_without_downloading(tmp_path, monkeypatch):
    assert configured_source() is None
    build = touch(locate.default_build_path())
    assert configured_source() == str(build)
    opt = touch(locate.DEFAULT_OPT_PATH)
    assert configured_source() == str(opt)
    monkeypatch.setenv("HNG_MNIST_S3_URI", "s3://never/downloaded.npz")
    assert configured_source() == "s3://never/downloaded.npz"
    monkeypatch.setenv("HNG_MNIST_PATH", str(tmp_path / "mine.npz"))
    assert configured_source() == str(tmp_path / "mine.npz")
    assert configured_source(tmp_path / "given.npz") == str(tmp_path / "given.npz")


def test_s3_cache_names_differ_per_uri():
    assert s3_cache_path("s3://a/x.npz") != s3_cache_path("s3://a/y.npz")
    assert s3_cache_path("s3://a/x.npz") == s3_cache_path("s3://a/x.npz")


@pytest.mark.parametrize(
    "uri", ["http://bucket/key", "s3://bucket", "s3://bucket/", "s3:///key", "s3://b/dir/"]
)
def test_bad_s3_uri(uri, monkeypatch):
    monkeypatch.setenv("HNG_MNIST_S3_URI", uri)
    with pytest.raises(ValueError, match="HNG_MNIST_S3_URI must"):
        find_mnist_npz()


def test_parse_s3_uri():
    assert parse_s3_uri("s3://bucket/a/b/c.npz") == ("bucket", "a/b/c.npz")


def test_default_build_path_in_a_checkout(monkeypatch):
    monkeypatch.undo()  # the real function, not the autouse stand-in
    assert default_build_path() == REPO / "layers" / "mnist" / "mnist" / "mnist.npz"


def test_default_build_path_when_installed(tmp_path, monkeypatch):
    monkeypatch.undo()
    monkeypatch.setattr(locate, "_checkout_root", lambda: None)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_build_path() == tmp_path / "xdg" / "hng" / "mnist.npz"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_build_path() == tmp_path / "home" / ".cache" / "hng" / "mnist.npz"


def test_checkout_detected_without_layers_dir(tmp_path, monkeypatch):
    fake_module = tmp_path / "clone" / "hng" / "mnist" / "locate.py"
    touch(fake_module)
    touch(tmp_path / "clone" / "pyproject.toml", b'[project]\nname = "hng"\n')
    monkeypatch.setattr(locate, "__file__", str(fake_module))
    assert locate._checkout_root() == tmp_path / "clone"
    touch(tmp_path / "clone" / "pyproject.toml", b'[project]\nname = "other"\n')
    assert locate._checkout_root() is None
    (tmp_path / "clone" / "layers").mkdir()
    assert locate._checkout_root() == tmp_path / "clone"
