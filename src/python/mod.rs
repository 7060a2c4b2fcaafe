//! The PyO3 layer: `netcore._netcore`. Conversion only; every behaviour lives in the core.

mod client;
mod errors;
mod resolve;

use pyo3::prelude::*;

/// Runs the `netcore` command line (for `python -m netcore`); returns its exit code.
#[pyfunction]
fn cli_main(py: Python<'_>, argv: Vec<String>) -> i32 {
    py.detach(|| crate::cli::main(argv))
}

#[pymodule]
fn _netcore(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", crate::VERSION)?;
    m.add_function(wrap_pyfunction!(cli_main, m)?)?;
    resolve::register(m)?;
    client::register(m)?;
    Ok(())
}
