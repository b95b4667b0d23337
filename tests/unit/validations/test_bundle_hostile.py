"""Hostile bundles: YAML alias bombs, lying and bombing zips, huge files, ambiguous archives, symlinks.

Each is refused with exit 2 and a problem naming the file, quickly, with memory bounded, and
nothing is written. Whatever might blow up runs in a child process under an address-space limit
(``RLIMIT_AS``), so a regression fails the test instead of exhausting the machine; the child reports
the CPU time the call took (its own, so other work on a shared machine does not count), the wall time,
and how much its peak RSS grew during it.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
import warnings
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest

from rotaflow.errors import InputError, Problem
from rotaflow.validations.bundle import parse_bundle, parse_csv
from rotaflow.validations.contracts import DATASETS
from rotaflow.validations.limits import LIMITS, BundleLimits
from rotaflow.validations.safe_yaml import YamlLimitError, load_yaml
from rotaflow.validations.sources import read_bundle_files

ROOT = Path(__file__).resolve().parents[3]
TINY = ROOT / "tests" / "fixtures" / "tiny"
ADDRESS_SPACE = 2 * 1024**3  # the child's whole address space: a bomb dies on it instead of the machine
MiB = 1024 * 1024

BILLION_LAUGHS = b"""a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""
# program.yaml with the bomb as its timezone: the value an error message would show
PROGRAM_BOMB = b"name: Bomb\n" + BILLION_LAUGHS + b"timezone: *i\n"

_CHILD = r"""
import json, resource, sys, time
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from pathlib import Path
from rotaflow.errors import InputError, RotaflowError
from rotaflow.validations.bundle import parse_bundle
from rotaflow.validations.sources import read_bundle_files
from rotaflow.backups.config import load_backup_config
import rotaflow.cli

what, arg = sys.argv[2], sys.argv[3]
if what == "parse":  # warm up (lazy imports, schemas) on the valid tiny bundle: only the bomb is timed
    parse_bundle(read_bundle_files(sys.argv[4]))
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
out = {}
start, cpu = time.perf_counter(), time.process_time()
try:
    if what == "read":
        read_bundle_files(arg)
    elif what == "parse":
        parse_bundle(read_bundle_files(arg), source=arg)
    elif what == "backup-config":
        load_backup_config(Path(arg))
    elif what == "cli":
        out["exit"] = rotaflow.cli.main(["ingest", "--program", arg, "--no-flow"])
    out["outcome"] = "accepted"
except InputError as exc:
    out["outcome"] = "refused"
    out["problems"] = [str(p) for p in exc.problems]
except RotaflowError as exc:
    out["outcome"] = "error"
    out["message"] = str(exc)
except MemoryError:
    out["outcome"] = "MemoryError"
out["seconds"] = time.perf_counter() - start
out["cpu_seconds"] = time.process_time() - cpu
out["grew_mb"] = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024
print("RESULT " + json.dumps(out))
"""


def _child(what: str, arg: Path, var_dir: Path | None = None, timeout: float = 120) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if var_dir is not None:
        env["ROTAFLOW_VAR_DIR"] = str(var_dir)
    try:
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, str(ADDRESS_SPACE), what, str(arg), str(TINY)],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=ROOT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{what} {arg.name} ran longer than {timeout} s")
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, f"the child died (exit {done.returncode}): {done.stderr[-2000:]}"
    result: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
    result["stderr"] = done.stderr
    return result


def _assert_bounded(result: dict[str, Any], *, seconds: float = 2.0, grew_mb: float = 100.0) -> None:
    """At most ``seconds`` of the child's CPU time (a bomb takes minutes) and ``grew_mb`` of peak RSS growth.

    CPU time, not wall time: on a shared machine the wall time grows with everyone else's work.
    """
    assert result["cpu_seconds"] < seconds, result
    assert result["grew_mb"] < grew_mb, result


def _nothing_stored(var_dir: Path) -> None:
    database = var_dir / "rotaflow.db"
    if database.exists():
        with sqlite3.connect(database) as connection:
            tables = {row[0] for row in connection.execute("select name from sqlite_master where type='table'")}
            for table in ("programs", "program_versions"):
                if table in tables:
                    assert connection.execute(f"select count(*) from {table}").fetchone() == (0,)  # noqa: S608


