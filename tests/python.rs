//! The Python module's own suite (python/tests, pytest) from `cargo test`: the package is
//! built with pip into a virtual environment under target/, as a user would install it
//! (`pip install ./python`), and pytest runs against the elman binary built for these
//! tests. Without python3 (or its venv module, or a registry to fetch maturin, numpy and
//! pytest from) it skips, saying why; `ELMAN_REQUIRE_PYTHON=1` (set by .ci/run) turns the
//! skip into a failure.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Skips with a printed reason, or fails when the Python tests are required.
fn skip(why: &str) {
    if std::env::var("ELMAN_REQUIRE_PYTHON").as_deref() == Ok("1") {
        panic!("{why} — ELMAN_REQUIRE_PYTHON=1 makes this a failure");
    }
    eprintln!("skipping the Python module's tests: {why}");
}

/// Runs `command`, returning its combined output, or the output as the error.
fn run(command: &mut Command) -> Result<String, String> {
    let shown = format!("{command:?}");
    let out = command.output().map_err(|e| format!("cannot run {shown}: {e}"))?;
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if out.status.success() {
        Ok(text)
    } else {
        Err(format!("{shown} failed ({}):\n{text}", out.status))
    }
}

#[test]
fn the_python_module_passes_its_pytest_suite() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var("ELMAN_PYTHON").unwrap_or_else(|_| "python3".into());
    if let Err(e) = run(Command::new(&python).arg("--version")) {
        return skip(&format!("no Python interpreter ({e})"));
    }
    // target/tmp holds the environment between runs. The module builds in the tests'
    // own target folder (cargo has released it by the time tests run), so that it reuses
    // the crates already compiled for them.
    let scratch = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let target = scratch.parent().expect("CARGO_TARGET_TMPDIR lies inside the target folder").to_path_buf();
    let venv = scratch.join("python-venv");
    let venv_python = venv.join("bin").join("python");
    if !venv_python.exists() {
        if let Err(e) = run(Command::new(&python).args(["-m", "venv"]).arg(&venv)) {
            return skip(&format!("cannot make a virtual environment: {e}"));
        }
    }
    let install = run(Command::new(&venv_python)
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check"])
        .arg(format!("{}[test]", repo.join("python").display()))
        .env("CARGO_TARGET_DIR", &target));
    if let Err(e) = install {
        // A build error is a failure; a registry out of reach is a skip.
        if e.contains("error[E") || e.contains("error: could not compile") {
            panic!("the Python module does not build:\n{e}");
        }
        return skip(&format!("cannot install the module and its test dependencies: {e}"));
    }
    let tests = run(Command::new(&venv_python)
        .args(["-m", "pytest", "-q", "-p", "no:cacheprovider"])
        .arg(repo.join("python").join("tests"))
        .env("ELMAN_BIN", env!("CARGO_BIN_EXE_elman"))
        .current_dir(repo));
    match tests {
        Ok(out) => println!("{out}"),
        Err(e) => panic!("the Python module's tests failed:\n{e}"),
    }
}
