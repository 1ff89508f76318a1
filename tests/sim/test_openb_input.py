"""The openb CSV loader refuses bad rows by file, line and column, never with a traceback or a
number bent silently."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from silkroute.cli import app
from silkroute.model.errors import SpecError
from silkroute.sim.openb import load_nodes, load_pods

NODE_HEADER = "sn,cpu_milli,memory_mib,gpu,model\n"
NODE = "n0,32000,131072,2,T4\n"
POD_HEADER = "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,creation_time,deletion_time,scheduled_time\n"  # noqa: E501
POD = "p0,1000,1024,1,500,,LS,0,100,10\n"


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "NaN CPUs said only 'cannot convert float NaN'",
            "n1,nan,1,0,\n",
            "line 3: cpu_milli: must be a finite number (got nan)",
        ),
        (
            "infinite CPUs were a traceback",
            "n1,inf,1,0,\n",
            "line 3: cpu_milli: must be a finite number (got inf)",
        ),
        (
            "a fraction of a GPU count was cut",
            "n1,1000,1,2.7,T4\n",
            "line 3: gpu: must be a whole number (got 2.7)",
        ),
        (
            "more GPUs than a node can hold",
            "n1,1000,1,1e12,T4\n",
            "line 3: gpu: must be at most 64 (got 1e+12)",
        ),
        ("a node without CPUs", "n1,0,1,0,\n", "line 3: cpu_milli: must be >= 1 (got 0)"),
        ("a node name used twice", "n0,1000,1,0,\n", "line 3: sn: 'n0' is already on line 2"),
        ("a node without a name", ",1000,1,0,\n", "line 3: sn: empty"),
    ],
)
def test_a_bad_node_row_is_named(tmp_path: Path, name: str, text: str, expected: str) -> None:
    path = tmp_path / "nodes.csv"
    path.write_text(NODE_HEADER + NODE + text)
    with pytest.raises(SpecError) as caught:
        load_nodes(path)
    assert str(caught.value) == f"{path}: {expected}"


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "a NaN memory",
            "p1,1000,nan,0,0,,LS,0,100,10\n",
            "line 3: memory_mib: must be a finite number (got nan)",
        ),
        (
            "a NaN time was taken as never ran",
            "p1,1000,1,0,0,,LS,nan,100,10\n",
            "line 3: creation_time: must be a finite number (got nan)",
        ),
        (
            "an infinite run time",
            "p1,1000,1,0,0,,LS,0,inf,10\n",
            "line 3: deletion_time: must be a finite number (got inf)",
        ),
        (
            "a fraction of a GPU count",
            "p1,1000,1,1.5,1000,,LS,0,100,10\n",
            "line 3: num_gpu: must be a whole number (got 1.5)",
        ),
        (
            "an unknown QoS was served as normal",
            "p1,1000,1,0,0,,Gold,0,100,10\n",
            "line 3: qos: unknown class 'Gold'; valid: LS, Guaranteed, Burstable, BE",
        ),
        (
            "a pod name used twice made an invalid trace",
            "p0,1000,1,0,0,,LS,0,100,10\n",
            "line 3: name: 'p0' is already on line 2",
        ),
    ],
)
def test_a_bad_pod_row_is_named(tmp_path: Path, name: str, text: str, expected: str) -> None:
    path = tmp_path / "pods.csv"
    path.write_text(POD_HEADER + POD + text)
    with pytest.raises(SpecError) as caught:
        load_pods(path)
    assert str(caught.value) == f"{path}: {expected}"


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        (
            "Latin-1 said only 'utf-8 codec can't decode'",
            (POD_HEADER + "pé,1,1,0,0,,LS,0,1,0\n").encode("latin-1"),
            "after line 1: not UTF-8 text; not an openb CSV",
        ),
        (
            "UTF-16",
            (POD_HEADER + POD).encode("utf-16"),
            "after line 1: not UTF-8 text; not an openb CSV",
        ),
        (
            "a field past the CSV limit was a traceback",
            (POD_HEADER + POD + '"' + "a" * 200_000 + '",1,1,0,0,,LS,0,1,0\n').encode(),
            "after line 2: not a valid CSV row: field larger than field limit (131072)",
        ),
        ("a header alone gave an empty trace", POD_HEADER.encode(), "no pods"),
    ],
)
def test_a_pod_file_that_is_not_a_pod_list_is_named(
    tmp_path: Path, name: str, data: bytes, expected: str
) -> None:
    path = tmp_path / "pods.csv"
    path.write_bytes(data)
    with pytest.raises(SpecError) as caught:
        load_pods(path)
    assert str(caught.value) == f"{path}: {expected}"


def test_a_byte_order_mark_does_not_hide_the_first_column(tmp_path: Path) -> None:
    # It said "missing columns: sn": the mark was read as part of the name.
    nodes, pods = tmp_path / "nodes.csv", tmp_path / "pods.csv"
    nodes.write_bytes(b"\xef\xbb\xbf" + (NODE_HEADER + NODE).encode())
    pods.write_bytes(b"\xef\xbb\xbf" + (POD_HEADER + POD).encode())
    assert [n.name for n in load_nodes(nodes)] == ["n0"]
    assert [p.name for p in load_pods(pods)] == ["p0"]


def test_convert_of_a_bad_pod_list_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "openb"
    folder.mkdir()
    (folder / "openb_node_list_all_node.csv").write_text(NODE_HEADER + NODE)
    (folder / "openb_pod_list_default.csv").write_text(POD_HEADER + POD.replace("1000", "nan", 1))
    out = tmp_path / "t.jsonl"
    result = CliRunner().invoke(
        app, ["trace", "convert", "--from", "openb", str(folder), "--out", str(out)]
    )
    assert result.exit_code == 2, result.output
    pods = folder / "openb_pod_list_default.csv"
    assert result.output == f"error: {pods}: line 2: cpu_milli: must be a finite number (got nan)\n"
    assert not out.exists()