def _quarantined(var_dir: Path) -> list[Path]:
    return sorted(p for p in (var_dir / "objects" / "quarantine").rglob("*") if p.is_file())


# =========================================================================== YAML


@pytest.mark.parametrize("file", ["constraints.yaml", "program.yaml"])
def test_a_billion_laughs_yaml_is_refused_at_its_alias_quickly(tiny_dir: Path, tmp_path: Path, file: str) -> None:
    (tiny_dir / file).write_bytes(BILLION_LAUGHS if file == "constraints.yaml" else PROGRAM_BOMB)
    result = _child("parse", tiny_dir)
    assert result["outcome"] == "refused", result
    mine = [p for p in result["problems"] if p.startswith(file)]
    assert len(mine) == 1, result["problems"]
    assert "an alias at line" in mine[0] and ", column " in mine[0]
    assert f"at most {LIMITS.yaml_nodes} nodes" in mine[0]
    _assert_bounded(result)


def test_the_cli_refuses_a_yaml_bomb_with_exit_2_and_stores_nothing(tiny_dir: Path, tmp_path: Path) -> None:
    (tiny_dir / "constraints.yaml").write_bytes(BILLION_LAUGHS)
    var_dir = tmp_path / "child-var"
    result = _child("cli", tiny_dir, var_dir=var_dir)
    assert result["exit"] == 2, result
    assert "constraints.yaml, row 6: expected YAML whose aliases expand to at most" in result["stderr"]
    _nothing_stored(var_dir)


def test_the_alias_error_names_the_line_and_column_of_the_alias() -> None:
    text = "a: &a [1, 2, 3]\nb: [*a, *a]\nc:   *a\n"
    assert load_yaml("x.yaml", text, limits=BundleLimits(yaml_nodes=20)) == {
        "a": [1, 2, 3],
        "b": [[1, 2, 3], [1, 2, 3]],
        "c": [1, 2, 3],
    }
    with pytest.raises(YamlLimitError) as caught:
        load_yaml("x.yaml", text, limits=BundleLimits(yaml_nodes=19))
    assert (caught.value.line, caught.value.column) == (3, 6)
    assert caught.value.problem == Problem(
        "x.yaml",
        3,
        None,
        "YAML whose aliases expand to at most 19 nodes",
        "an alias at line 3, column 6 that expands past it",
    )


def test_alias_references_are_counted_too() -> None:
    text = "a: &a 1\nb: [" + ", ".join(["*a"] * 6) + "]\n"
    assert load_yaml("x.yaml", text, limits=BundleLimits(yaml_aliases=6))["b"] == [1] * 6
    with pytest.raises(YamlLimitError) as caught:
        load_yaml("x.yaml", text, limits=BundleLimits(yaml_aliases=5))
    assert caught.value.problem.expected == "YAML with at most 5 alias references"
    assert caught.value.problem.got == "an alias at line 2, column 25 past that"


def test_an_alias_inside_its_own_anchor_is_refused() -> None:
    with pytest.raises(YamlLimitError) as caught:
        load_yaml("x.yaml", "a: &a [1, *a]\n")
    assert caught.value.problem.expected == "YAML without an alias inside its own anchor"
    assert caught.value.problem.row == 1


def test_a_large_yaml_file_is_refused_by_its_size() -> None:
    files = {p.name: p.read_bytes() for p in TINY.iterdir()}
    files["constraints.yaml"] = b"rules: []\n" + b"# padding\n" * (LIMITS.yaml_bytes // 10)
    with pytest.raises(InputError) as caught:
        parse_bundle(files)
    assert [str(p) for p in caught.value.problems] == [
        f"constraints.yaml: expected at most {LIMITS.yaml_bytes} bytes of YAML, got {len(files['constraints.yaml'])}"
    ]


def test_a_backup_configuration_bomb_is_refused_quickly(tmp_path: Path) -> None:
    path = tmp_path / "backup.yaml"
    path.write_bytes(BILLION_LAUGHS)
    result = _child("backup-config", path)
    assert result["outcome"] == "error", result
    assert result["message"].startswith("backup.yaml: not valid YAML (an alias at line 6, column ")
    _assert_bounded(result)


# =========================================================================== zips


def _deflated_zeros(size: int) -> tuple[bytes, int]:
    """A raw deflate stream of ``size`` zero bytes and its CRC-32, made without holding them."""
    chunk = b"\0" * MiB
    packer = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = packer.compress(chunk) + packer.flush(zlib.Z_FULL_FLUSH)  # a flushed block repeats exactly
    crc = 0
    for _ in range(size // MiB):
        crc = zlib.crc32(chunk, crc)
    return block * (size // MiB) + zlib.compressobj(9, zlib.DEFLATED, -15).flush(), crc


def _raw_zip(path: Path, name: str, deflated: bytes, crc: int, declared_size: int) -> Path:
    """A one-member zip whose headers (local and central) declare ``declared_size``."""
    encoded = name.encode()
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(deflated), declared_size, len(encoded), 0)
    central = struct.pack(
        "<4s6H3L5H2L",
        b"PK\x01\x02",
        20,
        20,
        0,
        8,
        0,
        0,
        crc,
        len(deflated),
        declared_size,
        len(encoded),
        0,
        0,
        0,
        0,
        0o100644 << 16,
        0,
    )
    body = local + encoded + deflated
    directory = central + encoded
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(directory), len(body), 0)
    path.write_bytes(body + directory + end)
    return path


@pytest.fixture(scope="module")
def zeros() -> tuple[bytes, int]:
    return _deflated_zeros(1024 * MiB)


def test_a_zip_bomb_is_refused_by_the_bytes_it_produces(tmp_path: Path, zeros: tuple[bytes, int]) -> None:
    deflated, crc = zeros
    archive = _raw_zip(tmp_path / "bomb.zip", "requests.csv", deflated, crc, 1024 * MiB)
    assert archive.stat().st_size < 2 * MiB  # 1 GB of zeros
    with zipfile.ZipFile(archive) as check:  # a well-formed zip, honest about its size
        assert check.infolist()[0].file_size == 1024 * MiB
    result = _child("read", archive)
    assert result["outcome"] == "refused", result
    assert result["problems"] == [
        f"requests.csv: expected at most {LIMITS.file_bytes} bytes, got more than {LIMITS.file_bytes}"
    ]
    _assert_bounded(result)


def test_a_zip_whose_header_lies_about_its_size_is_read_by_a_capped_stream(
    tmp_path: Path, zeros: tuple[bytes, int]
) -> None:
    deflated, crc = zeros
    archive = _raw_zip(tmp_path / "liar.zip", "requests.csv", deflated, crc, 100)  # claims 100 bytes
    with zipfile.ZipFile(archive) as check:
        assert check.infolist()[0].file_size == 100
    result = _child("read", archive)
    assert result["outcome"] == "refused", result
    assert result["problems"] == [
        "requests.csv: expected a zip member whose contents match its header (size, CRC-32), got BadZipFile"
    ]
    _assert_bounded(result)


def test_a_zip_member_written_normally_then_patched_to_a_small_size_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "patched.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as writer:
        writer.writestr("people.csv", b"person_id,name\n" + b"R1,A\n" * 100_000)
    raw = bytearray(archive.read_bytes())
    real = struct.unpack_from("<L", raw, 22)[0]
    struct.pack_into("<L", raw, 22, 64)  # local header: uncompressed size
    central = raw.index(b"PK\x01\x02")
    assert struct.unpack_from("<L", raw, central + 24)[0] == real
    struct.pack_into("<L", raw, central + 24, 64)  # central directory: uncompressed size
    archive.write_bytes(bytes(raw))
    with pytest.raises(InputError) as caught:
        read_bundle_files(str(archive))
    assert [str(p) for p in caught.value.problems] == [
        "people.csv: expected a zip member whose contents match its header (size, CRC-32), got BadZipFile"
    ]


def _zip(path: Path, members: dict[str, bytes] | list[tuple[str, bytes]]) -> Path:
    items = members.items() if isinstance(members, dict) else members
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile warns about a duplicate name: that is the point
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for name, data in items:
                archive.writestr(name, data)
    return path


def _tiny() -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(TINY.iterdir())}


def test_a_zip_with_two_bundle_folders_at_the_same_depth_is_refused_naming_both(tmp_path: Path) -> None:
    members = {f"{folder}/{name}": data for folder in ("spring", "autumn") for name, data in _tiny().items()}
    archive = _zip(tmp_path / "two.zip", members)
    with pytest.raises(InputError) as caught:
        read_bundle_files(str(archive))
    assert [str(p) for p in caught.value.problems] == [
        "two.zip: expected one bundle folder (one program.yaml at the top), got 2 at the same depth: autumn, spring"
    ]


@pytest.mark.parametrize("seed", ["0", "1", "2", "3"])
def test_the_bundle_folder_of_a_zip_does_not_depend_on_the_hash_seed(tmp_path: Path, seed: str) -> None:
    """The shallowest program.yaml wins, by depth, not by the length of its folder's name."""
    tiny = _tiny()
    members = {f"abcdefgh/{name}": data for name, data in tiny.items()}
    members |= {f"a/b/{name}": b"older" for name in tiny}
    archive = _zip(tmp_path / "nested.zip", members)
    code = "import sys, json; from rotaflow.validations.sources import read_bundle_files as r; "
    code += "print(json.dumps(sorted(k for k, v in r(sys.argv[1]).items() if v == b'older')))"
    done = subprocess.run(
        [sys.executable, "-c", code, str(archive)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        check=True,
    )
    assert json.loads(done.stdout) == []
    assert read_bundle_files(str(archive)) == tiny


def test_a_zip_with_a_repeated_member_name_is_refused(tmp_path: Path) -> None:
    members = [*_tiny().items(), ("people.csv", b"person_id\nR9\n")]
    archive = _zip(tmp_path / "twice.zip", members)
    with pytest.raises(InputError) as caught:
        read_bundle_files(str(archive))
    assert [str(p) for p in caught.value.problems] == [
        "people.csv: expected each file once in the zip, got 2 members with this name"
    ]


@pytest.mark.parametrize("name", ["../program.yaml", "/etc/people.csv", "tiny/../../x.csv", "C:/x.csv"])
def test_a_zip_member_outside_the_archive_is_refused(tmp_path: Path, name: str) -> None:
    archive = _zip(tmp_path / "escape.zip", [*_tiny().items(), (name, b"x")])
    with pytest.raises(InputError) as caught:
        read_bundle_files(str(archive))
    assert [str(p) for p in caught.value.problems] == [
        f"{name}: expected a member path inside the archive (no absolute path, no ..), got one outside it"
    ]


def test_a_zip_with_too_many_members_is_refused(tmp_path: Path) -> None:
    members = {**_tiny(), **{f"extra/{n}.txt": b"" for n in range(LIMITS.files)}}
    archive = _zip(tmp_path / "many.zip", members)
    with pytest.raises(InputError) as caught:
        read_bundle_files(str(archive))
    assert [str(p) for p in caught.value.problems] == [
        f"many.zip: expected at most {LIMITS.files} files, got {len(members)}"
    ]


def test_a_zip_over_the_total_size_is_refused_by_the_bytes_read(tmp_path: Path) -> None:
    limits = BundleLimits(file_bytes=1000, bundle_bytes=2500)
    members = {**_tiny(), "history.csv": b"0" * 900, "absences.csv": b"1" * 900, "requests.csv": b"2" * 900}
    archive = _zip(tmp_path / "big.zip", members)
    with pytest.raises(InputError) as caught:
        read_bundle_files(str(archive), limits=limits)
    assert [str(p) for p in caught.value.problems] == ["big.zip: expected at most 2500 bytes in all, got more"]


# =========================================================================== big files


def test_a_50_mb_requests_csv_is_refused_quickly_with_a_small_peak(tiny_dir: Path, tmp_path: Path) -> None:
    row = b"R1,2027-07-05,DAY,off,3\n"
    with (tiny_dir / "requests.csv").open("wb") as handle:
        handle.write(b"person_id,date,shift_id,kind,weight\n")
        for _ in range(50 * MiB // (len(row) * 10_000) + 1):
            handle.write(row * 10_000)
    assert (tiny_dir / "requests.csv").stat().st_size > 50 * MiB
    var_dir = tmp_path / "child-var"
    result = _child("cli", tiny_dir, var_dir=var_dir)
    assert result["exit"] == 2, result
    assert (
        f"requests.csv: expected at most {LIMITS.file_bytes} bytes, got more than {LIMITS.file_bytes}"
        in (result["stderr"])
    )
    _assert_bounded(result, seconds=5.0, grew_mb=150.0)
    _nothing_stored(var_dir)
    assert not any(p.parent.name == "bundle" for p in _quarantined(var_dir))  # refused before anything was copied


def test_a_folder_file_over_the_byte_cap_is_refused_by_the_bytes_read(tiny_dir: Path) -> None:
    (tiny_dir / "history.csv").write_bytes(b"9" * 1001)
    with pytest.raises(InputError) as caught:
        read_bundle_files(str(tiny_dir), limits=BundleLimits(file_bytes=1000))
    assert [str(p) for p in caught.value.problems] == ["history.csv: expected at most 1000 bytes, got more than 1000"]


def test_a_folder_with_too_many_files_is_refused(tiny_dir: Path) -> None:
    for n in range(LIMITS.files):
        (tiny_dir / f"extra-{n}.txt").touch()
    with pytest.raises(InputError) as caught:
        read_bundle_files(str(tiny_dir))
    assert [str(p) for p in caught.value.problems] == [
        f"tiny: expected at most {LIMITS.files} files, got more than {LIMITS.files}"
    ]


def test_a_csv_over_its_row_limit_is_refused_naming_file_limit_and_what_was_found() -> None:
    dataset = DATASETS["requests"]
    text = "person_id,date,shift_id,kind,weight\n" + "R1,2027-07-05,DAY,off,3\n" * 11
    frame, problems = parse_csv(dataset, text.encode(), limits=BundleLimits(csv_rows=10))
    assert frame is None
    assert problems == [Problem("requests.csv", None, None, "at most 10 data rows", "more than 10")]
    frame, problems = parse_csv(dataset, text.encode(), limits=BundleLimits(csv_rows=11))
    assert frame is not None and len(frame) == 11


def test_the_small_files_have_their_own_row_limits() -> None:
    assert LIMITS.rows_for("people.csv") < LIMITS.rows_for("requests.csv") == LIMITS.csv_rows
    people = "person_id,name,email,role,pgy,fte,skills\n" + "".join(
        f"R{n},N,n{n}@x.org,resident,1,1,\n" for n in range(LIMITS.rows_for("people.csv") + 1)
    )
    _, problems = parse_csv(DATASETS["people"], people.encode())
    assert [str(p) for p in problems] == [
        f"people.csv: expected at most {LIMITS.rows_for('people.csv')} data rows, "
        f"got more than {LIMITS.rows_for('people.csv')}"
    ]


def test_a_csv_over_the_byte_cap_is_refused_before_it_is_parsed(tiny_files: dict[str, bytes]) -> None:
    files = {**tiny_files, "history.csv": tiny_files["history.csv"] + b"\n" * 2000}
    with pytest.raises(InputError) as caught:
        parse_bundle(files, limits=BundleLimits(file_bytes=1000))
    assert [str(p) for p in caught.value.problems] == [
        f"history.csv: expected at most 1000 bytes, got {len(files['history.csv'])}"
    ]


# =========================================================================== folders and symlinks


def test_a_symlink_out_of_the_bundle_folder_is_refused_and_never_quarantined(tiny_dir: Path, tmp_path: Path) -> None:
    secret = tmp_path / "elsewhere" / "secret.txt"
    secret.parent.mkdir()
    secret.write_bytes(b"SECRET-CONTENT-OUTSIDE")
    (tiny_dir / "people.csv").unlink()
    (tiny_dir / "people.csv").symlink_to(secret)
    with pytest.raises(InputError) as caught:
        read_bundle_files(str(tiny_dir))
    assert [str(p) for p in caught.value.problems] == [
        "people.csv: expected a file inside the bundle folder, got a link to somewhere outside it"
    ]
    assert "secret" not in str(caught.value) and "SECRET" not in str(caught.value)

    var_dir = tmp_path / "child-var"
    result = _child("cli", tiny_dir, var_dir=var_dir)
    assert result["exit"] == 2, result
    _nothing_stored(var_dir)
    for path in _quarantined(var_dir):
        assert b"SECRET-CONTENT-OUTSIDE" not in path.read_bytes(), path


def test_a_symlinked_extra_file_pointing_outside_is_refused_too(tiny_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("outside")
    (tiny_dir / "notes.txt").symlink_to(tmp_path / "notes.txt")
    (tiny_dir / "folder-link").symlink_to(tmp_path)  # a link to a folder outside: refused as well
    with pytest.raises(InputError) as caught:
        read_bundle_files(str(tiny_dir))
    assert [p.file for p in caught.value.problems] == ["folder-link", "notes.txt"]


def test_a_symlink_inside_the_bundle_folder_is_read(tiny_dir: Path) -> None:
    shutil.move(tiny_dir / "history.csv", tiny_dir / "history-2027.csv")
    (tiny_dir / "history.csv").symlink_to("history-2027.csv")
    files = read_bundle_files(str(tiny_dir))
    assert files["history.csv"] == (TINY / "history.csv").read_bytes()


def test_a_zip_member_with_an_unknown_compression_method_is_bad_input(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "method.zip", _tiny())
    raw = bytearray(archive.read_bytes())
    for signature, offset in ((b"PK\x03\x04", 8), (b"PK\x01\x02", 10)):  # method of every member: 99
        start = 0
        while (start := raw.find(signature, start)) != -1:
            struct.pack_into("<H", raw, start + offset, 99)
            start += 4
    archive.write_bytes(bytes(raw))
    with pytest.raises(InputError) as caught:
        read_bundle_files(str(archive))
    assert [str(p) for p in caught.value.problems] == [
        "absences.csv: expected a readable zip member, got NotImplementedError"
    ]


def test_a_zip_with_a_broken_central_directory_is_bad_input(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "broken.zip", _tiny())
    archive.write_bytes(archive.read_bytes().replace(b"PK\x01\x02", b"PK\x01\x09"))
    assert zipfile.is_zipfile(archive)  # its end record still reads
    with pytest.raises(InputError) as caught:
        read_bundle_files(str(archive))
    assert [str(p) for p in caught.value.problems] == ["broken.zip: expected a readable .zip archive, got BadZipFile"]


def test_the_csv_files_together_have_a_row_limit(tiny_files: dict[str, bytes]) -> None:
    counts = {
        d.file: sum(1 for line in tiny_files[d.file].decode().splitlines()[1:] if line.strip())
        for d in DATASETS.values()
        if d.file in tiny_files
    }
    total = sum(counts.values())
    assert parse_bundle(tiny_files, limits=BundleLimits(bundle_rows=total)).frames  # exactly at the limit
    last = list(counts)[-1]
    with pytest.raises(InputError) as caught:
        parse_bundle(tiny_files, limits=BundleLimits(bundle_rows=total - 1))
    assert [str(p) for p in caught.value.problems] == [
        f"{last}: expected at most {total - 1} data rows in all CSV files together, got more with this file's"
    ]
    assert LIMITS.bundle_rows < sum(LIMITS.rows_for(d.file) for d in DATASETS.values())


def test_a_zip_larger_on_disk_than_a_bundle_can_be_is_refused_before_it_is_opened(tmp_path: Path) -> None:
    limits = BundleLimits(bundle_bytes=4000, files=2)
    archive = _zip(tmp_path / "fat.zip", {"program.yaml": os.urandom(3000)})  # random bytes do not compress
    assert read_bundle_files(str(archive), limits=limits)  # within 4000 + 2 x 1024 bytes of headers
    archive = _zip(tmp_path / "fat.zip", {"program.yaml": os.urandom(6500)})
    size = archive.stat().st_size
    with pytest.raises(InputError) as caught:
        read_bundle_files(str(archive), limits=limits)
    assert [str(p) for p in caught.value.problems] == [
        f"fat.zip: expected a .zip of at most {4000 + 2 * 1024} bytes, got {size}"
    ]
